"""Time budgets: an exception raised in a thread whose work ran too long.

Both ends use them: the kernel's agent to stop a student's call, the grader to stop a
course function the kernel called.  CPython can raise an exception in another thread
(``PyThreadState_SetAsyncExc``); it arrives between two bytecodes of that thread, which
may be in the middle of sending a message (and so may the ``KeyboardInterrupt`` with
which a kernel is interrupted).  A message cut in two would put the conversation out of
step, so a conversation's own code runs as a :func:`critical` section, in which neither is
delivered: one due then arrives when the section ends.  The work a request asks for (the
student's code, a course function) runs :func:`interruptible` inside it.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import threading
import time

#: How soon a budget tries again when its thread was in a critical section.
RETRY = 0.02
#: How often a budget's exception is raised again until its work stops.
AGAIN = 0.5


class CallTimeout(BaseException):
    """Raised inside a call that ran past its budget (a BaseException: ``except
    Exception`` in student code does not swallow it)."""


def _set_async(thread_id, exc):
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc is not None else None
    )


class _Watchdog:
    """One thread for every :class:`Budget` of the process (a timer thread per request
    would cost more than the request itself)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.wake = threading.Condition(self.lock)
        self.armed = {}
        self.next_wake = None
        self.critical = {}
        self.pending = {}
        self.stash = {}
        self.thread = None

    def arm(self, budget, seconds):
        due = time.monotonic() + seconds
        with self.lock:
            self.armed[id(budget)] = (budget, due)
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, daemon=True, name="budgets")
                self.thread.start()
            if self.next_wake is None or due < self.next_wake:
                self.wake.notify()

    def disarm(self, budget):
        with self.lock:
            self.armed.pop(id(budget), None)
            if self.pending.get(budget.thread_id) is budget:
                del self.pending[budget.thread_id]
                _set_async(budget.thread_id, None)  # set but not yet raised: dropped
            if self.stash.get(budget.thread_id) is budget:
                del self.stash[budget.thread_id]

    def enter(self, thread_id):
        with self.lock:
            depth = self.critical.get(thread_id, 0)
            self.critical[thread_id] = depth + 1
            if depth == 0 and thread_id in self.pending:
                # due but perhaps not raised yet: not inside the critical section
                self.stash[thread_id] = self.pending.pop(thread_id)
                _set_async(thread_id, None)

    def leave(self, thread_id):
        with self.lock:
            depth = self.critical[thread_id] - 1
            if depth:
                self.critical[thread_id] = depth
                return None
            del self.critical[thread_id]
            budget = self.stash.pop(thread_id, None)
            if budget is not None and id(budget) in self.armed:
                budget.fired = True
                return budget.exc
        return None

    def _run(self):
        with self.lock:
            while True:
                now = time.monotonic()
                for budget, due in list(self.armed.values()):
                    if due > now:
                        continue
                    if budget.thread_id in self.critical:
                        self.armed[id(budget)] = (budget, now + RETRY)
                        continue
                    budget.fired = True
                    self.pending[budget.thread_id] = budget
                    _set_async(budget.thread_id, budget.exc)
                    self.armed[id(budget)] = (budget, now + AGAIN)
                self.next_wake = min((t for _, t in self.armed.values()), default=None)
                wait = 3600.0 if self.next_wake is None else self.next_wake - now
                self.wake.wait(max(0.001, wait))


_WATCHDOG = _Watchdog()


class Budget:
    """Raise `exc` in thread `thread_id` after `seconds`, again every 0.5 s until stopped.

    What is raised is a subclass of `exc` of this budget's own (:attr:`exc`), so that a
    call nested in another one tells its own timeout from the outer call's.
    """

    def __init__(self, thread_id, seconds, exc=CallTimeout):
        self.thread_id = thread_id
        self.exc = type(exc.__name__, (exc,), {})
        self.fired = False
        self.active = seconds is not None and seconds > 0
        if self.active:
            _WATCHDOG.arm(self, seconds)

    def stop(self):
        if self.active:
            _WATCHDOG.disarm(self)


class _Interrupts:
    """A Ctrl-C (SIGINT) of the main thread held back during a critical section."""

    def __init__(self):
        self.depth = 0
        self.saved = None
        self.held = False

    def _hold(self, signum, frame):
        self.held = True

    def enter(self):
        if threading.current_thread() is not threading.main_thread():
            return
        self.depth += 1
        if self.depth == 1:
            try:
                self.saved = signal.signal(signal.SIGINT, self._hold)
            except (ValueError, TypeError):
                self.saved = None

    def leave(self):
        if threading.current_thread() is not threading.main_thread():
            return False
        self.depth -= 1
        if self.depth == 0 and self.saved is not None:
            signal.signal(signal.SIGINT, self.saved)
            self.saved = None
            held, self.held = self.held, False
            return held
        return False


_INTERRUPTS = _Interrupts()


@contextlib.contextmanager
def critical():
    """A stretch of this thread in which no budget's exception and no Ctrl-C arrives
    (they come when it ends)."""
    tid = threading.get_ident()
    _WATCHDOG.enter(tid)
    _INTERRUPTS.enter()
    try:
        yield
    finally:
        held = _INTERRUPTS.leave()
        exc = _WATCHDOG.leave(tid)
    if exc is not None:
        raise exc()
    if held:
        raise KeyboardInterrupt


@contextlib.contextmanager
def interruptible():
    """Inside a critical section: a stretch that budgets and Ctrl-C may interrupt again
    (the work a request asks for)."""
    tid = threading.get_ident()
    with _WATCHDOG.lock:
        depth = _WATCHDOG.critical.pop(tid, 0)
        stashed = _WATCHDOG.stash.pop(tid, None)
        if stashed is not None and id(stashed) in _WATCHDOG.armed:
            _WATCHDOG.pending[tid] = stashed
            _set_async(tid, stashed.exc)  # due: it arrives now
    main = threading.current_thread() is threading.main_thread()
    saved_depth, saved_handler = _INTERRUPTS.depth, _INTERRUPTS.saved
    if main and saved_handler is not None:
        signal.signal(signal.SIGINT, saved_handler)
        _INTERRUPTS.depth, _INTERRUPTS.saved = 0, None
        if _INTERRUPTS.held:
            _INTERRUPTS.held = False
            signal.raise_signal(signal.SIGINT)
    try:
        yield
    finally:
        if main and saved_handler is not None:
            _INTERRUPTS.depth = saved_depth
            _INTERRUPTS.saved = signal.signal(signal.SIGINT, _INTERRUPTS._hold)
        if depth:
            with _WATCHDOG.lock:
                _WATCHDOG.critical[tid] = depth
                if tid in _WATCHDOG.pending:
                    _WATCHDOG.stash[tid] = _WATCHDOG.pending.pop(tid)
                    _set_async(tid, None)
