"""The system calls a grading kernel may not make: a seccomp filter, dependency-free.

Two kinds of calls reach past the sandbox's namespaces, so the namespaces cannot stop
them:

- the **kernel keyrings** (``add_key``, ``request_key``, ``keyctl``): a process keeps its
  session keyring across ``fork`` and ``unshare``, so without this a kernel could read,
  plant or revoke keys of the grading worker's session;
- **inotify and fanotify instances** (``inotify_init``, ``inotify_init1``,
  ``fanotify_init``): they are counted against the user who created the sandbox's user
  namespace on the host (root), so one kernel holding 128 of them would deny every root
  process on the machine its own.

The filter makes those calls fail with ``EPERM``; every system call of another
architecture (``int 0x80`` on x86-64) and every x32 call fails the same way (their
numbers differ).  Nothing a kernel runs legitimately (NumPy, matplotlib, IPython,
ipykernel) makes them.

:func:`program` gives the filter as the bytes of a ``struct sock_filter`` array (what
bubblewrap's ``--seccomp FD`` reads); :func:`install` applies it to this process and
its future children (it needs ``PR_SET_NO_NEW_PRIVS`` set first, as the sandbox does).
"""

from __future__ import annotations

import ctypes
import errno
import platform
import struct

#: seccomp_data.arch of the architectures this filter knows, and their numbers of the
#: denied calls (from the kernel's unistd tables).
ARCHES = {
    "x86_64": (
        0xC000003E,
        {
            "add_key": 248,
            "request_key": 249,
            "keyctl": 250,
            "inotify_init": 253,
            "inotify_init1": 294,
            "fanotify_init": 300,
        },
    ),
    "aarch64": (
        0xC00000B7,
        {
            "add_key": 217,
            "request_key": 218,
            "keyctl": 219,
            "inotify_init1": 26,
            "fanotify_init": 262,
        },
    ),
}
DENIED = ("add_key", "request_key", "keyctl", "inotify_init", "inotify_init1", "fanotify_init")

_X32_BIT = 0x40000000
_LD_W_ABS, _JEQ_K, _JGE_K, _RET_K = 0x20, 0x15, 0x35, 0x06
_RET_ALLOW = 0x7FFF0000
_RET_EPERM = 0x00050000 | errno.EPERM
_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 22, 2


def _op(code, k, jt=0, jf=0):
    return struct.pack("=HBBI", code, jt, jf, k)


def program(machine=None):
    """The filter for `machine` (default: this one's) as ``struct sock_filter`` bytes.

    Raises
    ------
    OSError
        On an architecture the filter does not know (the sandbox then cannot be built).
    """
    machine = machine or platform.machine()
    if machine not in ARCHES:
        raise OSError(f"no seccomp filter for the architecture {machine}")
    arch, numbers = ARCHES[machine]
    denied = [numbers[name] for name in DENIED if name in numbers]
    ops = [
        _op(_LD_W_ABS, 4),  # seccomp_data.arch
        _op(_JEQ_K, arch, jt=1),
        _op(_RET_K, _RET_EPERM),  # another architecture's calls
        _op(_LD_W_ABS, 0),  # seccomp_data.nr
    ]
    if machine == "x86_64":
        ops.append(_op(_JGE_K, _X32_BIT, jt=len(denied) + 1))  # x32: to EPERM
    for i, nr in enumerate(denied):
        ops.append(_op(_JEQ_K, nr, jt=len(denied) - i))  # to EPERM
    ops += [_op(_RET_K, _RET_ALLOW), _op(_RET_K, _RET_EPERM)]
    return b"".join(ops)


class _Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]


def install():
    """Apply the filter to this process (and what it starts).  Raises OSError."""
    code = program()
    prog = _Program(len(code) // 8, code)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"seccomp: {errno.errorcode.get(err, err)}")
