"""A warm template for grading kernels: imported once, forked into a fresh sandbox per notebook.

A grading kernel spends most of its start-up importing NumPy, matplotlib, IPython and
ipykernel (0.4 s of CPU each time).  A grading worker starts this process once (as root,
never as a kernel; see :mod:`autograder.forked`)::

    python -m backprop_agent.template < SPEC_JSON

It builds the sandbox's read-only view of the system for itself (:func:`build_view`: a
private mount namespace whose root holds read-only binds of the system, the interpreter,
the virtualenv and this package, and nothing of the course or the grader), imports and
warms up what every kernel needs (:func:`warm_up`), and then only forks.  On each request
on its control socket (:data:`CONTROL` in its view; only the worker's uid may connect) it
forks one kernel in a sandbox of its own, as bubblewrap would have made it:

- new user, mount, pid, network, ipc, uts and cgroup namespaces; in the user namespace
  only uid and gid 65534 exist, mapped to the host's 65534 (``nobody``), and no further
  user namespace may be created;
- fresh, size-capped tmpfs folders for the home, ``/tmp``, ``/dev/shm`` and the kernel's
  sockets (``/run/grader``), over the template's own; its own ``/proc`` and
  ``/dev/pts``; hostname ``grader``; the assignment's files read-only in the working
  folder;
- uid and gid 65534, no capabilities (none in the bounding set either), no new
  privileges, its own session, the job's rlimits, the job's control group (the worker
  puts the child there before it unshares), and death when the template (and so the
  worker) dies.

In the new pid namespace, pid 1 is a small init (:func:`_init`) that reaps orphans and
exits with the kernel's status; the kernel is its child, as under bubblewrap.

The template never runs student code and never sees a submission: a request is plain data
(the connection information, the kernel's arguments and environment, the assignment's
files, the limits).  No thread or event loop exists in it when it forks, and nothing it
holds is shared with a kernel after the fork (no shared writable mapping, no open file
but the one socket the child needs).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import select
import signal
import socket
import sys

from . import seccomp, wire

CONTROL_DIR = "/run/template"
CONTROL = CONTROL_DIR + "/control.sock"
HOME = "/home/student"
WORK = HOME + "/work"
RUN = "/run/grader"
FILES = "/run/files"
SANDBOX_UID = 65534
#: Exit codes of a child that could not become a kernel.
SETUP_FAILED, FORK_FAILED = 70, 71

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_char_p,
]

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
SANDBOX_NAMESPACES = (
    CLONE_NEWUSER
    | CLONE_NEWNS
    | CLONE_NEWPID
    | CLONE_NEWNET
    | CLONE_NEWIPC
    | CLONE_NEWUTS
    | CLONE_NEWCGROUP
)
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 24, 38
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
AT_EMPTY_PATH, AT_RECURSIVE = 0x1000, 0x8000
MOUNT_ATTR_RDONLY = 0x1
SYS_MOUNT_SETATTR = 442  # the same number on x86_64 and aarch64
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}.get(os.uname().machine, 155)


def _check(result, what):
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def mount(source, target, fstype, flags, data=None):
    """mount(2); raises OSError naming `target`."""
    _check(
        _libc.mount(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            flags,
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


def unshare(flags):
    _check(_libc.unshare(flags), "unshare")


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def read_only_tree(path):
    """Make the mount at `path` and every mount below it read-only (mount_setattr(2))."""
    if not os.path.isdir(path):  # a file bind has no mounts below it
        mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID)
        return
    attr = _MountAttr(MOUNT_ATTR_RDONLY, 0, 0, 0)
    fd = os.open(path, os.O_PATH | os.O_DIRECTORY)
    try:
        _check(
            _libc.syscall(
                SYS_MOUNT_SETATTR,
                fd,
                b"",
                AT_EMPTY_PATH | AT_RECURSIVE,
                ctypes.byref(attr),
                ctypes.sizeof(attr),
            ),
            f"mount_setattr {path}",
        )
    finally:
        os.close(fd)


# -- the template's own view of the system -------------------------------------------------


def _ensure(path, is_dir=True):
    if is_dir:
        os.makedirs(path, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if not os.path.exists(path):
            open(path, "w").close()


#: Device nodes of the view's /dev (what bubblewrap's ``--dev`` gives).
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")


def build_view(spec):
    """Enter a private mount namespace whose root holds only what `spec` describes.

    `spec` (plain data, :func:`autograder.sandbox.view`): ``root`` (an empty host folder
    to build the view in), ``binds`` (``[host path, path inside]``, read-only),
    ``symlinks`` (``[target, path inside]``), ``hidden`` (paths inside covered with an
    empty read-only folder), ``font_cache`` (matplotlib's font list, or None).
    """
    unshare(CLONE_NEWNS)
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    root = spec["root"]
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,mode=0755")
    for d in ("/dev", "/dev/shm", "/proc", HOME, "/tmp", RUN, FILES, CONTROL_DIR, "/oldroot"):
        _ensure(root + d)
    # the writable folders before the binds: a course cloned under /tmp binds its
    # virtualenv from there, and a tmpfs mounted later would hide it.  A sandbox's user
    # must be able to walk down to those binds (each sandbox binds them again over its
    # own fresh /tmp): 0755, except the control folder
    for d, size, mode in (
        (HOME, "64m", "0755"),
        (CONTROL_DIR, "1m", "0700"),
        ("/tmp", "16m", "0755"),
    ):
        mount("tmpfs", root + d, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode={mode}")
    for target, link in spec.get("symlinks", []):
        _ensure(os.path.dirname(root + link))
        os.symlink(target, root + link)
    for src, dst in spec.get("binds", []):
        inside = root + dst
        _ensure(inside, os.path.isdir(src))
        mount(src, inside, None, MS_BIND | MS_REC)
        read_only_tree(inside)
    for path in spec.get("hidden", []):
        inside = root + path
        if os.path.isdir(inside):
            mount("tmpfs", inside, "tmpfs", MS_NOSUID | MS_NODEV | MS_RDONLY, "size=4k,mode=0555")
    mount("tmpfs", root + "/dev", "tmpfs", MS_NOSUID, "size=64k,mode=0755")
    for d in ("/dev/shm", "/dev/pts"):
        _ensure(root + d)
    for name in DEVICES:
        if os.path.exists("/dev/" + name):
            _ensure(root + "/dev/" + name, is_dir=False)
            mount("/dev/" + name, root + "/dev/" + name, None, MS_BIND)
    for name, target in (
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
    ):
        os.symlink(target, root + "/dev/" + name)
    # A proc of the template's own (host) pid namespace: a sandbox may mount a proc of
    # its own only where a proc is already visible; every sandbox covers it with its own.
    mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    if spec.get("font_cache"):
        inside = f"{root}{HOME}/.config/matplotlib/{os.path.basename(spec['font_cache'])}"
        _ensure(inside, is_dir=False)
        mount(spec["font_cache"], inside, None, MS_BIND)
        read_only_tree(inside)
    _check(_libc.syscall(SYS_PIVOT_ROOT, root.encode(), (root + "/oldroot").encode()), "pivot_root")
    os.chdir("/")
    _check(_libc.umount2(b"/oldroot", MNT_DETACH), "umount old root")
    os.rmdir("/oldroot")
    mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID)
    mount(None, "/dev", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID)


def warm_up():
    """Import (and initialise) what every kernel needs, without starting a thread.

    Raises RuntimeError when the template would hand its kernels something of its own
    (a thread, a ZMQ context, a shared writable mapping)."""
    # what ipykernel sets before a kernel's first cell imports matplotlib
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    os.makedirs(os.environ.setdefault("MPLCONFIGDIR", HOME + "/.config/matplotlib"), exist_ok=True)
    import ipykernel.debugger  # noqa: F401 - debugpy: a third of IPKernelApp.initialize
    import ipykernel.ipkernel  # noqa: F401
    import ipykernel.kernelapp  # noqa: F401
    import ipykernel.zmqshell  # noqa: F401
    import IPython  # noqa: F401
    import IPython.core.completer  # noqa: F401
    import IPython.core.interactiveshell  # noqa: F401
    import jupyter_client.session  # noqa: F401
    import matplotlib  # noqa: F401
    import matplotlib.font_manager
    import matplotlib.pyplot  # noqa: F401
    import matplotlib_inline.backend_inline  # noqa: F401
    import numpy  # noqa: F401
    import zmq

    from . import agent, elementwise, stubs  # noqa: F401

    matplotlib.font_manager.fontManager  # noqa: B018 - the font list, loaded once
    threads = os.listdir("/proc/self/task")
    if len(threads) != 1:
        raise RuntimeError(f"the template runs {len(threads)} threads; a fork keeps only one")
    if zmq.Context._instance is not None:
        raise RuntimeError("the template holds a ZMQ context")
    with open("/proc/self/maps") as f:
        shared = [line for line in f if line.split()[1].startswith("rw") and "s" in line.split()[1]]
    if shared:
        raise RuntimeError(f"the template holds {len(shared)} shared writable mappings")
    gc.collect()
    gc.freeze()  # the imported objects stay out of the kernels' collections: fewer copied pages


# -- forking a kernel ---------------------------------------------------------------------------


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def _become_sandbox_user():
    """uid and gid 65534 (in a user namespace where 0 is not mapped, the capabilities
    stay: the sandbox is set up as its own user, so what it creates is its own)."""
    os.setresgid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID)
    os.setresuid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID)


def _drop_privileges():
    """No capability (effective, permitted, inheritable, bounding, ambient), no new
    privileges; then death with the parent (a credential change clears the parent-death
    signal, so it comes last)."""
    _become_sandbox_user()
    for cap in range(64):
        _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    _check(_libc.capset(ctypes.byref(_CapHeader(0x20080522, 0)), (_CapData * 2)()), "capset")
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    seccomp.install()  # no keyrings, no inotify (backprop_agent.seccomp)
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "pdeathsig")


def _fresh_folders(job):
    """The sandbox's writable folders, new and empty, over the template's own."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    # binds of the view below a folder about to be covered: kept, and bound again on top
    kept = [(p, os.open(p, os.O_PATH)) for p in job.get("rebind", []) if os.path.exists(p)]
    owner = f"uid={SANDBOX_UID},gid={SANDBOX_UID}"
    for path, mb, mode in (
        (HOME, job["home_mb"], "0755"),
        ("/tmp", job["tmp_mb"], "1777"),
        (RUN, job["run_mb"], "0755"),
        ("/dev/shm", job["shm_mb"], "1777"),
    ):
        mount(
            "tmpfs",
            path,
            "tmpfs",
            MS_NOSUID | MS_NODEV,
            f"size={int(mb) * 2**20},mode={mode},{owner}",
        )
    # the template's control folder: empty and read-only in every sandbox
    mount("tmpfs", CONTROL_DIR, "tmpfs", MS_NOSUID | MS_NODEV | MS_RDONLY, "size=4k,mode=0555")
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for path, fd in kept:
        _ensure(path, os.path.isdir(f"/proc/self/fd/{fd}"))
        mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        os.close(fd)
    with contextlib.suppress(OSError):  # a kernel without ptys loses nothing it needs
        mount(
            "devpts",
            "/dev/pts",
            "devpts",
            MS_NOSUID | MS_NOEXEC,
            "newinstance,ptmxmode=0666,mode=620",
        )
    with open("/proc/sys/user/max_user_namespaces", "w") as f:
        f.write("0")
    _check(_libc.sethostname(b"grader", 6), "sethostname")
    _place_files(job.get("files", {}))


def _place_files(files):
    """The assignment's files, read-only in the working folder (binds of a read-only tmpfs,
    as bubblewrap's ``--ro-bind`` of each file)."""
    os.makedirs(WORK, exist_ok=True)
    os.chown(WORK, SANDBOX_UID, SANDBOX_UID)
    if not files:
        return
    total = sum(len(v) for v in files.values())
    mount("tmpfs", FILES, "tmpfs", MS_NOSUID | MS_NODEV, f"size={total + 2**20},mode=0755")
    for rel, data in files.items():
        if os.path.isabs(rel) or ".." in rel.split("/"):
            continue
        src, dst = os.path.join(FILES, rel), os.path.join(WORK, rel)
        os.makedirs(os.path.dirname(src), exist_ok=True)
        with open(src, "wb") as f:
            f.write(data)
        os.chmod(src, 0o444)
        for d in _parents(rel):
            os.makedirs(os.path.join(WORK, d), exist_ok=True)
            os.chown(os.path.join(WORK, d), SANDBOX_UID, SANDBOX_UID)
        _ensure(dst, is_dir=False)
        mount(src, dst, None, MS_BIND)
    mount(None, FILES, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    for rel in files:
        dst = os.path.join(WORK, rel)
        if os.path.exists(dst):
            mount(None, dst, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _parents(rel):
    parts = rel.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _become_kernel(job):
    """In the sandbox, pid 2: the job's environment and limits, then the kernel."""
    import resource

    os.umask(0o022)
    os.environ.clear()
    os.environ.update(job["env"])
    os.chdir(WORK)
    if sys.path and sys.path[0] == job.get("template_path0"):
        sys.path[0] = WORK  # what ``python -m`` started in WORK would have
    for name, value in job.get("rlimits", {}).items():
        resource.setrlimit(getattr(resource, name), tuple(value))
    devnull = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    import numpy

    numpy.random.seed()  # noqa: NPY002 - the legacy global generator, fresh as in a new process
    with open(RUN + "/kernel.json", "w") as f:
        f.write(job["connection"])
    from .agent import main

    sys.argv = ["backprop-kernel"]
    main(job["argv"])


def _init(job):
    """pid 1 of the sandbox: set it up, drop every privilege, start the kernel as pid 2,
    reap orphans, and exit with the kernel's status (the whole sandbox ends with it)."""
    _become_sandbox_user()
    _fresh_folders(job)
    os.setsid()
    _drop_privileges()
    kernel = os.fork()
    if kernel == 0:
        try:
            _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            _become_kernel(job)
        except BaseException:  # noqa: BLE001 - a kernel that could not start
            os._exit(SETUP_FAILED)
        os._exit(0)
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(0)
        except InterruptedError:
            continue
        if pid == kernel:
            code = os.waitstatus_to_exitcode(status)
            os._exit(128 - code if code < 0 else code)


def _probe(job, report):
    """A sandbox that checks what a kernel will need, and says so on `report`."""
    try:
        _become_sandbox_user()
        _fresh_folders(job)
        _drop_privileges()
        problems = []
        for path in job.get("readable", []):
            try:
                if os.path.isdir(path):
                    os.listdir(path)
                else:
                    with open(path, "rb") as f:
                        f.read(1)
            except OSError as exc:
                problems.append(f"{path}: {exc.strerror}")
        with open(HOME + "/probe", "w") as f:
            f.write("ok")
        status = open("/proc/self/status").read()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        facts = {
            "uid": os.getuid(),
            "pid": os.getpid(),
            "CapEff": fields["CapEff"].strip(),
            "CapBnd": fields["CapBnd"].strip(),
        }
        report.sendall(wire.pack({"problems": problems, "facts": facts}))
    except BaseException as exc:  # noqa: BLE001 - reported
        with contextlib.suppress(OSError):
            report.sendall(wire.pack({"problems": [f"{type(exc).__name__}: {exc}"]}))
    os._exit(0)


def _child(job, conn):
    """Forked from the template: close what is not ours, wait until the worker has put us
    in the job's control group, enter the new namespaces, fork the sandbox's init."""
    os.setsid()
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    os.closerange(3, conn.fileno())
    os.closerange(conn.fileno() + 1, 1 << 16)
    os.setgroups([])  # while still able to: a user namespace then forbids it
    _new_session_keyring()
    wire.recv(conn)  # "go": in the job's control group now
    unshare(SANDBOX_NAMESPACES)
    conn.sendall(wire.pack({"unshared": True}))
    wire.recv(conn)  # the template wrote our uid and gid maps
    init = os.fork()
    if init == 0:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        try:
            if job.get("probe"):
                _probe(job, conn)
            conn.close()
            _init(job)
        except BaseException:  # noqa: BLE001 - a sandbox that could not be set up
            os._exit(SETUP_FAILED)
        os._exit(0)
    conn.sendall(wire.pack({"init": init}))
    if job.get("probe"):
        os.waitpid(init, 0)
        os._exit(0)
    conn.close()
    _, status = os.waitpid(init, 0)
    os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


def _new_session_keyring():
    """A new, empty session keyring: a process keeps its session keyring across fork
    and unshare, and the worker's (a login's, a service's) is not the kernel's to see."""
    keyctl, join = {"x86_64": 250, "aarch64": 219}.get(os.uname().machine, -1), 1
    if keyctl < 0 or _libc.syscall(keyctl, join, None) < 0:
        raise OSError(ctypes.get_errno(), "keyctl(KEYCTL_JOIN_SESSION_KEYRING)")


class _Forked(BaseException):
    """Raised in a child just forked by :meth:`Template.fork`: unwinds the template's
    frames (the Template with its table of other sandboxes' pids and exit codes, the
    worker's request) to :func:`run`, which goes on as the child with nothing else."""

    def __init__(self, job, conn):
        super().__init__()
        self.job, self.conn = job, conn


def _write_maps(pid):
    with open(f"/proc/{pid}/setgroups", "w") as f:
        f.write("deny")
    for name in ("uid_map", "gid_map"):
        with open(f"/proc/{pid}/{name}", "w") as f:
            f.write(f"{SANDBOX_UID} {SANDBOX_UID} 1\n")


class Template:
    """The serving loop: one request at a time, a table of the children's exit codes."""

    def __init__(self, server, lifeline):
        self.server = server
        self.lifeline = lifeline
        self.children = set()
        self.exits = {}

    def fork(self, conn, job):
        here, there = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            here.close()
            # detached: the objects no longer own the fds _child closes
            self.server.detach()
            conn.detach()
            self.children.clear()
            self.exits.clear()
            raise _Forked(job, there)
        there.close()
        self.children.add(pid)
        try:
            conn.sendall(wire.pack({"child": pid}))
            wire.recv(conn)  # the worker put the child in the job's control group
            here.sendall(wire.pack({"go": True}))
            wire.recv(here)  # unshared
            _write_maps(pid)
            here.sendall(wire.pack({"mapped": True}))
            answer = {"child": pid}
            # the init's pid, and a probe's report (from the init itself, in any order)
            while "init" not in answer or (job.get("probe") and "problems" not in answer):
                answer.update(wire.recv(here)[0])
            conn.sendall(wire.pack(answer))
        except (OSError, wire.WireError, KeyError, ConnectionError) as exc:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                conn.sendall(wire.pack({"fault": f"{type(exc).__name__}: {exc}"}))
        finally:
            here.close()

    def reap(self):
        for pid in list(self.children):
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                self.children.discard(pid)
                continue
            if done:
                self.children.discard(pid)
                self.exits[pid] = os.waitstatus_to_exitcode(status)
        while len(self.exits) > 4096:
            self.exits.pop(next(iter(self.exits)))

    def status(self, pid):
        self.reap()
        return self.exits.get(pid)

    def serve(self):
        """Answer requests until the worker goes away (its end of the lifeline closes)."""
        while True:
            ready, _, _ = select.select([self.server, self.lifeline], [], [], 1.0)
            self.reap()
            if self.lifeline in ready:
                return
            if self.server not in ready:
                continue
            conn, _ = self.server.accept()
            with conn:
                self.answer(conn)
            self.reap()

    def answer(self, conn):
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
        _pid, uid, _gid = (int.from_bytes(creds[i : i + 4], sys.byteorder) for i in (0, 4, 8))
        if uid != os.getuid():  # only the worker that started us
            return
        try:
            header, blobs = wire.recv(conn)
        except (OSError, wire.WireError, ConnectionError):
            return
        op = header.get("op")
        if op == "ping":
            conn.sendall(wire.pack({"pong": os.getpid()}))
        elif op == "status":
            conn.sendall(wire.pack({"code": self.status(int(header["pid"]))}))
        elif op == "fork":
            job = json.loads(bytes(blobs[0]).decode())
            names = job.pop("file_names", [])
            job["files"] = {k: bytes(blobs[1 + i]) for i, k in enumerate(names)}
            job["template_path0"] = sys.path[0] if sys.path else None
            self.fork(conn, job)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    # the spec on stdin, not on the command line: every kernel forked from here shows
    # this process's command line in its /proc
    spec = json.loads(argv[0] if argv else sys.stdin.read())
    lifeline = int(spec["lifeline"])
    build_view(spec)
    warm_up()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(CONTROL)
    server.listen(8)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    devnull = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1):
        os.dup2(devnull, fd)
    os.close(devnull)
    template = Template(server, lifeline)
    template.serve()
    for pid in template.children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def run(argv=None):
    """The template's process: :func:`main`, and in a forked child, the sandbox (after
    the template's frames are gone)."""
    try:
        main(argv)
        return
    except _Forked as forked:
        job, conn = forked.job, forked.conn
    try:
        gc.collect()
        _child(job, conn)
    finally:
        os._exit(FORK_FAILED)


if __name__ == "__main__":
    run()
