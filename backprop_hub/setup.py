"""Set up a class on this machine (as root): accounts, exchange, environment, course roots.

Everything lives under one state folder (``$BACKPROP_HUB_STATE``, default
``/srv/backprop-hub``)::

    edition/        the student edition (backprop_hub.edition): PYTHONPATH of the
                    students' servers and kernels
    instructor-lib/ the full course (grader included) for the instructors' servers only
                    (group backprop-instructors, mode 0750)
    node/           configurable-http-proxy from npm (JupyterHub's proxy)
    config/student, config/instructor
                    JUPYTER_CONFIG_PATH of each role: nbgrader's private exchange, and
                    which nbgrader extensions show (formgrader for instructors only)
    exchange/       the private exchange (backprop_hub.exchange), one folder per course
    hub/            JupyterHub's database, cookie secret, accounts (root only)

The class environment, ``$BACKPROP_HUB_ENV`` (default ``/opt/backprop-hub/env``), is the
Python every single-user server and kernel runs (JupyterHub's single-user server,
JupyterLab, nbgrader, the course's dependencies; no course code).

Users are real local accounts (``useradd``): JupyterHub's LocalProcessSpawner runs each
single-user server as its own uid, so the exchange's permissions hold between them.
The course roots are ``~<instructor>/<course id>`` with the set-up course root's
``nbgrader_config.py``, ``solutions/`` and ``notebooks/``.
"""

from __future__ import annotations

import grp
import hashlib
import importlib
import json
import os
import pwd
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import edition
from .exchange import nbgrader_config_lines

STATE = Path(os.environ.get("BACKPROP_HUB_STATE", "/srv/backprop-hub"))
# The class environment holds no state: one per machine, shared by every class on it.
ENV = Path(os.environ.get("BACKPROP_HUB_ENV", "/opt/backprop-hub/env"))

# What the single-user servers and kernels need: the course's own dependencies and
# JupyterHub's single-user server (same major version as the hub).
ENV_REQUIREMENTS = (
    "jupyterhub>=5.3,<7",
    "jupyterlab>=4.2,<5",
    "nbgrader>=0.9.5,<0.10",
    "sqlalchemy>=1.4,<2.1",
    "numpy>=1.24",
    "matplotlib>=3.7",
    "ipywidgets>=8.1",
    "scikit-learn>=1.3",
    "threadpoolctl>=3.1",
    "latex2mathml>=3.77",
    "jinja2>=3.1",
    "mistune>=3",
    "bleach>=6",
    "pygments>=2.15",
    "pyyaml>=6",
)
PROXY_PACKAGE = "configurable-http-proxy@5"

# nbgrader's Lab extensions by role: students fetch, validate and submit; instructors
# also get formgrader, the course list and Create Assignment.
_STUDENT_OFF = (
    "@jupyter/nbgrader:course-list",
    "@jupyter/nbgrader:create-assignment",
    "@jupyter/nbgrader:formgrader",
)
_STUDENT_SERVER = {
    "nbgrader.server_extensions.assignment_list": True,
    "nbgrader.server_extensions.course_list": False,
    "nbgrader.server_extensions.formgrader": False,
    "nbgrader.server_extensions.validate_assignment": True,
}


@dataclass
class Course:
    """One course of the class: its id, instructors and students (local user names)."""

    course_id: str
    instructors: list[str]
    students: list[str]
    assignments: list[str] = field(default_factory=list)  # [] = all of solutions/

    @property
    def class_group(self):
        return f"{self.course_id}-class"

    @property
    def graders_group(self):
        return f"{self.course_id}-graders"


INSTRUCTORS_GROUP = "backprop-instructors"  # who may read instructor-lib/

DEMO = (
    Course("backprop-course", ["bp-instructor"], ["bp-alice", "bp-bob"]),
    Course("backprop-course-b", ["bp-instructor"], ["bp-carol"], ["01-chain-rule"]),
)


def save_class(courses, state=STATE):
    """Write the class (courses, their people) to ``<state>/class.json``."""
    data = [dict(vars(c)) for c in courses]
    _write(Path(state) / "class.json", json.dumps(data, indent=1))


def load_class(state=STATE):
    """The courses :func:`setup` made in ``state``.

    Raises
    ------
    FileNotFoundError
        Before ``backprop-grade hub setup``.
    """
    return [Course(**d) for d in json.loads((Path(state) / "class.json").read_text())]


def _run(*cmd, **kw):
    return subprocess.run([str(c) for c in cmd], check=True, **kw)


def ensure_group(name):
    try:
        grp.getgrnam(name)
    except KeyError:
        _run("groupadd", name)


def ensure_user(name, groups):
    """A local account with a private home (``0700``) in ``groups``."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        _run("useradd", "--create-home", "--shell", "/bin/bash", name)
    if groups:
        _run("usermod", "--append", "--groups", ",".join(sorted(groups)), name)
    os.chmod(pwd.getpwnam(name).pw_dir, 0o700)


def _mkdir(path, owner, group, mode):
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, pwd.getpwnam(owner).pw_uid if owner else 0, grp.getgrnam(group).gr_gid)
    os.chmod(path, mode)  # after chown, which clears setgid
    return path


def make_course_exchange(root, course):
    """The course's exchange folders with the modes :mod:`backprop_hub.exchange` relies on."""
    root = _mkdir(root, None, "root", 0o755)
    owner = course.instructors[0]
    base = _mkdir(root / course.course_id, owner, course.class_group, 0o750)
    _mkdir(base / "outbound", owner, course.class_group, 0o755)
    _mkdir(base / "inbound", owner, course.graders_group, 0o3753)
    _mkdir(base / "feedback", owner, course.class_group, 0o711)
    return base


def accounts(courses=DEMO):
    """Every user name with its role ("instructor" wins over "student")."""
    roles = {}
    for c in courses:
        for s in c.students:
            roles.setdefault(s, "student")
        for i in c.instructors:
            roles[i] = "instructor"
    return roles


def make_accounts(courses=DEMO, state=STATE):
    """Users and groups; demo passwords in ``hub/accounts.json`` (root only).

    Returns
    -------
    dict
        ``{user: {"role": ..., "password": ...}}``.
    """
    groups = {}
    for c in courses:
        ensure_group(c.class_group)
        ensure_group(c.graders_group)
        for u in c.students + c.instructors:
            groups.setdefault(u, set()).add(c.class_group)
        for u in c.instructors:
            groups[u].update({c.graders_group, INSTRUCTORS_GROUP})
    ensure_group(INSTRUCTORS_GROUP)
    for user, gs in groups.items():
        ensure_user(user, gs)
    hub = _mkdir(state / "hub", None, "root", 0o700)
    path = hub / "accounts.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    table = {
        u: {"role": role, "password": old.get(u, {}).get("password") or secrets.token_urlsafe(9)}
        for u, role in accounts(courses).items()
    }
    path.write_text(json.dumps(table, indent=1))
    os.chmod(path, 0o600)
    return table


def _shared_python():
    """A Python 3 every user may run (a pyenv under /root is not one)."""
    for candidate in (os.environ.get("BACKPROP_HUB_PYTHON"), "/usr/bin/python3", sys.executable):
        if candidate and os.path.exists(candidate):
            real = Path(os.path.realpath(candidate))
            if all(os.stat(p).st_mode & 0o001 for p in [*real.parents, real]):
                return candidate
    raise RuntimeError("no Python 3 that other users can run: set BACKPROP_HUB_PYTHON")


def make_env(env=ENV):
    """The class environment (made once; re-made when ENV_REQUIREMENTS change)."""
    env = Path(env)
    stamp = env / ".requirements"
    wanted = hashlib.sha256("\n".join(ENV_REQUIREMENTS).encode()).hexdigest()
    if not (stamp.exists() and stamp.read_text() == wanted):
        if env.exists():
            shutil.rmtree(env)
        env.parent.mkdir(parents=True, exist_ok=True)
        _run(_shared_python(), "-m", "venv", env)
        print("hub: installing the class environment (a minute or two, once)", flush=True)
        _run(env / "bin/python", "-m", "pip", "install", "--quiet", *ENV_REQUIREMENTS)
        stamp.write_text(wanted)
    return env


def make_proxy(state=STATE):
    """configurable-http-proxy, the proxy JupyterHub starts (npm's package)."""
    node = state / "node"
    binary = node / "node_modules" / ".bin" / "configurable-http-proxy"
    if not binary.exists():
        node.mkdir(parents=True, exist_ok=True)
        _run(
            "npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", node, PROXY_PACKAGE
        )
    return binary


def make_instructor_lib(state=STATE):
    """The whole course (grader and checks) for the instructors' servers only."""
    lib = state / "instructor-lib"
    if lib.exists():
        shutil.rmtree(lib)
    lib.mkdir(parents=True)
    for pkg in ("course", "autograder", "backprop_agent", "backprop_hub"):
        installed = Path(importlib.import_module(pkg).__file__).resolve().parent
        shutil.copytree(installed, lib / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    # the entry points (kernel provisioners) of the installed course
    meta = lib / "backprop_course-0.1.0.dist-info"
    meta.mkdir()
    (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: backprop-course\nVersion: 0.1.0\n")
    (meta / "entry_points.txt").write_text(_entry_points())
    for path in [lib, *lib.rglob("*")]:
        os.chown(path, 0, grp.getgrnam(INSTRUCTORS_GROUP).gr_gid)
        os.chmod(path, 0o750 if path.is_dir() else 0o640)
    return lib


def _entry_points():
    """The course distribution's entry points (its kernel provisioners, its script)."""
    from importlib.metadata import distribution

    return distribution("backprop-course").read_text("entry_points.txt") or ""


def _write(path, text, mode=0o644):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chmod(path, mode)


def make_configs(state=STATE, root=None):
    """JUPYTER_CONFIG_PATH folders of the two roles (readable by all: no secrets), with
    the server settings of the course root `root` (default: :func:`_root`)."""
    origin = _root(root)
    exchange = nbgrader_config_lines(state / "exchange")
    header = "# Written by backprop-grade hub setup: nbgrader's private exchange.\nc = get_config()  # noqa\n"
    for role in ("student", "instructor"):
        base = state / "config" / role
        _write(base / "nbgrader_config.py", header + "\n".join(exchange) + "\n")
        disabled = {"@jupyterlab/apputils-extension:announcements": True}
        if role == "student":
            disabled.update(dict.fromkeys(_STUDENT_OFF, True))
            server = {"ServerApp": {"jpserver_extensions": _STUDENT_SERVER}}
            _write(base / "jupyter_server_config.d" / "nbgrader.json", json.dumps(server, indent=1))
        _write(
            base / "labconfig" / "page_config.json", json.dumps({"disabledExtensions": disabled})
        )
        # the course's own server settings, as make lab and the installed course have them
        # (a pre-save hook for everyone; the instructors' server extensions)
        shared = [
            (origin / "lab-config" / "jupyter_server_config.json", "jupyter_server_config.json")
        ]
        if role == "instructor":
            extensions = origin / "jupyter-config" / "jupyter_server_config.d"
            shared += [(p, f"jupyter_server_config.d/{p.name}") for p in extensions.glob("*.json")]
        for src, rel in shared:
            if src.exists():
                _write(base / rel, src.read_text())
    for d in [state / "config", *(state / "config").rglob("*")]:
        if d.is_dir():
            os.chmod(d, 0o755)


def course_root(course):
    """``~<first instructor>/<course id>``."""
    return Path(pwd.getpwnam(course.instructors[0]).pw_dir) / course.course_id


def make_course_root(course, state=STATE, root=None):
    """The instructor's course root: the configuration, source and release of the course
    root `root` (default: :func:`_root`), the course id and the exchange appended (kept
    if it exists: it holds the gradebook)."""
    origin = _root(root)
    root = course_root(course)
    if not (root / "nbgrader_config.py").exists():
        root.mkdir(parents=True, exist_ok=True)
        ids = course.assignments or sorted(
            p.name for p in (origin / "solutions").iterdir() if p.is_dir()
        )
        for folder in ("solutions", "notebooks"):
            for a in ids:
                shutil.copytree(origin / folder / a, root / folder / a)
        config = (origin / "nbgrader_config.py").read_text()
        config += "\n# -- This course on the class's hub (backprop-grade hub setup) --\n"
        config += f"c.CourseDirectory.course_id = {course.course_id!r}\n"
        config += "\n".join(nbgrader_config_lines(state / "exchange")) + "\n"
        (root / "nbgrader_config.py").write_text(config)
    owner = pwd.getpwnam(course.instructors[0])
    home_config = Path(owner.pw_dir) / "nbgrader_config.py"
    if not home_config.exists():
        # nbgrader (formgrader too) reads nbgrader_config.py where the server starts: the
        # home folder; it works on the instructor's first course
        home_config.write_text(
            "# The course formgrader and nbgrader work on (backprop-grade hub setup).\n"
            f"load_subconfig({str(root / 'nbgrader_config.py')!r})  # noqa: F821\n"
        )
    for path in [home_config, root, *root.rglob("*")]:
        os.chown(path, owner.pw_uid, owner.pw_gid)
    return root


def _root(root=None):
    """The course root a class is made from: `root`, else the one the autograder finds
    (the current directory or above it, :func:`autograder.course_config.default_root`)."""
    from autograder.course_config import default_root

    return Path(root).resolve() if root else default_root()


def setup(courses=DEMO, state=STATE, root=None):
    """The whole class set-up (idempotent) from the course root `root` (default:
    :func:`_root`).  Needs root.

    Returns
    -------
    dict
        The accounts, as :func:`make_accounts`.
    """
    if os.geteuid() != 0:
        raise PermissionError("backprop-grade hub setup creates users: run it as root")
    state = Path(state)
    root = _root(root)
    _mkdir(state, None, "root", 0o755)
    table = make_accounts(courses, state)
    edition.build(state / "edition", root)
    make_env()
    make_proxy(state)
    make_instructor_lib(state)
    make_configs(state, root)
    save_class(courses, state)
    for c in courses:
        make_course_exchange(state / "exchange", c)
        make_course_root(c, state, root)
    return table
