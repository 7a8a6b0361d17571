"""Integrity guard that runs *inside* the grading kernel.

Installed by :mod:`autograder.kernel_launch` before ipykernel starts, so before any
student code runs:

- a :func:`sys.addaudithook` hook (hooks cannot be removed once added) that refuses
  to open the course directory (gradebook, other submissions, solutions), other
  workers' directories and the gradebook file; that refuses writes, deletions and
  renames outside the notebook's own directory; and that refuses new processes,
  symlinks and hard links (they would escape the hook).  Each refusal raises
  ``PermissionError`` in the student's code and is logged for the grader.
- a snapshot of the modules the test cells rely on (numpy, the ``course`` library,
  builtins); :func:`restore`, called at the top of every test cell by the grader,
  puts back any attribute the student's code reassigned (``np.allclose = ...``,
  ``course.grading.check_close = lambda *a, **k: None``) and the test cells' own
  imported names, and logs the tampering.

The log goes to a file descriptor opened before the hook, outside the notebook's
directory; the grader reads it after the kernel exits and flags the submission.
Without an OS sandbox (bubblewrap) a determined attacker with ctypes can still get
around an in-process guard: that is why the grader also scans the source
(:mod:`autograder.integrity`) and flags, rather than trusts, what it cannot prevent.
"""

from __future__ import annotations

import json
import os
import sys

_STATE = {}

#: Modules whose attributes the test cells rely on.
PROTECTED_PREFIXES = ("numpy", "course", "builtins", "math")

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_BLOCKED_EVENTS = {
    "os.system": "starting a shell",
    "subprocess.Popen": "starting a process",
    "os.exec": "replacing the kernel process",
    "os.posix_spawn": "starting a process",
    "os.spawn": "starting a process",
    "os.fork": "forking the kernel",
    "os.forkpty": "forking the kernel",
    "os.symlink": "creating a symlink",
    "os.link": "creating a hard link",
    "pty.spawn": "starting a process",
}
_PATH_WRITE_EVENTS = {
    "os.remove": 0,
    "os.rmdir": 0,
    "os.rename": (0, 1),
    "os.truncate": 0,
    "os.chmod": 0,
    "os.chown": 0,
    "os.mkdir": 0,
    "os.utime": 0,
    "shutil.rmtree": 0,
    "shutil.copyfile": 1,
    "shutil.move": (0, 1),
}


def _log(kind, detail):
    fd = _STATE.get("log_fd")
    if fd is None:
        return
    line = json.dumps({"kind": kind, "detail": str(detail)[:300]}) + "\n"
    try:
        os.write(fd, line.encode())
    except OSError:
        pass


def _under(path, roots):
    return any(path == r or path.startswith(r + os.sep) for r in roots)


def _abs(path):
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, str):
        return None
    return os.path.normpath(os.path.join(_STATE["cwd0"], path))


def _check_read(path):
    p = _abs(path)
    if p is None:
        return
    if _under(p, _STATE["deny"]) and not _under(p, _STATE["allow_read"]):
        _log("denied read", p)
        raise PermissionError(f"grading sandbox: reading {p} is not allowed")


def _check_write(path):
    p = _abs(path)
    if p is None:
        return
    _check_read(p)
    if not _under(p, _STATE["allow_write"]):
        _log("denied write", p)
        raise PermissionError(
            f"grading sandbox: writing {p} is not allowed (only inside the notebook's folder)"
        )


def _hook(event, args):
    if not _STATE.get("active"):
        return
    if event == "open":
        path, mode, flags = args
        if isinstance(path, int):
            return
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & _WRITE_FLAGS
        )
        if writing:
            _check_write(path)
        else:
            _check_read(path)
    elif event in _PATH_WRITE_EVENTS:
        idx = _PATH_WRITE_EVENTS[event]
        for i in idx if isinstance(idx, tuple) else (idx,):
            if i < len(args):
                _check_write(args[i])
    elif event in ("os.listdir", "os.scandir", "glob.glob"):
        if args and args[0] is not None:
            p = _abs(args[0])
            # The import system lists the folders on sys.path, e.g. the repository
            # holding the course library: listing a parent of an allowed folder shows
            # names, never contents.
            if p is not None and not any(a.startswith(p + os.sep) for a in _STATE["allow_read"]):
                _check_read(p)
    elif event in _BLOCKED_EVENTS:
        _log("denied " + _BLOCKED_EVENTS[event], args[0] if args else "")
        raise PermissionError(f"grading sandbox: {_BLOCKED_EVENTS[event]} is not allowed")


def _snapshot():
    snap = {}
    for name, mod in list(sys.modules.items()):
        if mod is None or not name.startswith(PROTECTED_PREFIXES):
            continue
        if name.startswith("numpy.") and name.count(".") > 1:
            continue  # deep numpy internals are not what tests call
        try:
            snap[name] = (mod, dict(vars(mod)))
        except TypeError:
            continue
    return snap


def install(config):
    """Install the audit hook and snapshot the protected modules.

    Parameters
    ----------
    config : dict
        ``workdir`` (the notebook's folder, writable), ``deny`` (paths never readable),
        ``allow_read`` (exceptions inside ``deny``), ``allow_write`` (extra writable
        paths), ``log`` (file to append violations to).
    """
    workdir = os.path.realpath(config["workdir"])
    _STATE["cwd0"] = workdir
    _STATE["deny"] = [os.path.realpath(p) for p in config.get("deny", [])]
    _STATE["allow_read"] = [os.path.realpath(p) for p in config.get("allow_read", [])] + [workdir]
    _STATE["allow_write"] = [workdir, "/dev/null"] + [
        os.path.realpath(p) for p in config.get("allow_write", [])
    ]
    if config.get("log"):
        _STATE["log_fd"] = os.open(config["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    _STATE["snapshot"] = _snapshot()
    sys.addaudithook(_hook)
    _STATE["active"] = True


def restore(bindings=None):
    """Undo tampering with protected modules and with the test cells' imported names.

    Parameters
    ----------
    bindings : dict of str to (str, str or None), optional
        Global name -> (module, attribute) as imported by the notebook's locked cells,
        e.g. ``{"np": ("numpy", None), "check_close": ("course.grading", "check_close")}``.
    """
    snap = _STATE.get("snapshot")
    if snap is None:
        return
    for name, (mod, attrs) in snap.items():
        if sys.modules.get(name) is not mod:
            _log("tampered", f"sys.modules[{name!r}] replaced")
            sys.modules[name] = mod
        current = vars(mod)
        private_ok = name.startswith("course")
        for key, value in attrs.items():
            if key.startswith("_") and not private_ok or key in _IPYTHON_MANAGED:
                continue
            if current.get(key, _MISSING) is not value:
                _log("tampered", f"{name}.{key} reassigned")
                setattr(mod, key, value)
    if not bindings:
        return
    try:
        user_ns = get_ipython().user_ns  # noqa: F821 - provided by IPython in the kernel
    except NameError:
        return
    for gname, (modname, attr) in bindings.items():
        mod = sys.modules.get(modname)
        if mod is None or gname not in user_ns:
            continue
        expected = mod if attr is None else getattr(mod, attr, _MISSING)
        if expected is _MISSING:
            continue
        if user_ns[gname] is not expected:
            _log(
                "tampered", f"name {gname!r} rebound (it is {modname}{'.' + attr if attr else ''})"
            )
            user_ns[gname] = expected


#: Builtins that IPython itself swaps while a cell runs.
_IPYTHON_MANAGED = {"exit", "quit", "display", "get_ipython", "input", "raw_input"}


class _Missing:
    pass


_MISSING = _Missing()
