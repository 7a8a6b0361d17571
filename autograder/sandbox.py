"""Execute one sanitized notebook in a fresh, limited kernel: the grading worker.

:func:`execute_notebook` is a pure function of its task (a dict of plain data), so it
runs unchanged in a local process pool or on a dask.distributed worker.  It keeps no
state between calls and never touches the gradebook: the parent process records the
result through nbgrader (see :mod:`autograder.grade`).

Per notebook it

- makes a private directory holding the notebook and the assignment's other files;
- starts a new kernel through :mod:`autograder.kernel_launch`, which sets
  ``RLIMIT_AS`` (memory) and ``RLIMIT_CPU`` in the kernel process and installs the
  :mod:`autograder.guard` audit hook, and runs the cells with nbgrader's own
  ``Execute`` preprocessor (same per-cell timeout and interrupt behaviour as
  ``nbgrader autograde``);
- kills the kernel when the whole notebook exceeds its wall-clock limit (which also
  ends loops that swallow ``KeyboardInterrupt``, where nbgrader gives up), keeping the
  outputs of the cells that did run;
- reports a status: ``ok``, ``cell timeout``, ``notebook timeout``, ``memory``,
  ``kernel died`` or ``error``.

bubblewrap is used when ``bwrap`` is on PATH *and* works here (see :func:`sandbox_kind`);
otherwise the resource limits and the in-kernel guard are the sandbox.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat

_NOT_RUN = "not run: {reason}"


def sandbox_kind():
    """``"bubblewrap"`` when a working ``bwrap`` is available, else ``"rlimits+audit-hook"``."""
    bwrap = shutil.which("bwrap")
    if not bwrap:
        return "rlimits+audit-hook"
    try:
        ok = (
            subprocess.run(
                [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "true"],
                capture_output=True,
                timeout=10,
            ).returncode
            == 0
        )
    except (OSError, subprocess.SubprocessError):
        ok = False
    return "bubblewrap" if ok else "rlimits+audit-hook"


def _kernel_manager_class(settings_path, use_bwrap, workdir):
    from jupyter_client.manager import AsyncKernelManager

    class LimitedKernelManager(AsyncKernelManager):
        """Launch the kernel through autograder.kernel_launch (limits + guard)."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            # Next to the settings, where the guard lets the kernel read it.
            private = os.path.dirname(settings_path)
            self.connection_file = os.path.join(private, "kernel.json")
            # Unix sockets, not TCP ports: parallel kernels cannot race for a port
            # (jupyter_client picks free ports before the kernel binds them), and
            # nothing listens on the network.
            self.transport = "ipc"
            self.ip = os.path.join(private, "ipc")

        def format_kernel_cmd(self, extra_arguments=None):
            cmd = super().format_kernel_cmd(extra_arguments)
            if "ipykernel_launcher" not in cmd:
                return cmd  # not a Python kernel: limits cannot be injected
            rest = cmd[cmd.index("ipykernel_launcher") + 1 :]
            cmd = [sys.executable, "-m", "autograder.kernel_launch", settings_path, *rest]
            if use_bwrap:
                # Read-only view of the machine, a private /tmp with only this
                # notebook's folder writable, no network namespace change (ZMQ on
                # localhost must keep working).
                conn_dir = os.path.dirname(self.connection_file)
                cmd = [
                    shutil.which("bwrap"),
                    "--ro-bind",
                    "/",
                    "/",
                    "--dev",
                    "/dev",
                    "--proc",
                    "/proc",
                    "--tmpfs",
                    "/tmp",
                    "--bind",
                    workdir,
                    workdir,
                    "--bind",
                    os.path.dirname(settings_path),
                    os.path.dirname(settings_path),
                    "--ro-bind",
                    conn_dir,
                    conn_dir,
                    "--die-with-parent",
                    *cmd,
                ]
            return cmd

    return LimitedKernelManager


def _execute_class():
    from nbgrader.preprocessors import Execute

    class TrackedExecute(Execute):
        """nbgrader's Execute, remembering which cell is running."""

        current_index = -1

        def preprocess_cell(self, cell, resources, index):
            self.current_index = index
            return super().preprocess_cell(cell, resources, index)

    return TrackedExecute


def _kernel_pid(ep):
    km = getattr(ep, "km", None)
    prov = getattr(km, "provisioner", None)
    proc = getattr(prov, "process", None)
    return getattr(proc, "pid", None)


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
        ``guard`` (configuration for :func:`autograder.guard.install`, or None),
        ``kernel_env`` (extra environment for the kernel), ``tmp`` (parent directory
        for the private folder, optional), ``use_bwrap``.

    Returns
    -------
    dict
        ``key``, ``notebook`` (executed JSON text), ``status``, ``reason``,
        ``seconds``, ``violations`` (list of dicts logged by the guard), ``worker``.
    """
    if threading.current_thread() is threading.main_thread():
        return _execute_notebook(task)
    # nbclient runs its kernel client on the loop jupyter_core remembers in a context
    # variable.  A thread pool may hand every job a copy of one context, and so one
    # loop: two jobs would then share it ("This event loop is already running").  A
    # fresh context gets a fresh loop, closed when the job ends.
    return contextvars.Context().run(_execute_in_own_loop, task)


def _execute_in_own_loop(task):
    from jupyter_core.utils import ensure_event_loop

    loop = ensure_event_loop()
    try:
        return _execute_notebook(task)
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def _execute_notebook(task):
    import logging

    # A kernel killed on purpose makes tornado/zmq log "uncaught exception" noise.
    logging.getLogger("tornado").setLevel(logging.CRITICAL)
    t0 = time.perf_counter()
    base = Path(tempfile.mkdtemp(prefix="job-", dir=task.get("tmp")))
    workdir = base / "work"
    private = base / "private"
    workdir.mkdir()
    private.mkdir()
    status, reason = "ok", ""
    nb = nbformat.reads(task["notebook"], as_version=4)
    try:
        for rel, data in (task.get("files") or {}).items():
            target = workdir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        log_path = private / "guard.log"
        guard = dict(task["guard"]) if task.get("guard") else None
        if guard is not None:
            guard["workdir"] = str(workdir)
            guard["log"] = str(log_path)
            # Other jobs' folders live next to this one: never readable.
            if task.get("tmp"):
                guard["deny"] = [*guard.get("deny", []), str(base.parent)]
            guard["allow_read"] = [*guard.get("allow_read", []), str(private)]
        memory_mb = task.get("memory_mb")
        settings = {
            "memory_mb": memory_mb,
            "cpu_seconds": int(task.get("notebook_timeout") or 0) + 5 or None,
            "env": {
                "NBGRADER_EXECUTION": "autograde",
                # tempfile writes where the guard allows it
                "TMPDIR": str(workdir),
                **(task.get("kernel_env") or {}),
            },
            "guard": guard,
        }
        settings_path = private / "settings.json"
        settings_path.write_text(json.dumps(settings))

        ep = _execute_class()(
            timeout=task.get("cell_timeout", 60),
            interrupt_on_timeout=True,
            # the kernel is thrown away: no need to wait for a graceful exit
            shutdown_kernel="immediate",
            kernel_manager_class=_kernel_manager_class(
                str(settings_path), bool(task.get("use_bwrap")), str(workdir)
            ),
        )
        if task.get("kernel_name"):
            ep.kernel_name = task["kernel_name"]
        expired = threading.Event()

        def kill():
            expired.set()
            pid = _kernel_pid(ep)
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

        limit = task.get("notebook_timeout")
        timer = threading.Timer(limit, kill) if limit else None
        if timer:
            timer.daemon = True
            timer.start()
        try:
            try:
                ep.preprocess(nb, {"metadata": {"path": str(workdir)}})
            except RuntimeError as exc:
                # The kernel died before running anything (start-up failure, not the
                # student's code): try a fresh one once.
                if "before replying to kernel_info" not in str(exc) or expired.is_set():
                    raise
                nb = nbformat.reads(task["notebook"], as_version=4)
                ep.preprocess(nb, {"metadata": {"path": str(workdir)}})
        except Exception as exc:  # noqa: BLE001 - any execution failure is reported, not raised
            if expired.is_set():
                status = "notebook timeout"
                reason = f"the notebook ran longer than {limit:g} s"
            else:
                name = type(exc).__name__
                status = "kernel died" if "dead" in name.lower() else "error"
                reason = f"{name}: {exc}".strip()[:500]
                if "timeout" in name.lower():
                    status = "cell timeout"
                    reason = (
                        f"a cell ran longer than {task.get('cell_timeout', 60)} s and did not "
                        "stop when interrupted"
                    )
                if memory_mb and "dead" in status:
                    reason += f" (memory limit {memory_mb} MB)"
            _mark_unrun(nb, max(ep.current_index, 0), reason or status)
        finally:
            if timer:
                timer.cancel()
        if status == "ok":
            enames = [
                o.get("ename")
                for c in nb.cells
                if c.cell_type == "code"
                for o in c.get("outputs", [])
                if o.get("output_type") == "error"
            ]
            if "MemoryError" in enames:
                status, reason = "memory", f"MemoryError (limit {memory_mb} MB)"
            elif "CellTimeoutError" in enames:
                status = "cell timeout"
                reason = f"a cell ran longer than {task.get('cell_timeout', 60)} s"
        violations = []
        if log_path.exists():
            for line in log_path.read_text(errors="replace").splitlines():
                try:
                    violations.append(json.loads(line))
                except ValueError:
                    violations.append({"kind": "unreadable log line", "detail": line[:200]})
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return {
        "key": task.get("key"),
        "exec_seconds": _cell_seconds(nb),
        "notebook": nbformat.writes(nb),
        "status": status,
        "reason": reason,
        "seconds": time.perf_counter() - t0,
        "violations": violations,
        "worker": f"{os.uname().nodename}:{os.getpid()}",
    }
