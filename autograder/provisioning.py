"""How a grading kernel starts: jupyter_client kernel provisioners.

jupyter_client launches a kernel through the provisioner its kernel spec names
(``metadata.kernel_provisioner``, found by the entry point group
``jupyter_client.kernel_provisioners``; this package registers both below in its
``pyproject.toml``).  The grader's kernel manager (:mod:`autograder.sandbox`) names one of:

- ``backprop-forked`` (:class:`ForkedProvisioner`): the kernel is forked from the
  worker's warm template into a fresh sandbox (:mod:`autograder.forked`);
- ``backprop-sandbox`` (:class:`SandboxProvisioner`): a cold start, the kernel's
  command line under bubblewrap (or, with ``--no-sandbox``, a plain process), with the
  job's rlimits and control group.

Either way the kernel's sockets live in the sandbox's own folder, which the grader
reaches through ``/proc/<pid>/root``: the connection information a provisioner returns
is the grader's view of them (jupyter_client takes the provisioner's as the truth).
That folder is the kernel's to write, and ZMQ connects (and reconnects) by path: a
student's cell could put a symlink to a host socket in a socket's place, which the
grader, resolving it from its own root, would follow.  So the grader connects to each
socket by its inode (:func:`_pin_sockets`), once the kernel has bound it and before any
student code has run.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import shutil
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

from jupyter_client.provisioning import LocalProvisioner

from . import forked

#: Where a kernel's sockets are, inside its sandbox (autograder.sandbox.RUN + "/k").
SOCKETS_INSIDE = "/run/grader/k"


def _settle(future):
    if not future.done():
        future.set_result(None)


def _job(provisioner):
    job = getattr(provisioner.parent, "job", None)
    if job is None:
        raise RuntimeError(
            f"{type(provisioner).__name__} starts grading kernels only (its kernel manager "
            "carries the job: autograder.sandbox)"
        )
    return job


#: The kernel's ZMQ sockets, by their connection information's names.
PORTS = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
#: How long a kernel may take to bind its sockets after its launch (seconds).
BIND_TIMEOUT = 60.0


async def _pin_sockets(provisioner, info, root, folder):
    """Connection information `info` that reaches the kernel's sockets by inode.

    Waits until the kernel has bound each socket under `root` (its sandbox's root as
    the grader sees it), opens it ``O_PATH | O_NOFOLLOW`` (a symlink or anything but a
    socket is refused), and points a symlink in `folder` (the job's private folder,
    which the sandbox does not see) at ``/proc/self/fd/<fd>``: what ZMQ connects and
    reconnects to is that socket, whatever the kernel later puts at its path.  Until the
    kernel has bound them no student code has run in it.  Should the kernel end (or not
    bind in BIND_TIMEOUT) first, the links are missing and the client's wait for the
    kernel says so as before.

    The descriptors belong to the job (``job.pinned``) and are closed when the job ends,
    after its ZMQ contexts: a descriptor closed while a socket still reconnects through
    ``/proc/self/fd/<n>`` could see that number reopened by another job of the process
    (a thread pool's), and jupyter_client's cleanup removes ``<ip>-<port>`` files after
    the provisioner's: both would then reach another job's folder.
    """
    info = dict(info)
    folder = Path(folder)
    folder.mkdir(mode=0o700, exist_ok=True)
    fds = _job(provisioner).pinned
    for link in folder.glob("k-*"):
        link.unlink()
    # ZMQ reaches the links through the folder's own descriptor: a Unix socket's address
    # holds at most 107 bytes, and a job folder under a long $TMPDIR (a test's, a
    # cluster's scratch) is longer than that ("File name too long": every notebook lost).
    dirfd = os.open(folder, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    fds.append(dirfd)
    short = f"/proc/self/fd/{dirfd}/k"
    deadline = time.monotonic() + BIND_TIMEOUT
    for name in PORTS:
        path = f"{root}{SOCKETS_INSIDE}-{info[name]}"
        while True:
            try:
                fd = os.open(path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
            except FileNotFoundError:
                ended = provisioner.process is None or provisioner.process.poll() is not None
                if ended or time.monotonic() > deadline:
                    info["ip"] = short
                    return info
                await asyncio.sleep(0.005)
                continue
            except OSError as exc:  # ELOOP: a symlink
                raise RuntimeError(f"the kernel's socket {name} is not a socket: {exc}") from None
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                os.close(fd)
                raise RuntimeError(f"the kernel's socket {name} is not a socket")
            fds.append(fd)
            os.symlink(f"/proc/self/fd/{fd}", folder / f"k-{info[name]}")
            break
    info["ip"] = short
    return info


class SandboxProvisioner(LocalProvisioner):
    """A cold start: the kernel's command line (bwrap's, or a limited plain process)."""

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        from .sandbox import seccomp_fd

        job = _job(self)
        if job.sandboxed:  # bwrap reads the filter from it (the command names it)
            job.seccomp_fd = seccomp_fd()
        kwargs = await super().pre_launch(**kwargs)
        if job.sandboxed:
            kwargs["pass_fds"] = (job.seccomp_fd,)
            shutil.copyfile(self.parent.connection_file, job.inside_connection_file)
        kwargs.update(job.limits.popen_kwargs())
        # What the kernel prints before ipykernel captures its output goes nowhere.
        kwargs["stdout"] = kwargs["stderr"] = subprocess.DEVNULL
        if not job.sandboxed:
            from .sandbox import kernel_environment

            home = job.private / "home"
            home.mkdir(exist_ok=True)
            kwargs["env"] = kernel_environment(job.kernel_env, str(home))
            kwargs["cwd"] = str(job.files_dir or job.private)
        return kwargs

    async def launch_kernel(self, cmd: list[str], **kwargs: Any):
        job = _job(self)
        try:
            info = await super().launch_kernel(cmd, **kwargs)
        finally:
            job.limits.launched()
            if job.seccomp_fd is not None:
                os.close(job.seccomp_fd)
                job.seccomp_fd = None
        if not job.sandboxed:
            return info
        from .sandbox import sandbox_child

        job.sandbox_pid = await asyncio.to_thread(sandbox_child, self.process.pid)
        job.root = f"/proc/{job.sandbox_pid}/root"
        self.connection_info = await _pin_sockets(self, info, job.root, job.private / "k")
        return self.connection_info

    async def kill(self, restart: bool = False) -> None:
        await super().kill(restart)
        if self.process is not None:  # gone in a moment: no 0.1 s polling for it
            with contextlib.suppress(subprocess.TimeoutExpired):
                await asyncio.to_thread(self.process.wait, 1.0)


class ForkedProvisioner(LocalProvisioner):
    """The kernel forked from the worker's warm template into a sandbox of its own."""

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        kwargs = await super().pre_launch(**kwargs)
        if _job(self).template is None:
            raise RuntimeError("no kernel template for this job")
        return kwargs

    async def launch_kernel(self, cmd: list[str], **kwargs: Any):
        from .sandbox import AGENT, CONNECTION, HOME_MB, RUN_MB, SHM_MB, TMP_MB, kernel_environment

        job = _job(self)
        inside = dict(self.connection_info)
        inside["key"] = (
            inside["key"].decode() if isinstance(inside["key"], bytes) else inside["key"]
        )
        inside["ip"] = SOCKETS_INSIDE
        rest = cmd[cmd.index("-f") + 2 :] if "-f" in cmd else []
        request = {
            "connection": json.dumps(inside),
            "argv": [AGENT, "-f", CONNECTION, *rest],
            "env": kernel_environment(job.kernel_env),
            "rlimits": job.limits.rlimits(),
            "home_mb": HOME_MB,
            "tmp_mb": TMP_MB,
            "run_mb": RUN_MB,
            "shm_mb": SHM_MB,
        }
        child, init, pidfd = await asyncio.to_thread(
            job.template.fork, request, job.files, job.limits.join
        )
        self.process = forked.ChildProcess(child, pidfd, job.template)
        self.pid, self.pgid = child, None
        job.sandbox_pid = init
        job.root = f"/proc/{init}/root"
        self.connection_info = await _pin_sockets(
            self, self.connection_info, job.root, job.private / "k"
        )
        return self.connection_info

    async def kill(self, restart: bool = False) -> None:
        if self.process is not None:  # SIGKILL, and gone when this returns
            self.process.kill()

    async def terminate(self, restart: bool = False) -> None:
        if self.process is not None:
            self.process.terminate()

    async def wait(self) -> int | None:
        """Wait for the sandbox to end: woken by its pidfd, not polled every 0.1 s."""
        process = self.process
        if process is None:
            return 0
        loop = asyncio.get_running_loop()
        while process.poll() is None:
            ended = loop.create_future()
            fd = process.pidfd
            loop.add_reader(fd, functools.partial(_settle, ended))
            try:
                await asyncio.wait_for(ended, 0.5)
            except asyncio.TimeoutError:
                pass
            finally:
                loop.remove_reader(fd)
        self.process = None
        return process.returncode

    async def cleanup(self, restart: bool = False) -> None:
        if self.process is not None and self.process.pidfd is not None:
            self.process.poll()
        await super().cleanup(restart)
