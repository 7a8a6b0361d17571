"""Student objects in the sandboxed grading kernel, as the grader's own process sees them.

Under ``backprop-grade grade`` the test cells run in the grader (the trusted side), not
in the student's kernel.  A name the student defined arrives here as plain data (a
number, an array, a dict of arrays) or, for anything else (a function, a cache
object), as a :class:`Handle`.  :func:`course.grading.call` (and ``call_each``,
``call_timed``) see a handle and send the call through the :class:`Session`: the
arguments go into the kernel, the student's function runs there, and plain data comes
back (:mod:`course._wire`).  In-place changes the function makes to its arguments are
copied back into the caller's objects, so a call behaves as it would in-process.
:mod:`course._kernel_agent` is the kernel's end.

Arguments that are not data travel as references the kernel can resolve: handles,
functions and classes of the ``course`` package (by import path), objects the
notebook's locked cells define (by name, e.g. 01's ``Node``), ``course`` dataclasses
(by their fields) and NumPy random generators (by their state).

In the student's JupyterLab no session is open and every call is an ordinary call.
"""

from __future__ import annotations

import dataclasses
import socket
import time

import numpy as np

from . import _wire
from .grading import StudentError, _echo

#: ``__name__`` of the namespace in which the grader re-creates a notebook's locked cells.
NOTEBOOK_MODULE = "__notebook__"

#: Seconds a request may take beyond its budget before the kernel counts as gone.
GRACE = 3.0

_SESSION = None


class RemoteObject:
    """An object that lives in the student's kernel."""


class Handle(RemoteObject):
    """A student object kept in the kernel (a function, a cache...): call it or pass it back."""

    def __init__(self, session, handle, type_name="object", name=None, is_callable=False):
        self._session = session
        self._handle = handle
        self._type_name = type_name
        self.__name__ = name or type_name
        self._is_callable = is_callable

    def __repr__(self):
        return f"<{self.__name__}: a {self._type_name} in the student's kernel>"

    def __call__(self, *args, **kwargs):
        return self._session.call(self, args, kwargs)


class KernelGone(StudentError):
    """The kernel stopped answering (crashed, killed, or its agent was disabled)."""

    def __init__(self, detail=""):
        super().__init__(
            "KernelGone",
            "your kernel stopped answering (it crashed, ran out of memory or time, or the "
            "code that answers the grader was disabled)" + (f": {detail}" if detail else ""),
        )


class CallTimedOut(StudentError):
    """A call ran past its budget and was stopped."""

    def __init__(self, seconds):
        super().__init__("TimeoutError", f"it did not finish within {seconds:.3g} s")
        self.seconds = seconds
        self.timed_out = True

    def describe(self, name):
        return f"{name} did not finish within {self.seconds:.3g} s and was stopped."


class Session:
    """The grader's connection to the agent of one sandboxed kernel.

    Parameters
    ----------
    path : str
        The agent's Unix socket, as the grader reaches it.
    call_timeout : float
        Default budget of one request, in seconds.
    """

    def __init__(self, path, call_timeout=60.0, connect_timeout=15.0):
        self.path = path
        self.call_timeout = float(call_timeout)
        self.deadline = None
        self.sock = None
        self.broken = ""
        #: Round trips made so far.
        self.requests = 0
        end = time.monotonic() + connect_timeout
        while True:
            try:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.connect(path)
                self.sock = sock
                return
            except OSError as exc:
                sock.close()
                if time.monotonic() > end:
                    self.broken = f"no agent at {path}: {exc}"
                    return
                time.sleep(0.02)

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    # -- the request loop ---------------------------------------------------------

    def _budget(self, budget=None):
        limit = self.call_timeout if budget is None else float(budget)
        if self.deadline is not None:
            limit = min(limit, max(0.05, self.deadline - time.monotonic()))
        return limit

    def _request(self, header, blobs=(), budget=None):
        if self.sock is None or self.broken:
            raise KernelGone(self.broken)
        limit = self._budget(budget)
        header = {**header, "budget": limit}
        self.requests += 1
        try:
            self.sock.settimeout(limit + GRACE)
            self.sock.sendall(_wire.pack(header, blobs))
            reply, reply_blobs = _wire.recv(self.sock)
        except TimeoutError:
            self.broken = f"no answer within {limit + GRACE:.3g} s"
        except (OSError, ConnectionError, _wire.WireError) as exc:
            self.broken = f"{type(exc).__name__}: {exc}"
        if self.broken:
            self.close()
            raise KernelGone(self.broken)
        if "fault" in reply:
            raise StudentError("GradingError", f"the kernel could not run it: {reply['fault']}")
        return reply, reply_blobs

    def _value(self, reply, blobs):
        try:
            return _wire.decode(reply.get("value"), blobs, self._resolve)
        except _wire.WireError as exc:
            raise StudentError(
                "GradingError", f"the kernel sent something that is not data: {exc}"
            ) from None

    def _resolve(self, tag):
        handle = tag.get("$h")
        if type(handle) is not int or set(tag) - {"$h", "type", "name", "callable"}:
            raise _wire.WireError("malformed handle")
        name, type_name = tag.get("name"), tag.get("type")
        return Handle(
            self,
            handle,
            type_name if isinstance(type_name, str) else "object",
            name[:100] if isinstance(name, str) else None,
            tag.get("callable") is True,
        )

    # -- encoding what we send ----------------------------------------------------

    def _reference(self, obj):
        if isinstance(obj, Handle):
            if obj._session is not self:
                raise TypeError("a handle of another kernel")
            return {"$h": obj._handle}
        if isinstance(obj, np.random.Generator):
            bitgen = obj.bit_generator
            return {
                "$rng": {"bitgen": type(bitgen).__name__, "state": _wire.rng_state(bitgen.state)}
            }
        module = getattr(obj, "__module__", None) or ""
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            if module == "course" or module.startswith("course."):
                fields = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
                return {"$obj": {"m": module, "q": type(obj).__qualname__, "fields": fields}}
        name = getattr(obj, "__qualname__", None)
        if callable(obj) and isinstance(name, str):
            if module == NOTEBOOK_MODULE and "." not in name:
                return {"$g": name}
            if module == "course" or module.startswith("course."):
                return {"$m": module, "q": name}
        raise TypeError(f"{type(obj).__name__} {obj!r:.60} cannot be sent to the student's kernel")

    # -- what course.grading calls ------------------------------------------------

    def lookup(self, name):
        """The value of `name` in the student's namespace; KeyError when it is not there."""
        reply, blobs = self._request({"op": "get", "name": name})
        if reply.get("missing"):
            raise KeyError(name)
        return self._value(reply, blobs)

    def names(self):
        """Public names of the student's namespace."""
        reply, _ = self._request({"op": "names"})
        names = reply.get("names")
        return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []

    def _run(self, fn, argsets, budget=None, in_place=False):
        enc = _Encoder(self._reference)
        target = enc.encode(fn)
        sets = enc.encode([[list(args), dict(kwargs)] for args, kwargs in argsets])
        start = time.perf_counter()
        reply, reply_blobs = self._request(
            {"op": "map", "target": target, "argsets": sets, "in_place": in_place},
            enc.blobs,
            budget,
        )
        seconds = time.perf_counter() - start
        out = reply.get("out")
        _echo(out if isinstance(out, str) else "")
        if reply.get("timeout"):
            raise CallTimedOut(self._budget(budget))
        error = reply.get("error")
        if isinstance(error, dict):
            frames = error.get("frames") if isinstance(error.get("frames"), list) else []
            raise StudentError(
                str(error.get("type", "Error"))[:100],
                str(error.get("message", ""))[:2000],
                [tuple(f) for f in frames if isinstance(f, list) and len(f) == 4][-3:],
            )
        payload = self._value(reply, reply_blobs)
        if not isinstance(payload, dict) or not isinstance(payload.get("values"), list):
            raise StudentError("GradingError", "the kernel's answer has the wrong form")
        values, changes = payload["values"], payload.get("changes") or []
        if len(values) != len(argsets):
            raise StudentError("GradingError", "the kernel answered a different number of calls")
        if in_place:
            for (args, kwargs), found in zip(argsets, changes, strict=False):
                _apply_changes(args, kwargs, found)
        return values, seconds

    def call(self, fn, args, kwargs, in_place=False):
        return self._run(fn, [(tuple(args), dict(kwargs))], in_place=in_place)[0][0]

    def call_each(self, fn, argsets, in_place=False):
        return self._run(fn, argsets, in_place=in_place)[0]

    def call_timed(self, fn, args, kwargs, budget, in_place=False):
        values, seconds = self._run(fn, [(tuple(args), dict(kwargs))], budget, in_place)
        return values[0], seconds


class _Encoder(_wire._Encoder):
    """The wire encoder, with the two composite references only the grader sends."""

    def encode(self, value, depth=0):
        if isinstance(value, _wire.KeptTuple) and isinstance(value.handle, Handle):
            return self.reference(value.handle)  # the student's own namedtuple
        ref = None
        if isinstance(value, np.random.Generator) or (
            dataclasses.is_dataclass(value) and not isinstance(value, type)
        ):
            ref = self.reference(value)
        if ref is None:
            return super().encode(value, depth)
        body = ref.get("$obj")
        if body is not None:
            body = {**body, "fields": self.encode(body["fields"], depth + 1)}
            return {"$obj": body}
        return ref


def _apply_changes(args, kwargs, changes):
    """Mirror the kernel's in-place changes to the arguments in the caller's objects."""
    if not isinstance(changes, list):
        return
    for change in changes:
        try:
            path, op, value = change
            root = args[path[1]] if path[0] == "a" else kwargs[path[1]]
            keys = list(path[2:])
            if not keys:
                _apply_in_place(root, op, value)
                continue
            container = root
            for key in keys[:-1]:
                container = container[key]
            last = keys[-1]
            if op == "assign":
                container[last] = value
            elif op == "del":
                del container[last]
            else:
                _apply_in_place(container[last], op, value)
        except (TypeError, ValueError, KeyError, IndexError, AttributeError):
            continue  # a change that cannot be mirrored: the caller keeps its value


def _apply_in_place(target, op, value):
    if op == "set" and isinstance(target, np.ndarray) and isinstance(value, np.ndarray):
        if target.shape == value.shape:
            np.copyto(target, value, casting="unsafe")
    elif op == "replace" and isinstance(target, list) and isinstance(value, list):
        target[:] = value
    elif op == "rng" and isinstance(target, np.random.Generator) and isinstance(value, dict):
        target.bit_generator.state = _wire.rng_state_back(value)


def _involves_remote(fn, args, kwargs):
    if isinstance(fn, RemoteObject):
        return True
    stack = [*args, *kwargs.values()]
    while stack:
        item = stack.pop()
        if isinstance(item, RemoteObject):
            return True
        if isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
    return False


def open_session(session):
    """Make `session` the one course.grading sends remote calls through (None: close)."""
    global _SESSION
    _SESSION = session


def backend_for(fn, args, kwargs):
    """The remote backend when the call involves kernel objects, else None (call locally)."""
    if _SESSION is None or not _involves_remote(fn, args, kwargs):
        return None
    return _SESSION
