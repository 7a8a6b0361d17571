"""Student objects in the sandboxed grading kernel, as the grader's own process sees them.

Under ``backprop-grade grade`` the test cells run in the grader (the trusted side), not
in the student's kernel.  A name the student defined becomes a :class:`RemoteObject`;
:func:`course.grading.call` (and ``call_each``, ``call_timed``) then send the arguments
into the kernel and get plain data back.  This module is the grader's end of that
channel; :mod:`course._kernel_agent` is the kernel's.

In the student's JupyterLab no session is open and every call is an ordinary call.
"""

from __future__ import annotations

_SESSION = None


class RemoteObject:
    """An object that lives in the student's kernel (a function, a cache, ...)."""


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


def backend_for(fn, args, kwargs):
    """The remote backend when the call involves kernel objects, else None (call locally)."""
    if _SESSION is None or not _involves_remote(fn, args, kwargs):
        return None
    return _SESSION
