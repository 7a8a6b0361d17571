"""Grading kernels forked from a warm template, one template per grading worker.

A kernel's imports (NumPy, matplotlib, IPython, ipykernel, the agent) cost 0.4 s of CPU
every time; forking a process that already holds them costs milliseconds.  Each grading
worker (a process of the local pool, or a dask worker) keeps one
:class:`Template`: a process started from :mod:`backprop_agent.template` that builds the
sandbox's read-only view of the system, imports what every kernel needs, and then only
forks.  Every notebook's kernel is forked from it into a sandbox of its own (new
namespaces, fresh size-capped tmpfs folders, uid 65534 with no capabilities, the job's
rlimits and control group: see that module), through jupyter_client's provisioner seam
(:class:`autograder.provisioning.ForkedProvisioner`).

The template never runs student code.  It is replaced when it dies or when what it was
built from changes (:func:`fingerprint`: the view, the environment, the agent's code,
the interpreter).  Where forking cannot give a kernel these guarantees (not root, no
user namespaces, a view the sandbox's uid cannot read, ``--no-sandbox``), grading falls
back to a cold start under bubblewrap, and the run's summary says which and why.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

#: Seconds a template may take to build its view and import everything.
START_TIMEOUT = 120.0
#: Seconds one fork may take, from the request to the sandbox's init.
FORK_TIMEOUT = 30.0
#: The inside path of the template's control socket (backprop_agent.template.CONTROL).
CONTROL = "/run/template/control.sock"
#: Environment variables read when a module is imported (the template imports them once
#: for every kernel, so they belong to the template, not to one kernel).
IMPORT_TIME_PREFIXES = ("PYTHON", "OPENBLAS", "OMP_", "MKL_", "MPL", "NUMPY", "JUPYTER", "IPYTHON")

FORKED = "forked from a warm template"
COLD = "cold start"


class TemplateUnavailable(RuntimeError):
    """This worker cannot fork sandboxed kernels (the reason is the message)."""


def problem():
    """None when this process may run a template, else why not (a sentence)."""
    if not sys.platform.startswith("linux"):
        return "forking sandboxed kernels needs Linux namespaces"
    if os.geteuid() != 0:
        return (
            "forking sandboxed kernels needs root (to map the sandbox's uid 65534 and to "
            "place each kernel in its control group); kernels start cold under bubblewrap"
        )
    if not hasattr(os, "pidfd_open"):
        return "this Python has no os.pidfd_open"
    return None


def _code_stamp():
    """Sizes and modification times of the agent's files, the interpreter and the
    folders of installed packages (a package installed or removed changes its folder)."""
    import sysconfig

    import backprop_agent

    folder = Path(backprop_agent.__file__).resolve().parent
    stamp = []
    paths = sorted(folder.glob("*.py")) + [Path(sys.executable).resolve()]
    paths += [Path(sysconfig.get_path(k)) for k in ("purelib", "platlib", "stdlib")]
    for p in paths:
        with contextlib.suppress(OSError):
            st = p.stat()
            stamp.append([str(p), st.st_size, st.st_mtime_ns])
    return stamp


def fingerprint(spec, env):
    """What a template was built from: the view, its environment and the code it imported."""
    # the font list by what it is built from (its path changes with the grading run)
    spec = {k: v for k, v in spec.items() if k != "font_cache"}
    data = json.dumps([spec, sorted(env.items()), _code_stamp()], sort_keys=True)
    return hashlib.sha256(data.encode()).hexdigest()[:16]


def template_environment(kernel_env):
    """The template's environment: the kernels' allow-list, and those of a job's extra
    variables that take effect when a module is imported (the rest a kernel gets when
    it is forked)."""
    from .sandbox import kernel_environment

    extra = {k: v for k, v in (kernel_env or {}).items() if k.startswith(IMPORT_TIME_PREFIXES)}
    return kernel_environment(extra)


class Template:
    """One running template: start it, fork kernels from it, ask how a child ended.

    Parameters
    ----------
    spec : dict
        The sandbox's view (:func:`autograder.sandbox.view`) and ``font_cache``.
    env : dict
        The template's whole environment.
    parent : str, optional
        Folder for the template's (empty) root on the host.
    """

    def __init__(self, spec, env, parent=None):
        self.spec = dict(spec)
        self.env = dict(env)
        self.key = fingerprint(self.spec, self.env)
        self.parent = parent
        self.proc = None
        self.lifeline = None
        self.root = None
        self.control = None
        self.seconds = 0.0
        #: Jobs of this process using it, and whether a newer template replaced it.
        self.users = 0
        self.retired = False
        self._lock = threading.Lock()

    # -- life -------------------------------------------------------------------------

    def start(self):
        """Start the template and check one sandbox of it; raises TemplateUnavailable."""
        t0 = time.perf_counter()
        self.root = tempfile.mkdtemp(prefix="backprop-template-", dir=self.parent)
        errors = tempfile.TemporaryFile(dir=self.parent)
        read_end, self.lifeline = os.pipe()
        os.set_inheritable(read_end, True)
        spec = {**self.spec, "root": self.root, "lifeline": read_end}
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "backprop_agent.template"],
                env=self.env,
                cwd="/",
                pass_fds=[read_end],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                start_new_session=True,
            )
        finally:
            os.close(read_end)
        try:
            with contextlib.suppress(OSError):
                self.proc.stdin.write(json.dumps(spec).encode())
                self.proc.stdin.close()
            self._wait_ready(errors)
        except TemplateUnavailable:
            self.close()
            raise
        finally:
            errors.close()
        self.control = f"/proc/{self.proc.pid}/root{CONTROL}"
        self._probe()
        self.seconds = time.perf_counter() - t0

    def _wait_ready(self, errors):
        end = time.monotonic() + START_TIMEOUT
        line = b""
        while time.monotonic() < end:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                line = self.proc.stdout.readline()
                break
            if self.proc.poll() is not None:
                break
        self.proc.stdout.close()
        if line.strip() == b"ready":
            return
        errors.seek(0)
        tail = errors.read().decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise TemplateUnavailable(f"the kernel template did not start: {tail[0]}")

    def _probe(self):
        """One sandbox that checks the view is readable as the sandbox's uid."""
        from .sandbox import HOME_MB, RUN_MB, SHM_MB, TMP_MB

        readable = [p for _, p in self.spec.get("binds", [])]
        job = {
            "probe": True,
            "readable": readable,
            "home_mb": HOME_MB,
            "tmp_mb": TMP_MB,
            "run_mb": RUN_MB,
            "shm_mb": SHM_MB,
            "rebind": self.spec.get("rebind", []),
        }
        answer = self._request({"op": "fork"}, job, {}, join=None)
        problems = answer.get("problems") or []
        facts = answer.get("facts") or {}
        if not problems and (facts.get("uid") != 65534 or int(facts.get("CapEff", "1"), 16)):
            problems = [f"the probe sandbox is not unprivileged: {facts}"]
        if problems:
            self.close()
            raise TemplateUnavailable(
                "a forked sandbox cannot use the view: " + "; ".join(problems[:3])
            )

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def close(self):
        """Stop the template (its kernels die with it) and remove its root folder."""
        if self.lifeline is not None:
            with contextlib.suppress(OSError):
                os.close(self.lifeline)
            self.lifeline = None
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)
        if self.root:
            with contextlib.suppress(OSError):
                os.rmdir(self.root)  # empty on the host: the view lived in the template
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    # -- requests ---------------------------------------------------------------------

    def _connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(FORK_TIMEOUT)
        sock.connect(self.control)
        return sock

    def _request(self, header, job=None, files=None, join=None):
        """One request; for a fork, `join(pid)` is called before the child unshares."""
        from backprop_agent import wire

        files = files or {}
        with self._lock:
            try:
                with self._connect() as sock:
                    blobs = []
                    if job is not None:
                        body = {**job, "file_names": list(files)}
                        blobs = [json.dumps(body).encode(), *files.values()]
                    sock.sendall(wire.pack(header, blobs))
                    answer, _ = wire.recv(sock)
                    if "child" in answer and "init" not in answer and "fault" not in answer:
                        pidfd = os.pidfd_open(answer["child"])
                        try:
                            if join is not None:
                                join(answer["child"])
                        except BaseException:
                            os.close(pidfd)
                            raise
                        sock.sendall(wire.pack({"joined": True}))
                        answer, _ = wire.recv(sock)
                        answer["pidfd"] = pidfd
            except (OSError, ConnectionError, wire.WireError) as exc:
                raise TemplateUnavailable(f"the kernel template did not answer: {exc}") from exc
        if "fault" in answer:
            if "pidfd" in answer:
                os.close(answer["pidfd"])
            raise TemplateUnavailable(f"the kernel template could not fork: {answer['fault']}")
        return answer

    def fork(self, job, files, join):
        """Fork one sandboxed kernel; returns (child pid, init pid, pidfd of the child).

        `job`: ``connection`` (JSON text), ``argv``, ``env``, ``rlimits``, ``home_mb``,
        ``tmp_mb``, ``run_mb``, ``shm_mb``; `files`: relative path -> bytes; `join(pid)`
        puts the child in the job's control group."""
        answer = self._request(
            {"op": "fork"}, {**job, "rebind": self.spec.get("rebind", [])}, files, join
        )
        return answer["child"], answer["init"], answer["pidfd"]

    def status(self, pid):
        """The exit code of the template's child `pid` (None: not known to have ended)."""
        try:
            return self._request({"op": "status", "pid": int(pid)}).get("code")
        except TemplateUnavailable:
            return None


# -- one template per worker process --------------------------------------------------------

_LOCK = threading.Lock()
_TEMPLATES = {}
_FAILED = {}
#: Seconds before a worker tries again to start a template that failed to start.
RETRY_AFTER = 300.0


def template_for(spec, env, parent=None):
    """This process's template for `spec` and `env`: running, current, started if need be,
    and held for one job (give it back with :func:`release`).

    A template that died, or one built from something that has changed since, is
    replaced (closed as soon as no job of this process uses it).  Raises
    TemplateUnavailable (kept for :data:`RETRY_AFTER` seconds: the jobs meanwhile start
    cold and say why)."""
    key = fingerprint(spec, env)
    with _LOCK:
        t = _TEMPLATES.get(key)
        if t is None or not t.alive():
            failed = _FAILED.get(key)
            if failed and time.monotonic() - failed[0] < RETRY_AFTER:
                raise TemplateUnavailable(failed[1])
            for old_key, old in list(_TEMPLATES.items()):
                old.retired = True
                del _TEMPLATES[old_key]
                if not old.users:
                    old.close()
            t = Template(spec, env, parent)
            try:
                t.start()
            except TemplateUnavailable as exc:
                _FAILED[key] = (time.monotonic(), str(exc))
                raise
            _TEMPLATES[key] = t
        t.users += 1
        return t


def release(t):
    """One job is done with template `t` (a retired one closes when no job uses it)."""
    with _LOCK:
        t.users -= 1
        if t.retired and not t.users:
            t.close()


def close_all():
    with _LOCK:
        for t in _TEMPLATES.values():
            t.close()
        _TEMPLATES.clear()


def _forget_in_child():
    """A process forked from one with templates starts its own (it must not share them)."""
    global _LOCK
    _LOCK = threading.Lock()
    for t in _TEMPLATES.values():
        if t.lifeline is not None:
            with contextlib.suppress(OSError):
                os.close(t.lifeline)
    _TEMPLATES.clear()
    _FAILED.clear()


os.register_at_fork(after_in_child=_forget_in_child)
atexit.register(close_all)


class ChildProcess:
    """A Popen-like handle on the template's child that holds one sandbox.

    The worker did not start it, so it cannot wait for it: a pidfd says when it ended
    (no pid reuse can fool it), and the template says with which exit code."""

    stdin = stdout = stderr = None

    def __init__(self, pid, pidfd, template):
        self.pid = pid
        self.pidfd = pidfd
        self.template = template
        self.returncode = None

    def poll(self):
        if self.returncode is None and self.pidfd is not None:
            ready, _, _ = select.select([self.pidfd], [], [], 0)
            if ready:
                code = None
                for _ in range(20):  # the template reaps it on its next turn
                    code = self.template.status(self.pid)
                    if code is not None:
                        break
                    time.sleep(0.005)
                self.returncode = -signal.SIGKILL if code is None else code
                os.close(self.pidfd)
                self.pidfd = None
        return self.returncode

    def wait(self, timeout=None):
        end = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if end is not None and time.monotonic() > end:
                raise subprocess.TimeoutExpired("sandbox", timeout)
            if self.pidfd is not None:
                select.select([self.pidfd], [], [], 0.05)
        return self.returncode

    def send_signal(self, sig):
        if self.pidfd is not None:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self.pidfd, sig)

    def kill(self):
        """SIGKILL, and wait (at most a second) until the sandbox is gone: its pid
        namespace ends with it, so the kernel manager need not poll for it."""
        self.send_signal(signal.SIGKILL)
        if self.pidfd is not None:
            select.select([self.pidfd], [], [], 1.0)
        self.poll()

    def terminate(self):
        self.send_signal(signal.SIGTERM)
