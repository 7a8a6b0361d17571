"""Execute one submitted notebook: its kernel in a bubblewrap sandbox, its tests here.

:func:`execute_notebook` is the grading worker: a pure function of its task (plain
data), so it runs unchanged in a local process pool or on a dask.distributed worker.
It never touches the gradebook; the parent records the result through nbgrader
(:mod:`autograder.grade`).  Per notebook it

- starts a fresh IPython kernel inside **bubblewrap** (:func:`bwrap_command`): new
  user, pid, network, ipc, uts and cgroup namespaces, an unprivileged uid, no
  capabilities, its own session, dying with the worker; a root made only of read-only
  binds of what a kernel needs (system libraries, the interpreter, the virtualenv, the
  agent :mod:`backprop_agent`) and small size-capped tmpfs folders (home, /tmp, and the folder
  of the kernel's ipc sockets).  The course root, the gradebook, solutions, other
  submissions, other jobs, home folders and the instructor's environment do not exist
  in there.  Limits (:mod:`autograder.limits`) bound memory, CPU, processes, open
  files and file sizes;
- sends the kernel every cell but the test cells, with nbgrader's ``Execute``
  (same per-cell timeout and interrupt as ``nbgrader autograde``), keeping at most
  :data:`CELL_OUTPUT_LIMIT` bytes of output per cell and :data:`OUTPUT_LIMIT` per
  notebook, so nothing larger ever reaches the parent;
- runs every test cell itself (:mod:`autograder.trusted`), calling into the kernel
  through :mod:`autograder.remote`, so the verdicts are the grader's; the kernel has no
  course code: its ``import course`` gives stubs whose functions run here;
- kills the whole sandbox when the notebook exceeds its wall-clock limit;
- reports ``ok``, ``cell timeout``, ``notebook timeout``, ``memory``,
  ``kernel died`` or ``error``.

With ``sandbox="none"`` (``backprop-grade grade --no-sandbox``) the kernel runs as a
plain process with the same limits and the same trusted test cells, but with the
instructor's uid and view of the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat

from .limits import JobLimits

BUBBLEWRAP = "bubblewrap"
NO_SANDBOX = "none (--no-sandbox)"
#: The Debian package that provides bwrap.
PACKAGE = "bubblewrap"

#: Bytes of output one cell keeps (text and images); the rest is dropped with a note.
CELL_OUTPUT_LIMIT = 2 * 2**20
#: Bytes of output the whole notebook keeps.
OUTPUT_LIMIT = 16 * 2**20
#: Largest single message accepted from the kernel.
MAX_MESSAGE = 64 * 2**20
#: Sizes of the sandbox's writable folders (they live in memory).
HOME_MB, TMP_MB, RUN_MB, SHM_MB = 128, 128, 1, 16

HOME = "/home/student"
WORK = HOME + "/work"
RUN = "/run/grader"
AGENT = RUN + "/agent.sock"
CONNECTION = RUN + "/kernel.json"

_NOT_RUN = "not run: {reason}"


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or does not work on this machine."""


# -- the sandbox -------------------------------------------------------------------------


def _agent_dir():
    import backprop_agent

    return str(Path(backprop_agent.__file__).resolve().parent)


def _project_dirs():
    """This project's own packages that a kernel must not see (the course library with
    the graders' references, the grader): hidden where a bind would show them."""
    import autograder
    import course

    return [str(Path(m.__file__).resolve().parent) for m in (course, autograder)]


def _system_binds():
    """``--ro-bind``/``--symlink`` arguments for the system folders a kernel needs."""
    args = []
    for top in ("usr", "bin", "lib", "lib32", "lib64", "libx32", "sbin"):
        path = Path("/") / top
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    for name in ("ld.so.cache", "ld.so.conf", "localtime", "alternatives", "fonts"):
        path = Path("/etc") / name
        if path.exists():
            args += ["--ro-bind", str(path), str(path)]
    return args


def _python_binds():
    """Read-only binds of the interpreter, the virtualenv and the kernel's agent.

    The course library and the grader are not among them: where they lie inside a bound
    folder (an installed wheel in site-packages), an empty folder is mounted over them,
    so a kernel can neither import nor read them (``import course`` there gives the
    grader's stubs, :mod:`backprop_agent.stubs`)."""
    paths = []
    for p in (sys.base_prefix, sys.prefix, str(Path(sys.executable).resolve().parent.parent)):
        paths.append(os.path.realpath(p))
    paths.append(_agent_dir())
    args, seen = [], []
    for p in sorted(set(paths), key=len):
        if any(p == s or p.startswith(s + os.sep) for s in seen):
            continue
        seen.append(p)
        args += ["--ro-bind", p, p]
        if p != os.path.abspath(p):
            args += ["--ro-bind", p, os.path.abspath(p)]
    for hidden in _project_dirs():
        if any(hidden.startswith(s + os.sep) for s in seen):
            args += ["--tmpfs", hidden, "--remount-ro", hidden]
    return args


def kernel_environment(extra=None, home=HOME):
    """The kernel's whole environment (an allow-list: nothing of the instructor's)."""
    env = {
        "HOME": home,
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin"]),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TMPDIR": "/tmp",
        "MPLCONFIGDIR": home + "/.config/matplotlib",
        "IPYTHONDIR": home + "/.ipython",
        "JUPYTER_CONFIG_DIR": home + "/.jupyter",
        "JUPYTER_DATA_DIR": home + "/.local/share/jupyter",
        "JUPYTER_RUNTIME_DIR": home + "/.local/share/jupyter/runtime",
        "PYTHONNOUSERSITE": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "NBGRADER_EXECUTION": "autograde",
    }
    env.update(extra or {})
    return env


def bwrap_command(command, *, connection_file, files_dir=None, font_cache=None, env=None):
    """The bwrap command line that runs `command` (a list) in a fresh sandbox.

    Parameters
    ----------
    command : list of str
        What to run inside (absolute paths of the bound interpreter).
    connection_file : str
        The kernel's connection file on the host, bound read-only at :data:`CONNECTION`.
    files_dir : str, optional
        A host folder whose files (the assignment's data) appear read-only in the
        working folder :data:`WORK`.
    font_cache : str, optional
        matplotlib's font list, built once by the grader, bound read-only.
    env : dict, optional
        The whole environment inside.
    """
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable(f"bwrap is not installed (Debian package {PACKAGE})")
    args = [
        bwrap,
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
        "--uid",
        "65534",
        "--gid",
        "65534",
        "--cap-drop",
        "ALL",
        "--new-session",
        "--die-with-parent",
        "--hostname",
        "grader",
        "--clearenv",
    ]
    for key, value in (env or kernel_environment()).items():
        args += ["--setenv", key, value]
    # The writable folders first: a tmpfs mounted after a bind below it would hide it
    # (a course cloned under /tmp binds its virtualenv from there).
    for path, mb in ((HOME, HOME_MB), ("/tmp", TMP_MB), (RUN, RUN_MB)):
        args += ["--size", str(mb * 2**20), "--tmpfs", path]
    args += _system_binds() + _python_binds()
    args += ["--proc", "/proc", "--dev", "/dev"]
    args += ["--size", str(SHM_MB * 2**20), "--tmpfs", "/dev/shm"]
    args += ["--remount-ro", "/dev"]  # device nodes stay usable; no files in /dev itself
    args += ["--dir", WORK, "--ro-bind", connection_file, CONNECTION]
    if font_cache:
        name = os.path.basename(font_cache)
        args += ["--ro-bind", font_cache, f"{HOME}/.config/matplotlib/{name}"]
    if files_dir:
        for p in sorted(Path(files_dir).rglob("*")):
            if p.is_file() and not p.is_symlink():
                args += ["--ro-bind", str(p), f"{WORK}/{p.relative_to(files_dir)}"]
    args += ["--chdir", WORK, "--remount-ro", "/", "--", *command]
    return args


@functools.cache
def font_cache(parent=None):
    """matplotlib's font list for the kernels, built once per process in a folder under
    `parent` (a grading run's own folder, removed with it)."""
    folder = tempfile.mkdtemp(prefix="backprop-mpl-", dir=parent)
    env = {"MPLCONFIGDIR": folder, "PATH": os.environ.get("PATH", "")}
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(
            [sys.executable, "-c", "import matplotlib.font_manager"],
            env=env,
            capture_output=True,
            timeout=120,
        )
    found = sorted(Path(folder).glob("fontlist-*.json"))
    return str(found[0]) if found else None


@functools.cache
def probe(kind=BUBBLEWRAP):
    """None when sandboxed kernels can start here, else the reason they cannot."""
    if kind != BUBBLEWRAP:
        return None
    if shutil.which("bwrap") is None:
        return (
            f"bwrap is not installed: install the Debian package {PACKAGE} "
            f"(apt-get install {PACKAGE}, or scripts/setup_system.sh), or grade with "
            "--no-sandbox to run student code with your own uid and files"
        )
    with tempfile.NamedTemporaryFile("w", suffix=".json") as conn:
        conn.write("{}")
        conn.flush()
        code = "import numpy, ipykernel, backprop_agent.agent; print('ok')"
        try:
            cmd = bwrap_command([sys.executable, "-c", code], connection_file=conn.name)
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.SubprocessError) as exc:
            return f"bwrap could not start a sandbox: {exc}"
    if done.returncode != 0 or "ok" not in done.stdout:
        detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return f"bwrap is installed but cannot start a sandbox here: {detail[0]}"
    return None


def sandbox_kind(no_sandbox=False):
    """What grading runs kernels in: :data:`BUBBLEWRAP`, or :data:`NO_SANDBOX`."""
    return NO_SANDBOX if no_sandbox else BUBBLEWRAP


def require_sandbox(kind):
    """Raise SandboxUnavailable (with what to install) unless `kind` works here."""
    problem = probe(kind)
    if problem:
        raise SandboxUnavailable(problem)


# -- the kernel --------------------------------------------------------------------------


def _kernel_manager_class(job):
    from jupyter_client.manager import AsyncKernelManager

    class SandboxedKernelManager(AsyncKernelManager):
        """Start the kernel (with its agent) through bwrap, or as a limited process."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.connection_file = str(job.private / "kernel.json")
            # Unix sockets: inside the sandbox its own folder holds them; the grader
            # reaches them through /proc/<pid>/root (no folder shared with the host).
            self.transport = "ipc"
            self.ip = (RUN if job.sandboxed else str(job.private)) + "/k"
            self.sandbox_pid = None
            self._zmq = _bounded_zmq()

        @property
        def kernel_spec(self):
            spec = super().kernel_spec
            if spec is not None:
                # A signal to bwrap does not reach the kernel: ask it over its control
                # channel to interrupt itself (ipykernel's interrupt_request).
                spec.interrupt_mode = "message"
            return spec

        def client(self, **kwargs):
            kwargs.setdefault("context", self._zmq)
            return super().client(**kwargs)

        def format_kernel_cmd(self, extra_arguments=None):
            cmd = super().format_kernel_cmd(extra_arguments)
            rest = cmd[cmd.index("ipykernel_launcher") + 1 :] if "ipykernel_launcher" in cmd else []
            rest = [a for a in rest if a not in ("-f", self.connection_file)]
            if not job.sandboxed:
                return [
                    sys.executable,
                    "-m",
                    "backprop_agent",
                    job.agent_path,
                    "-f",
                    self.connection_file,
                    *rest,
                ]
            inner = [sys.executable, "-m", "backprop_agent", AGENT, "-f", CONNECTION, *rest]
            return bwrap_command(
                inner,
                connection_file=self.connection_file,
                files_dir=job.files_dir,
                font_cache=job.font_cache,
                env=kernel_environment(job.kernel_env),
            )

        async def _async_launch_kernel(self, kernel_cmd, **kw):
            kw.update(job.limits.popen_kwargs())
            # What the kernel prints before ipykernel captures its output goes nowhere.
            kw["stdout"] = kw["stderr"] = subprocess.DEVNULL
            if not job.sandboxed:
                home = job.private / "home"
                home.mkdir(exist_ok=True)
                kw["env"] = kernel_environment(job.kernel_env, str(home))
                kw["cwd"] = str(job.files_dir or job.private)
            try:
                await super()._async_launch_kernel(kernel_cmd, **kw)
            finally:
                job.limits.launched()
            if job.sandboxed:
                self.sandbox_pid = _sandbox_child(self.provisioner.process.pid)
                job.root = f"/proc/{self.sandbox_pid}/root"
                self.ip = job.root + RUN + "/k"

    return SandboxedKernelManager


def _sandbox_child(bwrap_pid, timeout=10.0):
    """The host pid of the first process inside the sandbox (a child of bwrap)."""
    end = time.monotonic() + timeout
    path = Path(f"/proc/{bwrap_pid}/task/{bwrap_pid}/children")
    while time.monotonic() < end:
        with contextlib.suppress(OSError):
            kids = path.read_text().split()
            if kids:
                return int(kids[0])
        time.sleep(0.005)
    raise RuntimeError("the sandbox did not start")


class _Job:
    """Paths and settings of one notebook's run, shared by the kernel manager and executor."""

    def __init__(self, task, base):
        self.sandboxed = task.get("sandbox", BUBBLEWRAP) == BUBBLEWRAP
        self.private = base / "private"
        self.private.mkdir()
        self.files_dir = None
        if task.get("files"):
            self.files_dir = base / "files"
            for rel, data in task["files"].items():
                target = self.files_dir / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        self.root = ""
        self.trusted_seconds = 0.0
        self.requests = 0
        self.flags = []
        self.agent_path = str(self.private / "agent.sock")
        self.font_cache = None
        if self.sandboxed:
            given = task.get("font_cache")
            self.font_cache = given if given and os.path.isfile(given) else font_cache(_tmp(task))
        self.kernel_env = dict(task.get("kernel_env") or {})
        self.limits = JobLimits(
            task.get("memory_mb"),
            int(task.get("notebook_timeout") or 0) + 5 or None,
            tmpfs_mb=HOME_MB + TMP_MB + RUN_MB + SHM_MB,
        )

    @property
    def agent_host_path(self):
        return self.root + AGENT if self.sandboxed else self.agent_path


def _execute_class(job, cell_timeout):
    from jupyter_core.utils import run_sync
    from nbgrader.preprocessors import Execute

    from . import remote
    from .integrity import is_test_cell
    from .trusted import TrustedNotebook

    class TrustedExecute(Execute):
        """nbgrader's Execute; test cells are run by the grader, outputs are bounded."""

        current_index = -1
        trusted = None

        async def async_start_new_kernel_client(self):
            kc = await super().async_start_new_kernel_client()
            session = await asyncio.to_thread(
                remote.Session, job.agent_host_path, call_timeout=cell_timeout
            )
            self.trusted = TrustedNotebook(self.nb, session, cell_timeout)
            return kc

        async def async_execute_cell(self, cell, cell_index, execution_count=None, **kw):
            self.current_index = cell_index
            if not is_test_cell(cell):
                self._output_bytes = 0
                session = self.trusted.session if self.trusted else None
                if session is not None:  # the course calls of this cell end with it
                    session.cell_deadline = time.monotonic() + cell_timeout
                try:
                    return await super().async_execute_cell(cell, cell_index, execution_count, **kw)
                finally:
                    if session is not None:
                        session.cell_deadline = None
            trusted = self.trusted or TrustedNotebook(self.nb, None, cell_timeout)
            outputs = await asyncio.to_thread(trusted.run_test_cell, cell_index, cell)
            cell.outputs = outputs
            self.code_cells_executed += 1
            cell.execution_count = self.code_cells_executed
            return cell

        def output(self, outs, msg, display_id, cell_index):
            size = len(json.dumps(msg.get("content", {}), default=str))
            self._output_bytes = getattr(self, "_output_bytes", 0) + size
            self._notebook_bytes = getattr(self, "_notebook_bytes", 0) + size
            if self._output_bytes > CELL_OUTPUT_LIMIT or self._notebook_bytes > OUTPUT_LIMIT:
                if not any(o.get("metadata", {}).get("truncated") for o in outs):
                    outs.append(_truncation_note())
                return None
            return super().output(outs, msg, display_id, cell_index)

        # nbclient's synchronous names wrap the base class's coroutines: re-wrap ours.
        start_new_kernel_client = run_sync(async_start_new_kernel_client)
        execute_cell = run_sync(async_execute_cell)

    return TrustedExecute


def _truncation_note():
    note = nbformat.v4.new_output(
        "stream",
        name="stdout",
        text=f"\n[output truncated by the grader: more than {CELL_OUTPUT_LIMIT // 2**20} MB "
        f"in this cell, or {OUTPUT_LIMIT // 2**20} MB in the notebook]\n",
    )
    note.metadata = {"truncated": True}
    return note


# -- the worker --------------------------------------------------------------------------


def _error_output(ename, evalue):
    return nbformat.v4.new_output(
        "error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"]
    )


def _mark_unrun(nb, from_index, reason):
    """Give every code cell from `from_index` on that did not finish an error output."""
    for i, cell in enumerate(nb.cells):
        if i < from_index or cell.cell_type != "code":
            continue
        if i == from_index or cell.get("execution_count") is None:
            if not any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
                cell.setdefault("outputs", []).append(
                    _error_output("GradingAborted", _NOT_RUN.format(reason=reason))
                )


def _cell_seconds(nb):
    """Time spent running cells (nbclient's per-cell timestamps), without kernel start."""
    from datetime import datetime

    total = 0.0
    for cell in nb.cells:
        ex = cell.get("metadata", {}).get("execution", {})
        start = ex.get("iopub.execute_input") or ex.get("shell.execute_request")
        end = ex.get("shell.execute_reply")
        if start and end:
            t0 = datetime.fromisoformat(start.replace("Z", "+00:00"))
            t1 = datetime.fromisoformat(end.replace("Z", "+00:00"))
            total += (t1 - t0).total_seconds()
    return total


def _tmp(task):
    """The run's folder for the job's temporary paths, when this machine has it (a dask
    worker elsewhere does not: it uses its own temporary folder)."""
    tmp = task.get("tmp")
    return tmp if tmp and os.path.isdir(tmp) else None


def limit_worker_memory(mb):
    """Bound this worker's own address space at `mb` MB (the soft limit: the kernels it
    starts set their own), so that what a submission sends cannot make a worker take the
    machine's memory; a worker over it fails the notebook it was grading, nothing more."""
    if not mb:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    want = int(mb) * 2**20
    if soft == resource.RLIM_INFINITY or soft > want:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (want, hard))


def execute_notebook(task):
    """Run one notebook; return its executed JSON and what happened.

    Safe to call from several threads at once (dask workers run jobs in a thread
    pool): each call off the main thread drives its kernel on an event loop of its own.

    Parameters
    ----------
    task : dict
        ``key`` (any JSON value naming the job), ``notebook`` (notebook JSON text),
        ``files`` (dict of relative path to bytes: the assignment's other files),
        ``cell_timeout`` and ``notebook_timeout`` (seconds), ``memory_mb``,
        ``sandbox`` (:data:`BUBBLEWRAP` or :data:`NO_SANDBOX`), ``kernel_env`` (extra
        environment for the kernel), ``tmp`` (parent folder for the job's private
        folder on the host, optional).

    Returns
    -------
    dict
        ``key``, ``notebook`` (executed JSON text), ``status``, ``reason``,
        ``seconds``, ``exec_seconds``, ``worker``, ``sandbox``, ``limits``.
    """
    # nbclient runs its kernel client on the loop jupyter_core remembers in a context
    # variable.  Every job gets a fresh context, so a fresh loop, closed when the job
    # ends: a thread pool may hand every job a copy of one context (two jobs on one loop:
    # "This event loop is already running"); a forked worker inherits its parent's loop,
    # whose epoll instance and selector map it shares with the parent (its kernel's
    # messages then never arrive: the job waits forever); and a loop a killed kernel
    # used is not one to reuse.
    limit_worker_memory(task.get("worker_memory_mb"))
    return contextvars.Context().run(_execute_in_own_loop, task)


def _execute_in_own_loop(task):
    from jupyter_core.utils import ensure_event_loop

    loop = ensure_event_loop()
    try:
        return _execute_notebook(task)
    finally:
        # a job stopped at its time limit leaves nbclient's pollers pending: end them
        pending = asyncio.all_tasks(loop)
        for t in pending:
            t.cancel()
        with contextlib.suppress(Exception):
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        asyncio.set_event_loop(None)
        loop.close()


def _peak_rss_mb():
    """The most memory this worker process has held so far (its VmHWM), in MB."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return None


def _bounded_zmq():
    """Kernel messages above MAX_MESSAGE are dropped by ZMQ before they reach us."""
    import zmq

    ctx = zmq.asyncio.Context()
    ctx.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE)
    return ctx


def _execute_notebook(task):
    import logging

    # A kernel killed on purpose makes tornado/zmq log "uncaught exception" noise.
    logging.getLogger("tornado").setLevel(logging.CRITICAL)
    t0 = time.perf_counter()
    base = Path(tempfile.mkdtemp(prefix="job-", dir=_tmp(task)))
    nb = nbformat.reads(task["notebook"], as_version=4)
    job, limits = None, ""
    try:
        job = _Job(task, base)
        status, reason, nb = _run(task, job, nb)
        if status == "kernel died" and job.limits.cgroup.oom_killed():
            status = "memory"
            reason = f"the notebook used more than its memory limit ({task.get('memory_mb')} MB)"
        limits = job.limits.describe()
    except Exception as exc:  # noqa: BLE001 - the grader's own failure, for this notebook only
        status, reason = "error", f"the grader failed on this notebook: {type(exc).__name__}: {exc}"
    finally:
        if job is not None:
            job.limits.close()
        shutil.rmtree(base, ignore_errors=True)
    return {
        "key": task.get("key"),
        "exec_seconds": _cell_seconds(nb),
        "notebook": nbformat.writes(nb),
        "status": status,
        "reason": reason,
        "seconds": time.perf_counter() - t0,
        "worker": f"{os.uname().nodename}:{os.getpid()}",
        "sandbox": task.get("sandbox", BUBBLEWRAP),
        "limits": limits,
        "trusted_seconds": job.trusted_seconds if job else 0.0,
        "requests": job.requests if job else 0,
        "flags": job.flags if job else [],
        "worker_peak_mb": _peak_rss_mb(),
    }


def _run(task, job, nb):
    """Execute `nb` in the job's kernel; returns (status, reason, executed notebook)."""
    cell_timeout = task.get("cell_timeout", 60)
    ep = _execute_class(job, cell_timeout)(
        timeout=cell_timeout,
        interrupt_on_timeout=True,
        # the kernel is thrown away: no need to wait for a graceful exit
        shutdown_kernel="immediate",
        kernel_manager_class=_kernel_manager_class(job),
    )
    expired = threading.Event()
    loop = asyncio.get_event_loop()  # this job's own (see execute_notebook)

    def kill():
        expired.set()
        _kill_kernel(ep, job)
        # whatever the job is waiting for (a kernel that never became ready included)
        # ends with the loop: run_until_complete raises, and the job reports the timeout
        loop.call_soon_threadsafe(loop.stop)

    limit = task.get("notebook_timeout")
    timer = threading.Timer(limit, kill) if limit else None
    if timer:
        timer.daemon = True
        timer.start()
    status, reason = "ok", ""
    try:
        nb = _preprocess(ep, nb, job, task)
    except Exception as exc:  # noqa: BLE001 - any execution failure is reported, not raised
        status, reason = _failure(exc, expired.is_set(), task)
        _mark_unrun(nb, max(ep.current_index, 0), reason or status)
    finally:
        if timer:
            timer.cancel()
        if ep.trusted is not None and ep.trusted.session is not None:
            ep.trusted.session.close()
        job.limits.cgroup.kill_all()
    if status == "ok":
        status, reason = _status_from_outputs(nb, task)
    if ep.trusted is not None:
        job.trusted_seconds = ep.trusted.seconds
        job.requests = ep.trusted.session.requests if ep.trusted.session else 0
        job.flags = list(ep.trusted.flags)
    return status, reason, nb


def _preprocess(ep, nb, job, task):
    resources = {"metadata": {"path": str(job.files_dir or job.private)}}
    try:
        ep.preprocess(nb, resources)
    except RuntimeError as exc:
        # The kernel died before running anything (start-up failure, not the student's
        # code): try a fresh one once.
        if "before replying to kernel_info" not in str(exc):
            raise
        nb = nbformat.reads(task["notebook"], as_version=4)
        ep.preprocess(nb, resources)
    return nb


def _kill_kernel(ep, job):
    km = getattr(ep, "km", None)
    pids = [getattr(km, "sandbox_pid", None)]
    prov = getattr(km, "provisioner", None)
    pids.append(getattr(getattr(prov, "process", None), "pid", None))
    for pid in filter(None, pids):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    job.limits.cgroup.kill_all()


def _failure(exc, expired, task):
    if expired:
        return "notebook timeout", f"the notebook ran longer than {task['notebook_timeout']:g} s"
    name = type(exc).__name__
    if "timeout" in name.lower():
        return "cell timeout", (
            f"a cell ran longer than {task.get('cell_timeout', 60)} s and did not stop when "
            "interrupted"
        )
    status = "kernel died" if "dead" in name.lower() else "error"
    reason = f"{name}: {exc}".strip()[:500]
    if task.get("memory_mb") and status == "kernel died":
        reason += f" (memory limit {task['memory_mb']} MB)"
    return status, reason


def _status_from_outputs(nb, task):
    enames = [
        o.get("ename")
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    if "MemoryError" in enames:
        return "memory", f"MemoryError (limit {task.get('memory_mb')} MB)"
    if "CellTimeoutError" in enames:
        return "cell timeout", f"a cell ran longer than {task.get('cell_timeout', 60)} s"
    return "ok", ""
