"""Helpers for the notebooks' test cells: one readable verdict, never a traceback.

A failing check raises :class:`GradingFailure`, an ``AssertionError`` that Jupyter
shows as its message alone (``_render_traceback_``), so a student reads which
quantity, which entry, their value, the expected value and the likely bug, without
library internals around it.  nbgrader still sees an error and scores the cell 0.

Checks never write to stderr: floating-point warnings raised by student code while a
check runs are silenced (stderr output would zero the cell in nbgrader).
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import io
import os
import sys
import time
import warnings

import numpy as np

from .checks.catalogue import likely
from .gradcheck import RTOL, TOLERANCE_POLICY

__all__ = [
    "GradingFailure",
    "StudentError",
    "TimeBudgetExceeded",
    "call",
    "call_each",
    "call_timed",
    "calls_through",
    "binding",
    "library_calls",
    "library_path",
    "replacing",
    "check_close",
    "collecting_flags",
    "flag",
    "strict_floats",
    "as_numbers",
    "check_shape",
    "passed",
    "policy_note",
    "quiet",
    "reset_notes",
]


class GradingFailure(AssertionError):
    """A failed check, displayed by IPython as its message without a traceback."""

    def _render_traceback_(self):
        lines = str(self).splitlines() or ["check failed"]
        return ["✗ " + lines[0], *("  " + line for line in lines[1:])]


@contextlib.contextmanager
def quiet():
    """Silence numpy floating-point warnings and Python warnings inside a check."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


_STRICT = contextvars.ContextVar("backprop_strict_floats", default=False)


@contextlib.contextmanager
def strict_floats():
    """A context in which the student's code that a check calls has floating-point
    problems (overflow, invalid, division by zero) raised as errors, not silenced: a check
    of numerical stability (notebook 03's softmax) judges them."""
    token = _STRICT.set(True)
    try:
        yield
    finally:
        _STRICT.reset(token)


def is_strict():
    """True inside :func:`strict_floats`."""
    return _STRICT.get()


@contextlib.contextmanager
def _floating():
    """How a call of student code treats floating-point problems (see strict_floats)."""
    if not _STRICT.get():
        with quiet():
            yield
        return
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            yield


_FLAGS = contextvars.ContextVar("backprop_review_flags", default=None)


def flag(reason):
    """Ask for the instructor's review of this submission, with `reason` (one sentence).

    When grading, the grader collects these per notebook: the submission is marked
    "needs manual grade" and the summary and report name the reason.  In the student's
    JupyterLab the check's own message says what it found; nothing else happens.
    """
    flags = _FLAGS.get()
    if flags is not None and reason not in flags:
        flags.append(str(reason))


@contextlib.contextmanager
def collecting_flags(flags):
    """A context whose :func:`flag` calls append to the list `flags` (the grader's)."""
    token = _FLAGS.set(flags)
    try:
        yield flags
    finally:
        _FLAGS.reset(token)


def passed(text):
    """Print a one-line success note (stdout, which nbgrader ignores)."""
    print("✓ " + text)


# --------------------------------------------------------------------------- calling student code
#
# Every call into student code goes through call / call_each / call_timed, and through the
# backend of the current context (calls_through).  In the student's JupyterLab (and under
# plain `nbgrader autograde`) that is LOCAL: the student's functions live in this process
# and are called directly.  Under `backprop-grade grade` the test cells run in the grader's
# own process, outside the sandboxed kernel, and the student's names are handles
# (autograder.remote): the grader's backend sends their calls into the kernel and gets
# plain data back.  Checks therefore treat what student code returns as data (numbers,
# strings, ndarrays, lists/tuples/dicts of those, or opaque handles to pass back), and
# reach the student's namespace and the course library only through binding, replacing
# and library_calls, which both backends implement.


class StudentError(Exception):
    """An exception raised inside student code, as plain data.

    Attributes
    ----------
    type_name : str
        E.g. "ValueError".
    message : str
        ``str(exception)``.
    frames : list of (str, int, str, str)
        The student's own frames, innermost last: (where, line number, function, code
        line); ``where`` is "In [7]" for a notebook cell when it is known.
    """

    #: True when the call was stopped for running past its budget.
    timed_out = False

    def __init__(self, type_name, message, frames=()):
        super().__init__(f"{type_name}: {message}")
        self.type_name = type_name
        self.message = message
        self.frames = [tuple(f) for f in frames]

    @classmethod
    def from_exception(cls, exc):
        return cls(type(exc).__name__, str(exc), student_frames(exc.__traceback__))

    def describe(self, name):
        """What a test cell shows: the exception, then the student's failing line.

        E.g.::

            forward raised ValueError: operands could not be broadcast together ...
              at line 6 of In [7], in forward:
                  z.append(params[f"W{m}"] @ a[m] + params[f"b{m}"])
        """
        if self.type_name == "NotImplementedError":
            return f"{name} is not implemented yet (it raises NotImplementedError)."
        text = f"{name} raised {self.type_name}"
        if self.message:
            text += f": {self.message}"
        if self.frames:
            where, lineno, func, line = self.frames[-1]
            place = f"line {lineno} of {where}" if where else f"line {lineno}"
            if func and func != "<module>":
                place += f", in {func}"
            text += f"\n  at {place}" + (f":\n      {line.strip()}" if line else "")
        return text


def _cell_names():
    """Notebook cell file names -> "In [n]", from IPython's compiler (when in IPython)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None:
        return {}
    mapping = getattr(getattr(shell, "compile", None), "_filename_map", None) or {}
    return {fname: f"In [{count}]" for fname, count in mapping.items()}


def _library_dirs():
    import os
    import sysconfig

    dirs = {os.path.dirname(os.path.abspath(__file__))}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            dirs.add(os.path.abspath(path))
    dirs.add(os.path.abspath(sys.prefix))
    dirs.add(os.path.abspath(sys.base_prefix))
    return tuple(dirs)


def student_frames(tb, limit=3):
    """The frames of traceback `tb` that belong to the student's code.

    A frame is the student's when its file is a notebook cell (IPython's compiler knows
    it) or lies outside the course library, the standard library and site-packages.

    Returns
    -------
    list of (str, int, str, str)
        (where, line number, function name, source line), at most `limit`, innermost last.
    """
    import os
    import traceback

    cells = _cell_names()
    libs = _library_dirs()
    frames = []
    for fs in traceback.extract_tb(tb):
        fname = fs.filename
        if fname in cells:
            where = cells[fname]
        elif fname.startswith("<") or os.path.abspath(fname).startswith(libs):
            continue
        else:
            where = os.path.basename(fname)
        frames.append((where, fs.lineno or 0, fs.name, fs.line or ""))
    return frames[-limit:]


class _Overtime(BaseException):
    """Raised by the alarm inside a timed call (a BaseException: `except Exception` in
    student code does not swallow it)."""


@contextlib.contextmanager
def _captured_output():
    """Send stdout, stderr and logging's stderr handlers to one buffer for a while.

    Student code that prints to stderr (``print(..., file=sys.stderr)``, ``logging``,
    a progress bar) must never reach the notebook's stderr: nbgrader scores a test cell
    that writes there 0.  What was captured is shown on stdout instead (:func:`_echo`).
    """
    import logging
    import sys

    out = io.StringIO()
    targets = {id(sys.stderr), id(sys.__stderr__)}
    moved = []
    loggers = [logging.getLogger()] + [
        lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler) and id(handler.stream) in targets:
                moved.append((handler, handler.stream))
                handler.stream = out
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            yield out
    finally:
        for handler, stream in moved:
            handler.stream = stream


class _Local:
    """Student code in this very process: call it, capture what it prints.

    The backend of the student's JupyterLab (and of plain ``nbgrader autograde``).
    """

    def run(self, fn, args, kwargs):
        """(value, printed text); a student exception becomes StudentError."""
        with _captured_output() as out:
            try:
                with _floating():
                    value = fn(*args, **kwargs)
            except (GradingFailure, KeyboardInterrupt):
                raise
            except Exception as exc:  # noqa: BLE001 - any student error becomes data
                error = StudentError.from_exception(exc)
                error.printed = out.getvalue()
                raise error from None
        return value, out.getvalue()

    def call(self, fn, args, kwargs, in_place=False):
        try:
            value, printed = self.run(fn, args, kwargs)
        except StudentError as exc:
            _echo(exc.printed)
            raise
        _echo(printed)
        return value

    def call_each(self, fn, argsets, in_place=False):
        values, printed = [], []
        try:
            for args, kwargs in argsets:
                value, text = self.run(fn, args, kwargs)
                values.append(value)
                printed.append(text)
        except StudentError as exc:
            printed.append(exc.printed)
            _echo_repeated(printed)
            raise
        _echo_repeated(printed)
        return values

    def call_timed(self, fn, args, kwargs, budget, in_place=False):
        import signal
        import threading

        alarm = (
            budget is not None
            and budget > 0
            and hasattr(signal, "setitimer")
            and threading.current_thread() is threading.main_thread()
        )
        previous = None
        if alarm:

            def on_alarm(signum, frame):
                raise _Overtime()

            previous = signal.signal(signal.SIGALRM, on_alarm)
            signal.setitimer(signal.ITIMER_REAL, float(budget))
        start = time.perf_counter()
        try:
            try:
                value = self.call(fn, args, kwargs)
            finally:
                if alarm:
                    signal.setitimer(signal.ITIMER_REAL, 0.0)
        except _Overtime:
            raise TimeBudgetExceeded(
                f"{_name_of(fn, None)} was stopped after {time.perf_counter() - start:.2f} s "
                f"(its budget is {budget:g} s)."
            ) from None
        finally:
            if alarm:
                signal.signal(signal.SIGALRM, previous)
        return value, time.perf_counter() - start

    def private(self, fn, args, kwargs):
        """Copies of the plain data in the arguments (see :func:`_private`)."""
        return _private(args), _private(kwargs)

    @contextlib.contextmanager
    def bind(self, fn, name, value):
        """``fn``'s global `name` is `value` (a check's function) for a while."""
        namespace = getattr(fn, "__globals__", None)
        if not isinstance(namespace, dict):
            yield
            return
        missing = object()
        saved = namespace.get(name, missing)
        namespace[name] = granted(value)
        try:
            yield
        finally:
            if saved is missing:
                namespace.pop(name, None)
            else:
                namespace[name] = saved

    @contextlib.contextmanager
    def replacing(self, path, replacement, fn=None):
        """The course function `path` is `replacement` for a while: as an attribute of
        its module, and where `fn`'s globals hold it under its own name."""
        import importlib

        module_name, _, attr = path.rpartition(".")
        module = importlib.import_module(module_name)
        original = getattr(module, attr)
        namespace = getattr(fn, "__globals__", None) if fn is not None else None
        aliases = []
        if isinstance(namespace, dict):
            aliases = [k for k, v in namespace.items() if v is original]
        setattr(module, attr, replacement)
        for k in aliases:
            namespace[k] = replacement
        try:
            yield
        finally:
            setattr(module, attr, original)
            for k in aliases:
                if namespace.get(k) is replacement:
                    namespace[k] = original

    @contextlib.contextmanager
    def recording(self):
        """The paths of the course library's public functions that the student's code
        calls meanwhile (a profile hook; calls inside the library are not counted)."""
        found = set()
        here = _COURSE_DIR
        previous = sys.getprofile()

        def profile(frame, event, arg):
            if event != "call":
                return
            code = frame.f_code
            if not code.co_filename.startswith(here) or code in _GRANTED_CODES:
                return
            caller = frame.f_back
            if caller is not None and caller.f_code.co_filename.startswith(here):
                return  # inside the library (or what a check handed over: granted)
            module = frame.f_globals.get("__name__", "")
            fn = getattr(sys.modules.get(module), code.co_name, None)
            if getattr(fn, "__code__", None) is code:
                found.add(f"{module}.{code.co_name}")

        sys.setprofile(profile)
        try:
            yield found
        finally:
            sys.setprofile(previous)


LOCAL = _Local()
_COURSE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_BACKEND = contextvars.ContextVar("backprop_call_backend", default=LOCAL)


def granted(fn):
    """`fn` as a check hands it to student code: calls of it are not the student's own use
    of the library (:meth:`_Local.recording` does not count them)."""

    def check_provided(*args, **kwargs):
        return fn(*args, **kwargs)

    check_provided.__name__ = getattr(fn, "__name__", "check_provided")
    return check_provided


_GRANTED_CODES = {granted(print).__code__}


@contextlib.contextmanager
def calls_through(backend):
    """Send this context's calls of student code through `backend` (the one public seam).

    Parameters
    ----------
    backend : object
        With ``call``, ``call_each``, ``call_timed``, ``private``, ``bind``,
        ``replacing`` and ``recording`` as :data:`LOCAL` has them; the grader's is
        ``autograder.remote.SessionBackend``.
    """
    token = _BACKEND.set(backend)
    try:
        yield backend
    finally:
        _BACKEND.reset(token)


def backend():
    """The backend of the current context (:data:`LOCAL` unless :func:`calls_through`)."""
    return _BACKEND.get()


def binding(fn, name, value):
    """A context in which the student's function `fn` sees its global `name` as `value`
    (a check's reference, so that a function is judged apart from a wrong helper it
    calls).  The student's own value is put back afterwards."""
    return _BACKEND.get().bind(fn, name, value)


def replacing(path, replacement, fn=None):
    """A context in which the student's code calling course function `path` (e.g.
    ``"course.network.loss_and_grads"``) gets `replacement` (a check's spy)."""
    return _BACKEND.get().replacing(path, replacement, fn)


def library_calls():
    """A context that collects the course functions the student's code calls meanwhile
    (their ``module.name`` paths), to tell the library's answer from the student's."""
    return _BACKEND.get().recording()


def library_path(obj):
    """``module.name`` when `obj` itself is a public function or class of the course (a
    student's name bound to the library: ``from course.losses import softmax``), else
    None.  When grading, such a name arrives from the kernel as the grader's own function."""
    module = getattr(obj, "__module__", None)
    name = getattr(obj, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(name, str):
        return None
    if not (module == "course" or module.startswith("course.")) or "<" in name:
        return None
    found = sys.modules.get(module)
    for part in name.split("."):
        found = getattr(found, part, None)
    return f"{module}.{name}" if found is obj else None


#: Printed student output is shown up to this many characters per call.
ECHO_LIMIT = 2000


def _echo(text):
    """Show what the student's code printed (stdout and stderr alike) on stdout."""
    if text:
        if len(text) > ECHO_LIMIT:
            text = text[:ECHO_LIMIT] + f"\n[... {len(text) - ECHO_LIMIT} more characters]\n"
        print(text, end="" if text.endswith("\n") else "\n")


def _echo_repeated(texts):
    """Echo the output of a batch of calls once, saying how often it was printed."""
    printed = [t for t in texts if t]
    if not printed:
        return
    _echo(printed[0])
    if len(printed) > 1:
        print(
            f"[... printed {len(printed) - 1} more times while the checker called your "
            "function at nearby points]"
        )


def _private(value, depth=0):
    """A copy of the plain data in `value`: arrays, random generators, and dicts, lists and
    tuples of them; anything else (the student's objects, callables) is passed as it is."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, np.random.Generator):
        return copy.deepcopy(value)
    if depth < 32:
        if type(value) is dict:
            return {k: _private(v, depth + 1) for k, v in value.items()}
        if type(value) in (list, tuple):
            return type(value)(_private(v, depth + 1) for v in value)
    return value


def _dispatch(fn, args, kwargs, in_place):
    """The backend for a call, and its arguments: private copies unless `in_place`.

    A check's data stays the check's: what the student's function does to its arguments
    reaches them only where the check asks for it (``in_place=True``, to see an update
    in place or a random generator advance).  The kernel's copies are never written back
    otherwise, so a function cannot change the data a check then computes its reference
    from; in the student's own kernel the copies make the same true.
    """
    backend = _BACKEND.get()
    if not in_place:
        args, kwargs = backend.private(fn, args, kwargs)
    return backend, args, kwargs


def _name_of(fn, what):
    return what or getattr(fn, "__name__", None) or "your function"


def _failure(exc, fn, what):
    """The GradingFailure for a StudentError, keeping the error for checks that look."""
    failure = GradingFailure(exc.describe(_name_of(fn, what)))
    failure.student_error = exc
    return failure


def call(fn, *args, what=None, in_place=False, **kwargs):
    """Call a student's function; its exceptions become a clear GradingFailure.

    Parameters
    ----------
    fn : callable
        The student's function (or a course function driving student objects).
    *args, **kwargs
        Passed to `fn`: copies of their plain data (arrays, generators, and dicts, lists
        and tuples of them), in the student's kernel when grading.
    what : str, optional
        How to name the call in messages (default: ``fn.__name__``).
    in_place : bool
        Pass the arguments themselves (here) or copy the function's changes to them back
        (when grading), for a check that looks at an update in place or at how far a
        random generator advanced.  Never for data a reference is computed from.

    Returns
    -------
    What `fn` returns: plain data when grading (see autograder.remote).

    Raises
    ------
    GradingFailure
        When `fn` raises; its ``student_error`` attribute holds the StudentError.
    """
    backend, args, kwargs = _dispatch(fn, args, kwargs, in_place)
    try:
        return backend.call(fn, args, kwargs, in_place)
    except StudentError as exc:
        raise _failure(exc, fn, what) from None


def call_each(fn, argsets, *, what=None, in_place=False):
    """``[fn(*args, **kwargs) for args, kwargs in argsets]``, in one round trip when grading.

    Use it for finite differences: one batch per gradient check.

    Parameters
    ----------
    fn : callable
    argsets : list of (tuple, dict)
    what : str, optional

    Returns
    -------
    list
    """
    argsets = [(tuple(a), dict(k)) for a, k in argsets]
    if not argsets:
        return []
    backend = _BACKEND.get()
    if not in_place:
        argsets = [backend.private(fn, a, k) for a, k in argsets]
    try:
        return backend.call_each(fn, argsets, in_place)
    except StudentError as exc:
        raise _failure(exc, fn, what) from None


class TimeBudgetExceeded(GradingFailure):
    """A timed call ran past its budget and was stopped."""


def call_timed(fn, *args, budget, what=None, in_place=False, **kwargs):
    """Call `fn` and measure its wall-clock time, from outside the student's code.

    Parameters
    ----------
    fn : callable
    budget : float
        Seconds.  A call still running after this long is stopped and
        TimeBudgetExceeded is raised (when grading by the grader; in-process by an
        alarm signal when called from the main thread, else it runs to the end and
        the caller compares the time).
    what : str, optional

    Returns
    -------
    value, seconds : object, float
    """
    backend, args, kwargs = _dispatch(fn, args, kwargs, in_place)
    try:
        value, seconds = backend.call_timed(fn, args, kwargs, budget, in_place)
    except StudentError as exc:
        if exc.timed_out:  # stopped by the grader (the remote session)
            raise TimeBudgetExceeded(exc.describe(_name_of(fn, what))) from None
        raise _failure(exc, fn, what) from None
    return value, seconds


def as_numbers(name, value, shape=None, *, describe=None):
    """`value` as a float64 array, after naming None, a non-numeric value or a wrong shape.

    Parameters
    ----------
    name : str
        What the value is, as the student knows it.
    value : object
    shape : tuple, optional
        Required shape; a transposed matrix or a flat column is named as such.
    describe : callable, optional
        Says what a non-numeric `value` is (default: its type's name).

    Raises
    ------
    GradingFailure
    """
    if value is None:
        raise GradingFailure(f"{name} is None: return (or assign) a number or an array.")
    if shape is not None and isinstance(value, np.ndarray) and value.shape != tuple(shape):
        # judged before anything is converted: a huge array of the wrong shape costs nothing
        _wrong_shape(name, value.shape, shape)
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        got = describe(value) if describe else type(value).__name__
        raise GradingFailure(
            f"{name} must be a number or an array of numbers, got {got}."
        ) from None
    if shape is not None and arr.shape != tuple(shape):
        _wrong_shape(name, arr.shape, shape)
    return arr


def _wrong_shape(name, got, shape):
    hint = ""
    if len(got) == 2 and got == tuple(shape)[::-1]:
        hint = " (it looks transposed)"
    elif len(got) == 1 and len(shape) == 2 and got[0] == int(np.prod(shape)):
        hint = " (a column needs two dimensions: keepdims=True or reshape)"
    raise GradingFailure(f"{name} has shape {got}, expected {tuple(shape)}{hint}.")


def check_shape(name, value, shape):
    """Fail unless `value` is numeric with exactly `shape`."""
    return as_numbers(name, value, shape)


def check_close(name, yours, expected, *, rtol=1e-6, atol=1e-9, reveal=True, hint=None):
    """Fail unless `yours` equals `expected` within rtol·|expected| + atol per entry.

    Parameters
    ----------
    name : str
        What the value is, as the student knows it (e.g. "dfdy").
    yours, expected : float or array_like
    rtol, atol : float
    reveal : bool
        Show the expected value in the message (False for hand numbers and hidden tests).
    hint : str, optional
        Added to the message on failure.
    """
    expected = np.asarray(expected, dtype=np.float64)
    arr = check_shape(name, yours, expected.shape)
    with quiet():
        bad = ~(np.abs(arr - expected) <= rtol * np.abs(expected) + atol)
    if not bad.any():
        return arr
    idx = np.unravel_index(int(np.argmax(bad)), bad.shape) if bad.ndim else ()
    where = f" at entry {list(map(int, idx))}" if bad.ndim else ""
    text = f"{name} is wrong{where}: yours {float(arr[idx]):.6g}"
    text += f", expected {float(expected[idx]):.6g}." if reveal else "."
    if bad.ndim and bad.sum() > 1:
        text += f" ({int(bad.sum())} of {bad.size} entries differ.)"
    if hint is None and np.any(expected != 0):
        with quiet():
            flipped = np.all(np.abs(arr + expected) <= rtol * np.abs(expected) + atol)
        if flipped:
            hint = likely("kit.value-sign")
    if hint:
        text += "\n" + hint
    raise GradingFailure(text)


#: Quoted by notebooks when they explain what "matches" means.
POLICY = TOLERANCE_POLICY
DEFAULT_RTOL = RTOL

_NOTES = set()


def reset_notes():
    """A new notebook starts: notes shown once per notebook are due again.

    The student's kernel starts fresh for each notebook; a grader that runs the test
    cells of several notebooks in one process calls this before each notebook.
    """
    _NOTES.clear()


def policy_note():
    """The tolerance policy, appended to the first gradient failure of a notebook only."""
    if "policy" in _NOTES:
        return ""
    _NOTES.add("policy")
    return f"\n(Gradient checks: {POLICY}.)"
