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
import atexit
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

from course import variant_tables

from . import limits
from .limits import JobLimits

BUBBLEWRAP = "bubblewrap"
NO_SANDBOX = "none (--no-sandbox)"
#: The Debian package that provides bwrap.
PACKAGE = "bubblewrap"

#: Bytes of output one cell keeps (text and images); the rest is dropped with a note.
CELL_OUTPUT_LIMIT = 2 * 2**20
#: Bytes of output the whole notebook keeps.
OUTPUT_LIMIT = 16 * 2**20
#: Largest single message accepted from the kernel (8 times what a cell's output may
#: keep, so an oversized print still arrives to be cut with a note; a larger message
#: is dropped by ZMQ before it reaches us, and with it that socket's connection, for
#: good: see SEND_TIMEOUT_MS).
MAX_MESSAGE = 8 * CELL_OUTPUT_LIMIT
#: Kernel messages ZMQ holds for the grader per socket before it stops reading: with
#: MAX_MESSAGE, what a flood of output can make the grader hold (256 MB at most; 60
#: messages of 50 MB made an uncapped nbgrader hold 1.4 GB).  The kernel's IOPub
#: never drops what waits (backprop_agent.agent._kernel_app): it waits in the kernel.
RECEIVE_QUEUE = 16
#: Milliseconds a message to the kernel may wait to be sent.  A message over MAX_MESSAGE
#: ends ZMQ's connection for good (libzmq does not reconnect after that protocol error):
#: a shell or control socket then has no peer, and jupyter_client's send, a blocking
#: call in the job's event loop, waited forever, past the notebook's time limit (one
#: ``get_ipython().set_next_input('x' * 2**25)`` hung its worker and the grading run).
SEND_TIMEOUT_MS = 5000
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


def _system_view():
    """The system folders a kernel needs: ``(binds, symlinks)`` as ``[host, inside]``
    and ``[target, link]`` lists."""
    binds, symlinks = [], []
    for top in ("usr", "bin", "lib", "lib32", "lib64", "libx32", "sbin"):
        path = Path("/") / top
        if path.is_symlink():
            symlinks.append([os.readlink(path), str(path)])
        elif path.is_dir():
            binds.append([str(path), str(path)])
    for name in ("ld.so.cache", "ld.so.conf", "localtime", "alternatives", "fonts"):
        path = Path("/etc") / name
        if path.exists():
            binds.append([str(path), str(path)])
    return binds, symlinks


def _python_view():
    """The interpreter, the virtualenv and the kernel's agent: ``(binds, hidden)``.

    The course library and the grader are not among them: where they lie inside a bound
    folder (an installed wheel in site-packages), an empty folder covers them (`hidden`),
    so a kernel can neither import nor read them (``import course`` there gives the
    grader's stubs, :mod:`backprop_agent.stubs`)."""
    raw = [sys.base_prefix, sys.prefix, str(Path(sys.executable).resolve().parent.parent)]
    raw.append(_agent_dir())
    binds, seen = [], []
    for path in sorted({os.path.realpath(p) for p in raw}, key=len):
        if any(path == s or path.startswith(s + os.sep) for s in seen):
            continue
        seen.append(path)
        binds.append([path, path])
    for path in raw:  # a prefix reached through a symlink: there too
        real, spelled = os.path.realpath(path), os.path.abspath(path)
        if spelled != real and [real, spelled] not in binds:
            binds.append([real, spelled])
    hidden = [h for h in _project_dirs() if any(h.startswith(s + os.sep) for s in seen)]
    return binds, hidden


def view():
    """What a kernel sees of the machine, as plain data (bubblewrap's arguments and the
    warm template's mounts are both made from it): ``binds`` (read-only), ``symlinks``
    and ``hidden`` (see :func:`_system_view`, :func:`_python_view`)."""
    system, symlinks = _system_view()
    python, hidden = _python_view()
    return {"binds": system + python, "symlinks": symlinks, "hidden": hidden}


#: The sandbox's writable folders (size-capped tmpfs) and their sizes in MB.
def writable_folders():
    return ((HOME, HOME_MB), ("/tmp", TMP_MB), (RUN, RUN_MB))


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


def seccomp_fd():
    """A file descriptor (inheritable, at offset 0) holding the kernels' seccomp filter
    (:mod:`backprop_agent.seccomp`), for bubblewrap's ``--seccomp``; the caller closes it
    once bwrap has started."""
    from backprop_agent import seccomp

    fd = os.memfd_create("backprop-seccomp", 0)
    os.write(fd, seccomp.program())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def bwrap_command(
    command, *, connection_file, files_dir=None, font_cache=None, env=None, seccomp=None
):
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
    seccomp : int, optional
        A descriptor of :func:`seccomp_fd` (passed to bwrap), the filter of every process
        inside.
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
    for path, mb in writable_folders():
        args += ["--size", str(mb * 2**20), "--tmpfs", path]
    seen = view()
    for target, link in seen["symlinks"]:
        args += ["--symlink", target, link]
    for src, dst in seen["binds"]:
        args += ["--ro-bind", src, dst]
    for path in seen["hidden"]:
        args += ["--tmpfs", path, "--remount-ro", path]
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
    if seccomp is not None:
        args += ["--seccomp", str(seccomp)]
    args += ["--chdir", WORK, "--remount-ro", "/", "--", *command]
    return args


_FONT_CACHE_LOCK = threading.Lock()


def font_cache(parent=None):
    """matplotlib's font list for the kernels, built once per process in a folder under
    `parent` (a grading run's own folder, removed with it); threads wait for one build."""
    with _FONT_CACHE_LOCK:
        return _font_cache(parent)


@functools.cache
def _font_cache(parent):
    folder = tempfile.mkdtemp(prefix="backprop-mpl-", dir=parent)
    if parent is None:  # no run folder to go with (nbgrader's Autograde, a direct call)
        atexit.register(_remove_own, folder, os.getpid())
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


def _remove_own(folder, pid):
    """Remove `folder` at exit of the process that made it (not of a forked child)."""
    if os.getpid() == pid:
        shutil.rmtree(folder, ignore_errors=True)


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
        fd = None
        try:
            fd = seccomp_fd()
            cmd = bwrap_command([sys.executable, "-c", code], connection_file=conn.name, seccomp=fd)
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, pass_fds=(fd,))
        except (OSError, subprocess.SubprocessError) as exc:
            return f"bwrap could not start a sandbox: {exc}"
        finally:
            if fd is not None:
                os.close(fd)
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


def _client_class():
    from queue import Empty

    from jupyter_client.asynchronous import AsyncKernelClient

    class GradingKernelClient(AsyncKernelClient):
        """jupyter_client's client, ready as soon as the kernel is.

        ipykernel greets every new IOPub subscriber (``iopub_welcome``, JEP 65): once
        that has arrived, IOPub is connected and a kernel_info reply on shell means
        the kernel is ready, without jupyter_client's fixed 0.2 s of listening to a
        quiet IOPub.  A kernel that sends no welcome gets jupyter_client's own wait."""

        async def wait_for_ready(self, timeout=None):
            start = time.monotonic()
            deadline = start + (60.0 if timeout is None else float(timeout))
            while True:
                try:
                    msg = await self.iopub_channel.get_msg(timeout=0.25)
                except Empty:
                    msg = None
                if msg is not None and msg.get("msg_type") == "iopub_welcome":
                    break
                if not await self._async_is_alive():
                    raise RuntimeError("Kernel died before replying to kernel_info")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Kernel didn't respond in {timeout} seconds")
                if time.monotonic() - start > 10:
                    return await super().wait_for_ready(deadline - time.monotonic())
            while True:
                self.kernel_info()
                try:
                    reply = await self.shell_channel.get_msg(timeout=1)
                except Empty:
                    reply = None
                if reply is not None and reply.get("msg_type") == "kernel_info_reply":
                    self._handle_kernel_info_reply(reply)
                    return
                if not await self._async_is_alive():
                    raise RuntimeError("Kernel died before replying to kernel_info")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Kernel didn't respond in {timeout} seconds")

    return GradingKernelClient


class _SandboxedKernel:
    """The job's kernel, started by the provisioner the job asks for
    (:mod:`autograder.provisioning`): forked from the worker's template, or cold.  Mixed
    in before jupyter_client's ``AsyncKernelManager`` by :func:`_kernel_manager_class`,
    with the manager's ``job``."""

    job = None

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        job = self.job
        self.connection_file = str(job.private / "kernel.json")
        # Unix sockets: inside the sandbox its own folder holds them; the grader
        # reaches them through /proc/<pid>/root (no folder shared with the host).
        self.transport = "ipc"
        self.ip = (RUN if job.sandboxed else str(job.private)) + "/k"
        # One context for the control socket and the client's channels, destroyed
        # when the job ends: jupyter_client's own (the ``context`` default) was left
        # to the garbage collector, which could finalize it before the manager that
        # still held its control socket open, and its term() then waited forever.
        self.context = _bounded_zmq()
        job.contexts.append(self.context)

    @property
    def kernel_spec(self):
        spec = super().kernel_spec
        if spec is not None:
            # A signal to bwrap or to the sandbox's init does not reach the kernel:
            # ask it over its control channel to interrupt itself.
            spec.interrupt_mode = "message"
            name = "backprop-forked" if self.job.template is not None else "backprop-sandbox"
            spec.metadata = {
                **(spec.metadata or {}),
                "kernel_provisioner": {"provisioner_name": name, "config": {}},
            }
        return spec

    def _connect_control_socket(self):
        super()._connect_control_socket()
        # nothing left for a kernel that is gone: closing does not wait for it
        self._control_socket.linger = 0

    async def _async_interrupt_kernel(self):
        if self.shutting_down:  # it is about to be killed: no interrupt first
            return
        await super()._async_interrupt_kernel()

    interrupt_kernel = _async_interrupt_kernel

    def client(self, **kwargs):
        kwargs.setdefault("context", self.context)
        self.client_factory = _client_class()
        return super().client(**kwargs)

    def format_kernel_cmd(self, extra_arguments=None):
        cmd = super().format_kernel_cmd(extra_arguments)
        rest = cmd[cmd.index("ipykernel_launcher") + 1 :] if "ipykernel_launcher" in cmd else []
        rest = [a for a in rest if a not in ("-f", self.connection_file)]
        return _kernel_command(self.job, rest, self.connection_file)


def _kernel_command(job, rest, connection_file):
    """The command that starts the job's kernel (the agent, :mod:`backprop_agent`, with
    ipykernel's arguments `rest`): in bubblewrap for a cold start, as the template forks
    it, or as a plain process with ``--no-sandbox``."""
    if not job.sandboxed:
        return [
            sys.executable,
            "-m",
            "backprop_agent",
            job.agent_path,
            "-f",
            connection_file,
            *rest,
        ]
    inner = [sys.executable, "-m", "backprop_agent", AGENT, "-f", CONNECTION, *rest]
    if job.template is not None:
        return inner  # the template forks it (ForkedProvisioner takes the arguments)
    return bwrap_command(
        inner,
        connection_file=str(job.inside_connection_file),
        files_dir=job.files_dir,
        font_cache=job.font_cache,
        env=kernel_environment(job.kernel_env),
        seccomp=job.seccomp_fd,
    )


def _kernel_manager_class(job):
    """jupyter_client's AsyncKernelManager for one job (:class:`_SandboxedKernel`)."""
    from jupyter_client.manager import AsyncKernelManager

    return type("SandboxedKernelManager", (_SandboxedKernel, AsyncKernelManager), {"job": job})


def sandbox_child(bwrap_pid, timeout=10.0):
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


def template_spec(font_cache_path=None):
    """What a warm template is built from: the sandbox's view, matplotlib's font list,
    and the view's binds that lie below a folder each sandbox covers with a fresh tmpfs
    (bound again on top of it)."""
    spec = view()
    covered = [path for path, _ in writable_folders()] + ["/dev/shm"]
    spec["rebind"] = [
        dst for _, dst in spec["binds"] if any(dst.startswith(c + "/") for c in covered)
    ]
    spec["font_cache"] = font_cache_path
    return spec


def _template(task, job):
    """The worker's warm template for this job, or None (and why) for a cold start."""
    from . import forked

    if not job.sandboxed:
        return None, f"{forked.COLD} (--no-sandbox)"
    if task.get("fork") is False:
        return None, f"{forked.COLD} (asked for)"
    reason = forked.problem()
    if reason:
        return None, f"{forked.COLD} ({reason})"
    env = forked.template_environment(job.kernel_env)
    try:
        t = forked.template_for(template_spec(job.font_cache), env, _tmp(task))
    except forked.TemplateUnavailable as exc:
        return None, f"{forked.COLD} ({exc})"
    return t, forked.FORKED


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
        self.files = dict(task.get("files") or {})
        self.root = ""
        self.sandbox_pid = None
        self.template = None
        self.kernel_start = ""
        self.trusted_seconds = 0.0
        self.memory_mb = task.get("memory_mb")
        #: Set when the notebook's time limit has passed (no fresh kernel after that).
        self.expired = threading.Event()
        #: The cells that ended a kernel (autograder.crashes), and the fresh kernels.
        self.crashes = []
        self.restarts = 0
        self.oom_kills = 0
        self.stopped_answering = False
        #: perf_counter() of the first kernel's launch and readiness, and of the cleanup.
        self.marks = {}
        self.requests = 0
        self.flags = []
        #: The ZMQ contexts of this job's kernel clients, destroyed when the job ends,
        #: and the descriptors its kernels' sockets are reached by, closed after them
        #: (autograder.provisioning._pin_sockets).
        self.contexts = []
        self.pinned = []
        self.agent_path = str(self.private / "agent.sock")
        # the kernel's copy of its connection file (bound into bwrap's sandbox): the
        # kernel manager's own is rewritten with the paths as the grader reaches them
        self.inside_connection_file = self.private / "inside.json"
        #: The seccomp filter's descriptor for a cold start's bwrap (during its launch).
        self.seccomp_fd = None
        self.font_cache = None
        if self.sandboxed:
            given = task.get("font_cache")
            self.font_cache = given if given and os.path.isfile(given) else font_cache(_tmp(task))
        self.kernel_env = dict(task.get("kernel_env") or {})
        #: The submission's variants (the grader's, from the task: course.variant_tables).
        self.variants = variant_tables.from_plain(task.get("variants"))
        self.limits = JobLimits(
            task.get("memory_mb"),
            int(task.get("notebook_timeout") or 0) + 5 or None,
            tmpfs_mb=HOME_MB + TMP_MB + RUN_MB + SHM_MB,
        )

    @property
    def agent_host_path(self):
        return self.root + AGENT if self.sandboxed else self.agent_path


class _KernelDeaths:
    """What :func:`_execute_class`'s executor does when a cell ends its kernel: the cell
    is marked (:mod:`autograder.crashes`) and the next code cell gets a fresh kernel with
    the student's earlier cells run again.  Mixed in before nbgrader's ``Execute``
    (``super()`` here is nbclient's), with the executor's ``job`` and ``cell_timeout``."""

    job = None
    cell_timeout = None

    async def _async_poll_kernel_alive(self):
        from nbclient.exceptions import DeadKernelError

        # nbclient looks once a second; a kernel's death is cheap to see (a pidfd or
        # a waitpid), and a notebook that crashes waits for the look
        while True:
            await asyncio.sleep(0.05)
            try:
                await self._async_check_alive()
            except DeadKernelError:
                self.task_poll_for_reply.cancel()
                return

    async def _alive(self):
        """False once the kernel is gone, or its agent has stopped answering the
        grader (then it is ended here: a kernel the grader cannot reach grades
        nothing)."""
        from jupyter_core.utils import ensure_async

        if self.km is None or not await ensure_async(self.km.is_alive()):
            return False
        session = self.trusted.session if self.trusted is not None else None
        if session is not None and session.broken:
            for _ in range(40):  # it may be on its way out: let it end by itself
                await asyncio.sleep(0.025)
                if not await ensure_async(self.km.is_alive()):
                    return False
            self.job.stopped_answering = True
            await self.km._async_kill_kernel()
            return False
        return True

    async def _unreachable(self):
        """End a kernel the grader can no longer send to (a message over MAX_MESSAGE
        cut its connection): the cell counts as one that stopped answering."""
        self.job.stopped_answering = True
        with contextlib.suppress(Exception):
            await self.km._async_kill_kernel()

    def _crashed(self, cell, index, during_test=False):
        """Note that cell `index` ended the kernel (its output says so)."""
        from . import crashes

        job = self.job
        process = getattr(getattr(self.km, "provisioner", None), "process", None)
        code = process.poll() if process is not None else None
        if job.stopped_answering:
            code, job.stopped_answering = None, False
        kills = job.limits.cgroup.oom_kills()
        what = crashes.cause(code, job.memory_mb, oom=kills > job.oom_kills)
        if code is None:
            what = "it stopped answering the grader"
        job.oom_kills = kills
        cell.setdefault("outputs", []).append(crashes.crash_output(what, during_test))
        job.crashes.append({"index": index, "cause": what, "test": during_test})

    async def _fresh_kernel(self, index):
        """A new kernel with the student's cells before `index` run again in it
        (their outputs stay as they were; a cell that ended a kernel is skipped)."""
        from nbclient.exceptions import DeadKernelError

        from . import crashes

        job = self.job
        if len(job.crashes) > crashes.MAX_RESTARTS:
            raise DeadKernelError(
                f"the notebook ended its kernel {len(job.crashes)} times: the rest is not run"
            )
        if self.trusted is not None and self.trusted.session is not None:
            self.trusted.session.close()
        await self._async_cleanup_kernel()
        job.limits.cgroup.kill_all()
        job.restarts += 1
        self.km = self.create_kernel_manager()
        await self.async_start_new_kernel()
        await self.async_start_new_kernel_client()
        saved = (self.code_cells_executed, self._output_bytes, self._notebook_bytes)
        for i in self._to_run_again(index):
            if not await self._run_again(i):
                return await self._fresh_kernel(index)
        self.code_cells_executed, self._output_bytes, self._notebook_bytes = saved

    def _to_run_again(self, index):
        """The indices of the student's code cells before `index` a fresh kernel runs."""
        from .cells import is_test_cell

        skipped = {c["index"] for c in self.job.crashes}
        for i, cell in enumerate(self.nb.cells[:index]):
            if cell.cell_type == "code" and not is_test_cell(cell) and cell.source.strip():
                if i not in skipped:
                    yield i

    async def _run_again(self, i):
        """Run cell `i` again in the fresh kernel, keeping its first outputs; False if it
        ended this kernel too (then it is marked so)."""
        import copy

        earlier = self.nb.cells[i]
        try:
            ran = await self._in_kernel(copy.deepcopy(earlier), i, earlier, store_history=True)
        finally:
            self.nb.cells[i] = earlier
        if not ran:
            earlier.outputs[-1]["evalue"] += " (It ended the kernel when run again.)"
        return ran

    async def _in_kernel(self, cell, index, shown, *args, **kw):
        """Execute `cell` (number `index`) in the kernel, the course calls it makes bounded
        by its time limit.  False when it ended the kernel, or cut the grader off from it
        (a connection ZMQ dropped: SEND_TIMEOUT_MS); then the notebook's cell `shown`
        says so.  After the notebook's time limit the error is raised."""
        import zmq
        from nbclient.exceptions import DeadKernelError

        self.raise_on_iopub_timeout = False  # see _TrustedCells._async_handle_timeout
        session = self.trusted.session if self.trusted else None
        if session is not None:
            session.cell_deadline = time.monotonic() + self.cell_timeout
        try:
            await super().async_execute_cell(cell, index, *args, **kw)
        except (DeadKernelError, zmq.Again) as exc:
            if self.job.expired.is_set():
                raise
            if isinstance(exc, zmq.Again):
                await self._unreachable()
            self._crashed(shown, index)
            return False
        finally:
            if session is not None:
                session.cell_deadline = None
        return True


def _execute_class(job, cell_timeout):
    """nbgrader's Execute for one job: the test cells run in the grader
    (:class:`autograder.trusted.TrustedNotebook`), outputs are bounded, and a cell
    that ends the kernel costs only itself (:class:`_KernelDeaths`)."""
    return type("TrustedExecute", (_trusted_execute(),), {"job": job, "cell_timeout": cell_timeout})


class _TrustedCells(_KernelDeaths):
    """The cells of :func:`_execute_class`'s executor: a student's cell runs in the
    kernel with its output bounded, a test cell in the grader."""

    current_index = -1
    trusted = None
    _output_bytes = 0
    _notebook_bytes = 0

    async def async_start_new_kernel(self, **kwargs):
        self.job.marks.setdefault("launch", time.perf_counter())
        return await super().async_start_new_kernel(**kwargs)

    async def _async_cleanup_kernel(self):
        self.job.marks["cleanup"] = time.perf_counter()
        return await super()._async_cleanup_kernel()

    async def async_start_new_kernel_client(self):
        from . import remote
        from .trusted import TrustedNotebook

        kc = await super().async_start_new_kernel_client()
        job = self.job
        job.marks.setdefault("ready", time.perf_counter())
        session = await asyncio.to_thread(
            remote.Session, job.agent_host_path, call_timeout=self.cell_timeout
        )
        session.variants = job.variants
        if self.trusted is None:
            self.trusted = TrustedNotebook(self.nb, session, self.cell_timeout, job.variants)
        else:  # a fresh kernel: the grader's side of the notebook carries on
            self.trusted.session = session
        return kc

    async def async_execute_cell(self, cell, cell_index, execution_count=None, **kw):
        from .cells import is_test_cell
        from .trusted import TrustedNotebook

        self.current_index = cell_index
        if cell.cell_type == "code" and cell.source.strip() and not await self._alive():
            await self._fresh_kernel(cell_index)
        if not is_test_cell(cell):
            return await self._student_cell(cell, cell_index, execution_count, **kw)
        job = self.job
        trusted = self.trusted or TrustedNotebook(self.nb, None, self.cell_timeout, job.variants)
        cell.outputs = await asyncio.to_thread(trusted.run_test_cell, cell_index, cell)
        self.code_cells_executed += 1
        cell.execution_count = self.code_cells_executed
        if self.trusted is not None and not await self._alive() and not job.expired.is_set():
            self._crashed(cell, cell_index, during_test=True)
        return cell

    async def _student_cell(self, cell, cell_index, execution_count=None, **kw):
        """Run a student's cell in the kernel (:meth:`_KernelDeaths._in_kernel`)."""
        self._output_bytes = 0
        await self._in_kernel(cell, cell_index, cell, execution_count, **kw)
        return cell

    async def _async_handle_timeout(self, timeout, cell=None):
        """A cell past its time limit is interrupted.  A cell that finished may lose its
        "idle" among a flood of output, which must not abort the notebook; but when the
        interrupt does not stop the cell, its idle never comes, and the notebook stops
        there as nbgrader's does ("did not stop when interrupted")."""
        self.raise_on_iopub_timeout = True
        return await super()._async_handle_timeout(timeout, cell)

    def output(self, outs, msg, display_id, cell_index):
        size = len(json.dumps(msg.get("content", {}), default=str))
        self._output_bytes = getattr(self, "_output_bytes", 0) + size
        self._notebook_bytes = getattr(self, "_notebook_bytes", 0) + size
        if self._output_bytes > CELL_OUTPUT_LIMIT or self._notebook_bytes > OUTPUT_LIMIT:
            if not any(o.get("metadata", {}).get("truncated") for o in outs):
                outs.append(_truncation_note())
            return None
        return super().output(outs, msg, display_id, cell_index)


@functools.cache
def _trusted_execute():
    from jupyter_core.utils import run_sync
    from nbgrader.preprocessors import Execute

    class TrustedExecute(_TrustedCells, Execute):
        """See :func:`_execute_class`."""

        # nbclient's synchronous names wrap the base class's coroutines: re-wrap ours.
        start_new_kernel = run_sync(_TrustedCells.async_start_new_kernel)
        _cleanup_kernel = run_sync(_TrustedCells._async_cleanup_kernel)
        start_new_kernel_client = run_sync(_TrustedCells.async_start_new_kernel_client)
        execute_cell = run_sync(_TrustedCells.async_execute_cell)

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
    if _in_a_worker():
        limit_worker_memory(task.get("worker_memory_mb"))
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return contextvars.Context().run(_execute_in_own_loop, task)
    # Called from a running event loop (formgrader's Autograde, in the Jupyter server's
    # thread): that loop is the server's, not this job's to run, cancel or close; the
    # job gets a thread, and so a loop, of its own.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1, thread_name_prefix="backprop-grade") as pool:
        return pool.submit(contextvars.Context().run, _execute_in_own_loop, task).result()


def _in_a_worker():
    """True in a grading worker process (a process pool's or a dask worker), where the
    worker's own memory is bounded; False in the process that called grading (a script,
    nbgrader, a test run), whose address space is not the grader's to cap: a browser it
    starts later, for one, reserves far more than a grading worker may."""
    import multiprocessing

    if multiprocessing.parent_process() is not None:
        return True
    if "distributed" not in sys.modules:  # a dask worker has it; nbgrader need not import it
        return False
    try:
        from distributed import Scheduler, get_worker

        get_worker()
    except (ImportError, ValueError):
        return False
    # An in-process cluster (LocalCluster(processes=False)) runs its tasks in threads of
    # the caller's own process, next to its scheduler: that process is not a worker's
    # (its cap once outlived the run and a browser started from it died at launch).
    return not Scheduler._instances


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
    ctx.setsockopt(zmq.RCVHWM, RECEIVE_QUEUE)
    # the kernel binds its sockets a moment after the client first tries them: try
    # again after 10 ms, not ZMQ's default 100 ms
    ctx.setsockopt(zmq.RECONNECT_IVL, 10)
    # A message to a kernel that is gone is never delivered: with ZMQ's default linger
    # (forever) the context's finalizer then waits for it forever, and the grading
    # worker with it (a notebook whose kernel died with a request unread hung its worker).
    ctx.setsockopt(zmq.LINGER, 0)
    # a send to a kernel whose connection ZMQ has dropped raises zmq.Again, never hangs
    ctx.setsockopt(zmq.SNDTIMEO, SEND_TIMEOUT_MS)
    return ctx


def _execute_notebook(task):
    import logging

    # A kernel killed on purpose makes tornado/zmq log "uncaught exception" noise.
    logging.getLogger("tornado").setLevel(logging.CRITICAL)
    t0 = time.perf_counter()
    base = Path(tempfile.mkdtemp(prefix="job-", dir=_tmp(task)))
    nb = nbformat.reads(task["notebook"], as_version=4)
    job, limits, template_seconds = None, "", 0.0
    try:
        job = _Job(task, base)
        t1 = time.perf_counter()
        job.template, job.kernel_start = _template(task, job)
        template_seconds = time.perf_counter() - t1
        job.marks["setup"] = time.perf_counter()
        status, reason, nb = _run(task, job, nb)
        if status == "kernel died" and job.limits.cgroup.oom_killed():
            status = "memory"
            reason = f"the notebook used more than its memory limit ({task.get('memory_mb')} MB)"
        limits = job.limits.describe()
    except Exception as exc:  # noqa: BLE001 - the grader's own failure, for this notebook only
        status, reason = "error", f"the grader failed on this notebook: {type(exc).__name__}: {exc}"
    finally:
        if job is not None:
            for ctx in job.contexts:  # not left to the garbage collector, at any moment
                with contextlib.suppress(Exception):
                    ctx.destroy(linger=0)
            for fd in job.pinned:
                with contextlib.suppress(OSError):
                    os.close(fd)
            job.limits.close()
            if job.template is not None:
                from . import forked

                forked.release(job.template)
        shutil.rmtree(base, ignore_errors=True)
    end = time.perf_counter()
    exec_seconds = _cell_seconds(nb)
    return {
        "key": task.get("key"),
        "exec_seconds": exec_seconds,
        "timing": _timing(job, t0, end, exec_seconds, template_seconds),
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
        "kernel_start": job.kernel_start if job else "",
        "template": job.template.proc.pid if job and job.template else None,
        "crashes": job.crashes if job else [],
        "template_seconds": template_seconds,
        "worker_peak_mb": _peak_rss_mb(),
    }


def _timing(job, t0, end, exec_seconds, template_seconds):
    """Where one notebook's time went (seconds): ``setup`` (its folder, control group
    and the template's look-up; a template started for it counts in ``template``),
    ``kernel_start`` (from the launch request to the kernel ready: fork or cold start),
    ``cells`` (the kernel running cells), ``trusted`` (test cells on the grader's side),
    ``teardown`` (from the last cell to the end: kill, control group, files), ``other``
    (the rest: nbclient's messaging between cells)."""
    if job is None:
        return {}
    marks = job.marks
    setup = marks.get("setup", end) - t0 - template_seconds
    start = marks["ready"] - marks["launch"] if "ready" in marks and "launch" in marks else 0.0
    teardown = end - marks["cleanup"] if "cleanup" in marks else 0.0
    known = setup + template_seconds + start + exec_seconds + job.trusted_seconds + teardown
    return {
        "setup": setup,
        "template": template_seconds,
        "kernel_start": start,
        "cells": exec_seconds,
        "trusted": job.trusted_seconds,
        "teardown": teardown,
        "other": max(0.0, end - t0 - known),
    }


def _run(task, job, nb):
    """Execute `nb` in the job's kernel; returns (status, reason, executed notebook)."""
    cell_timeout = task.get("cell_timeout", limits.CELL_TIMEOUT)
    ep = _execute_class(job, cell_timeout)(
        timeout=cell_timeout,
        interrupt_on_timeout=True,
        # A cell that finished and lost its "idle" does not abort the notebook (nbgrader
        # raises after 4 s); one that outlived its time does (_async_handle_timeout).
        raise_on_iopub_timeout=False,
        # the kernel is thrown away: no need to wait for a graceful exit
        shutdown_kernel="immediate",
        kernel_manager_class=_kernel_manager_class(job),
    )
    expired = job.expired
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
    if job.crashes:
        from . import crashes
        from .cells import is_test_cell

        crashes.note_costs(nb, job.crashes, is_test_cell)
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
    process = getattr(getattr(km, "provisioner", None), "process", None)
    if process is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
            process.kill()
    if job.sandbox_pid:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(job.sandbox_pid, signal.SIGKILL)
    job.limits.cgroup.kill_all()


def _failure(exc, expired, task):
    if expired:
        return "notebook timeout", f"the notebook ran longer than {task['notebook_timeout']:g} s"
    name = type(exc).__name__
    if "timeout" in name.lower():
        return "cell timeout", (
            f"a cell ran longer than {task.get('cell_timeout', limits.CELL_TIMEOUT)} s and did not stop when "
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
        return (
            "cell timeout",
            f"a cell ran longer than {task.get('cell_timeout', limits.CELL_TIMEOUT)} s",
        )
    return "ok", ""
