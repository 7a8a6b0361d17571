"""A stand-in for the grader's channel to the student's kernel, in this process.

Under ``backprop-grade grade`` every name a student defines is a
:class:`course.remote.RemoteObject` in the grader, and :func:`course.grading.call` sends
arguments in and gets plain data back.  :class:`Session` does the same here, with the
same rules, so that tests can show the checks obey them:

- arguments are copied in (a pickle round trip); in-place changes the student's function
  makes to argument arrays, dicts and lists are copied back into the caller's objects
  only for a call with ``in_place=True``;
- what comes back is plain data (numbers, str, None, bool, numpy arrays with their dtype,
  numpy scalars, lists/tuples/dicts of those), copied; anything else stays behind as an
  opaque :class:`Handle`, which can only be passed back into another call.

A check that reads an attribute of a returned object, calls a method on it, or relies on
object identity fails under this double.
"""

from __future__ import annotations

import contextlib
import pickle

import numpy as np

from course import grading, remote


class Handle(remote.RemoteObject):
    """An object that stays "in the kernel"; only its type name is visible."""

    __slots__ = ("_target",)

    def __init__(self, target):
        object.__setattr__(self, "_target", target)

    def __repr__(self):
        return f"<remote {type(self._target).__name__}>"

    def __getattr__(self, name):
        raise AttributeError(f"a remote object has no attribute {name!r} on the grader's side")

    def __call__(self, *args, **kwargs):
        raise TypeError("a remote function is called through course.grading.call")


def _is_data(value):
    if value is None or isinstance(value, bool | int | float | str | np.ndarray | np.generic):
        return not (isinstance(value, np.ndarray) and value.dtype.kind == "O")
    if isinstance(value, list | tuple):
        return all(_is_data(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_data(v) for k, v in value.items())
    return False


def _out(value):
    """What the grader receives: a copy of plain data, else handles (element-wise)."""
    if _is_data(value):
        return pickle.loads(pickle.dumps(value))
    if isinstance(value, list | tuple) and not isinstance(value, Handle):
        return (
            type(value)(_out(v) for v in value) if type(value) in (list, tuple) else Handle(value)
        )
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _out(v) for k, v in value.items()}
    return Handle(value)


def _in(value):
    """The kernel's copy of an argument: handles unwrapped, everything else copied."""
    if isinstance(value, Handle):
        return value._target
    if isinstance(value, list | tuple) and type(value) in (list, tuple):
        return type(value)(_in(v) for v in value)
    if isinstance(value, dict):
        return {k: _in(v) for k, v in value.items()}
    return pickle.loads(pickle.dumps(value))


def _copy_back(caller, kernel):
    """Copy in-place changes of an argument back into the caller's object."""
    if isinstance(caller, np.ndarray) and isinstance(kernel, np.ndarray):
        if caller.shape == kernel.shape and caller.flags.writeable:
            np.copyto(caller, kernel, casting="unsafe")
    elif isinstance(caller, dict) and isinstance(kernel, dict):
        for k in list(caller):
            if k not in kernel:
                del caller[k]
        for k, v in kernel.items():
            if k in caller and not isinstance(caller[k], Handle):
                _copy_back(caller[k], v)
                if not isinstance(caller[k], np.ndarray | dict | list):
                    caller[k] = _out(v)
            else:
                caller[k] = _out(v)
    elif isinstance(caller, list) and isinstance(kernel, list):
        caller[:] = [_out(v) for v in kernel]


class Session:
    """The backend :func:`course.remote.backend_for` returns while the double is on."""

    def __init__(self):
        self.calls = 0
        self.local = grading._Local()

    def _run(self, fn, args, kwargs, in_place=False):
        self.calls += 1
        kfn = _in(fn) if isinstance(fn, Handle) else fn
        kargs, kkwargs = [_in(a) for a in args], {k: _in(v) for k, v in kwargs.items()}
        try:
            value, printed = self.local.run(kfn, kargs, kkwargs)
        except grading.StudentError as exc:
            grading._echo(exc.printed)
            raise
        grading._echo(printed)
        if in_place:
            for a, ka in zip(args, kargs, strict=True):
                _copy_back(a, ka)
            for k, v in kwargs.items():
                _copy_back(v, kkwargs[k])
        return _out(value)

    def call(self, fn, args, kwargs, in_place=False):
        return self._run(fn, args, kwargs, in_place)

    def call_each(self, fn, argsets, in_place=False):
        return [self._run(fn, a, k, in_place) for a, k in argsets]

    def call_timed(self, fn, args, kwargs, budget, in_place=False):
        """Timed from outside and stopped at the budget, as the grader does."""
        return self.local.call_timed(self._run, (fn, args, kwargs, in_place), {}, budget)


@contextlib.contextmanager
def session():
    """Route every call that involves a :class:`Handle` through a :class:`Session`."""
    double = Session()
    previous, remote._SESSION = remote._SESSION, double
    try:
        yield double
    finally:
        remote._SESSION = previous


def wrap(value):
    """A student's value as the grader sees it: every name the student defines is remote,
    numbers included."""
    return Handle(value)
