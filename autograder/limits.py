"""Resource limits of one grading job: per-process rlimits and, where the machine lets
us, one control group for the whole job.

- **rlimits** (set in the sandbox's first process, inherited by every process of the
  job): address space (``RLIMIT_AS``), CPU seconds, open files, size of a written file,
  no core dumps.  An rlimit bounds each process alone.
- **a control group** (cgroup v1 ``memory`` + ``pids``, or v2 ``memory.max`` +
  ``pids.max``) bounds the job as a whole: child processes cannot multiply the memory
  limit and a fork bomb stops at :data:`PIDS_MAX`.  On a machine where no cgroup can be
  created (no permission, no delegation), :func:`JobLimits.describe` says so and the
  rlimits and the sandbox's private pid namespace are what is left.

The process count cannot be an rlimit here: ``RLIMIT_NPROC`` is not enforced for
processes of uid 0 on the host, which is what a sandbox started by root maps to.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import resource
import signal
import sys
import time
from pathlib import Path

#: The defaults of a grading job, used wherever a job's setting is not given: the
#: kernel's memory (MB) and one cell's time (s).
MEMORY_MB = 2048
CELL_TIMEOUT = 60
#: Processes and threads of one job (the kernel alone uses about ten threads).
PIDS_MAX = 128
#: Open files of one process.
NOFILE = 1024
#: Largest file one process may write (the sandbox's folders are small tmpfs anyway).
FSIZE_MB = 256

_COUNTER = itertools.count()
CGROUP_FS = Path("/sys/fs/cgroup")


def _own_cgroups():
    """{controller or "" for v2: path relative to its hierarchy} of this process."""
    found = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for c in controllers.split(",") if controllers else [""]:
                found[c] = path
    return found


def _make_dir(path):
    try:
        path.mkdir()
        return True
    except FileExistsError:
        return True
    except OSError:
        return False


class JobCgroup:
    """A control group holding every process of one job, with memory and pids limits."""

    def __init__(self, memory_bytes, pids_max=PIDS_MAX):
        self.dirs = []
        self.version = None
        name = f"backprop-grade-{os.getpid()}-{next(_COUNTER)}"
        own = _own_cgroups()
        v1 = {c: CGROUP_FS / c / own[c].lstrip("/") for c in ("memory", "pids") if c in own}
        if len(v1) == 2 and all(p.is_dir() for p in v1.values()):
            self._setup_v1(v1, name, memory_bytes, pids_max)
        elif "" in own and (CGROUP_FS / "cgroup.controllers").exists():
            self._setup_v2(CGROUP_FS / own[""].lstrip("/"), name, memory_bytes, pids_max)

    def _setup_v1(self, parents, name, memory_bytes, pids_max):
        made = []
        try:
            for parent in parents.values():
                d = parent / name
                if not _make_dir(d):
                    raise OSError(f"cannot create {d}")
                made.append(d)
            (made[0] / "memory.limit_in_bytes").write_text(str(memory_bytes))
            with contextlib.suppress(OSError):  # no swap accounting on some machines
                (made[0] / "memory.memsw.limit_in_bytes").write_text(str(memory_bytes))
            (made[1] / "pids.max").write_text(str(pids_max))
        except OSError:
            self.dirs = made
            self.remove()
            return
        self.dirs, self.version = made, 1

    def _setup_v2(self, parent, name, memory_bytes, pids_max):
        d = parent / name
        try:
            enabled = (parent / "cgroup.subtree_control").read_text().split()
            if not {"memory", "pids"} <= set(enabled) or not _make_dir(d):
                return
            (d / "memory.max").write_text(str(memory_bytes))
            with contextlib.suppress(OSError):
                (d / "memory.swap.max").write_text("0")
            (d / "pids.max").write_text(str(pids_max))
        except OSError:
            with contextlib.suppress(OSError):
                d.rmdir()
            return
        self.dirs, self.version = [d], 2

    @property
    def active(self):
        return self.version is not None

    def procs_files(self):
        return [str(d / "cgroup.procs") for d in self.dirs]

    def pids(self):
        found = set()
        for f in self.procs_files():
            with contextlib.suppress(OSError):
                found |= {int(p) for p in Path(f).read_text().split()}
        return found

    def kill_all(self):
        """SIGKILL every process still in the group (a backstop: the pid namespace ends them)."""
        for _ in range(20):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)

    def oom_kills(self):
        """How many processes of the group the kernel's OOM killer has killed so far."""
        if not self.active:
            return 0
        d = self.dirs[0]
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        with contextlib.suppress(OSError, ValueError):
            text = (d / name).read_text()
            fields = dict(line.split()[:2] for line in text.splitlines() if line.strip())
            return int(fields.get("oom_kill", 0))
        return 0

    def oom_killed(self):
        """True when the kernel's OOM killer hit the group (its memory limit was reached)."""
        return self.oom_kills() > 0

    def remove(self, timeout=2.0):
        """Kill what is left and remove the group's folders.  A group keeps its dying
        processes (and, for ``pids``, their zombies) for a moment: retried until
        `timeout` seconds, then left (and said, on stderr of the worker)."""
        end = time.monotonic() + timeout
        left = list(self.dirs)
        while left:
            self.kill_all()
            for d in list(left):
                try:
                    d.rmdir()
                    left.remove(d)
                except FileNotFoundError:
                    left.remove(d)
                except OSError:
                    pass
            if not left or time.monotonic() > end:
                break
            time.sleep(0.005)
        if left:
            print(f"backprop-grade: could not remove control group {left[0]}", file=sys.stderr)
        self.dirs = []


class JobLimits:
    """What one job may use; :meth:`preexec` applies it in the sandbox's first process.

    Parameters
    ----------
    memory_mb : int or None
        Address space of each process and, with a cgroup, memory of the whole job (this
        plus the size of the job's tmpfs folders, which live in memory).
    cpu_seconds : int or None
        CPU time of each process.
    tmpfs_mb : int
        Memory the job's writable folders may hold (counted in the job's memory).
    """

    def __init__(self, memory_mb=None, cpu_seconds=None, tmpfs_mb=0):
        self.memory_mb = memory_mb
        self.cpu_seconds = cpu_seconds
        total = ((memory_mb or 4096) + tmpfs_mb) * 2**20
        self.cgroup = JobCgroup(total)
        self._procs_fds = []

    def describe(self):
        parts = []
        if self.memory_mb:
            parts.append(f"{self.memory_mb} MB address space per process")
        if self.cgroup.active:
            parts.append(f"cgroup v{self.cgroup.version}: job memory and {PIDS_MAX} processes")
        else:
            parts.append("no cgroup available: job memory and process count not bounded")
        return ", ".join(parts)

    def rlimits(self):
        """{name of a ``resource.RLIMIT_*``: (soft, hard)} of every process of the job."""
        limits = {}
        if self.memory_mb:
            mem = int(self.memory_mb) * 2**20
            limits["RLIMIT_AS"] = (mem, mem)
        if self.cpu_seconds:
            cpu = int(self.cpu_seconds)
            limits["RLIMIT_CPU"] = (cpu, cpu + 5)
        limits["RLIMIT_NOFILE"] = (NOFILE, NOFILE)
        limits["RLIMIT_FSIZE"] = (FSIZE_MB * 2**20, FSIZE_MB * 2**20)
        limits["RLIMIT_CORE"] = (0, 0)
        return limits

    def join(self, pid):
        """Put process `pid` (not yet running anything of the job) in the job's cgroup."""
        for f in self.cgroup.procs_files():
            Path(f).write_text(str(pid))

    def popen_kwargs(self):
        """``preexec_fn`` for the Popen that starts the sandbox (rlimits, joining the cgroup)."""
        self._procs_fds = [os.open(f, os.O_WRONLY) for f in self.cgroup.procs_files()]
        fds = list(self._procs_fds)
        limits = [(getattr(resource, k), v) for k, v in self.rlimits().items()]

        def preexec():  # runs in the child between fork and exec: no imports, no locks
            for fd in fds:
                os.write(fd, str(os.getpid()).encode())
            for which, value in limits:
                resource.setrlimit(which, value)

        return {"preexec_fn": preexec}

    def launched(self):
        """Close the parent's copies of the cgroup files once the sandbox has started."""
        for fd in self._procs_fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._procs_fds = []

    def close(self):
        self.launched()
        self.cgroup.remove()
