"""`backprop-grade hub`: a class on JupyterHub, from accounts to feedback (run as root).

    backprop-grade hub setup                    # users, exchange, environment, course roots
    backprop-grade hub start                    # JupyterHub on http://127.0.0.1:8000
    backprop-grade hub release 01-chain-rule --due "2026-12-01 23:59" --tz Europe/Berlin
    backprop-grade hub collect 01-chain-rule    # the exchange's inbound -> submitted/
    backprop-grade hub grade 01-chain-rule      # backprop-grade grade on the course root
    backprop-grade hub feedback 01-chain-rule   # pages -> each student's feedback

Every exchange step runs as the course's instructor (their uid, their course root
``~<instructor>/<course id>``, the class environment), as it would from a terminal in
their JupyterLab; see :mod:`backprop_hub.setup` for the layout.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from pathlib import Path


def _state(args):
    return Path(args.state or os.environ.get("BACKPROP_HUB_STATE", "/srv/backprop-hub"))


def _course(args):
    from backprop_hub.setup import load_class

    for c in load_class(_state(args)):
        if c.course_id == args.course:
            return c
    raise SystemExit(f"backprop-grade hub: no course {args.course!r} in this class")


def instructor_env(state, user):
    """The environment an instructor's own commands run with (their server's)."""
    from backprop_hub.setup import ENV

    home = pwd.getpwnam(user).pw_dir
    return {
        "HOME": home,
        "USER": user,
        "LOGNAME": user,
        "PATH": f"{ENV / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "PYTHONPATH": str(state / "instructor-lib"),
        "JUPYTER_CONFIG_PATH": str(state / "config" / "instructor"),
        "LANG": "C.UTF-8",
        "MPLBACKEND": "agg",
    }


def run_as(user, argv, cwd, env, check=True):
    """Run ``argv`` as a local user (uid, gid and groups), printing its output.

    Returns
    -------
    subprocess.CompletedProcess
    """
    pw = pwd.getpwnam(user)
    proc = subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        env=env,
        user=pw.pw_uid,
        group=pw.pw_gid,
        extra_groups=os.getgrouplist(user, pw.pw_gid),
        capture_output=True,
        text=True,
    )
    sys.stdout.write(proc.stdout + proc.stderr)
    if check and proc.returncode != 0:
        raise SystemExit(f"backprop-grade hub: {argv[0]} failed as {user} ({proc.returncode})")
    return proc


def as_instructor(args, *argv, check=True):
    """Run a command of the class environment as the course's instructor in its root."""
    from backprop_hub.setup import ENV, course_root

    state, course = _state(args), _course(args)
    user = course.instructors[0]
    exe = ENV / "bin" / argv[0]
    return run_as(user, [exe, *argv[1:]], course_root(course), instructor_env(state, user), check)


def _class(state):
    """The class set up in ``state`` before, else the demo class."""
    from backprop_hub import setup

    return setup.load_class(state) if (state / "class.json").exists() else setup.DEMO


def cmd_setup(args):
    from backprop_hub import setup

    os.environ["BACKPROP_HUB_STATE"] = str(_state(args))
    table = setup.setup(_class(_state(args)), _state(args), getattr(args, "root", None))
    _print_accounts(table)
    return 0


def _print_accounts(table):
    print("accounts (user  role  password):")
    for user, a in table.items():
        print(f"  {user:16} {a['role']:10} {a['password']}")


def cmd_start(args):
    from backprop_hub import setup

    state = _state(args)
    os.environ["BACKPROP_HUB_STATE"] = str(state)
    os.environ["BACKPROP_HUB_PORT"] = str(args.port)
    table = setup.setup(_class(state), state, getattr(args, "root", None))
    config = Path(setup.__file__).with_name("jupyterhub_config.py")
    print(f"JupyterHub: http://127.0.0.1:{args.port}/  (Ctrl-C stops it)")
    _print_accounts(table)
    sys.stdout.flush()
    hub = Path(sys.executable).with_name("jupyterhub")
    os.chdir(state / "hub")
    os.execv(hub, [str(hub), "-f", str(config)])


def cmd_release(args):
    due = []
    for when in args.due or []:
        due += ["--due", when]
    if args.tz:
        due += ["--tz", args.tz]
    as_instructor(args, "python", "-m", "autograder", "release", args.assignment, *due)
    as_instructor(args, "nbgrader", "release_assignment", args.assignment, "--force")
    return 0


def cmd_collect(args):
    as_instructor(args, "nbgrader", "collect", args.assignment, "--update")
    return 0


def cmd_grade(args):
    """Grade as root (the sandbox is root's), then give the course root back."""
    from backprop_hub.setup import course_root

    course = _course(args)
    root = course_root(course)
    argv = [sys.executable, "-m", "autograder", "--root", root, "grade", args.assignment]
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
    code = subprocess.run([str(a) for a in [*argv, "--jobs", args.jobs]], env=env).returncode
    owner = pwd.getpwnam(course.instructors[0])
    for path in [root, *root.rglob("*")]:
        os.lchown(path, owner.pw_uid, owner.pw_gid)
    return code


def cmd_feedback(args):
    as_instructor(args, "python", "-m", "autograder", "feedback", args.assignment)
    as_instructor(args, "nbgrader", "release_feedback", args.assignment)
    return 0


def add_parser(sub, add):
    """Register ``hub`` and its sub-commands on ``backprop-grade``'s parser."""
    p = add(
        "hub",
        "a class on JupyterHub: set up, start, release, collect, return feedback",
        __doc__.split("\n\n")[1],
        lambda args: p.print_help() or 2,
    )
    p.add_argument(
        "--state", help="state folder (default: $BACKPROP_HUB_STATE or /srv/backprop-hub)"
    )
    p.add_argument("--course", default="backprop-course", help="course id (default: %(default)s)")
    hub_sub = p.add_subparsers(dest="hub_command", metavar="STEP")
    steps = {
        "setup": (cmd_setup, "users, groups, exchange, environment, course roots (idempotent)"),
        "start": (cmd_start, "set up, then run JupyterHub on 127.0.0.1"),
        "release": (cmd_release, "generate and release an assignment to the exchange"),
        "collect": (cmd_collect, "collect submissions from the exchange into submitted/"),
        "grade": (cmd_grade, "grade the collected submissions (backprop-grade grade, as root)"),
        "feedback": (cmd_feedback, "write feedback pages and release them to the students"),
    }
    for name, (func, help_) in steps.items():
        s = hub_sub.add_parser(name, help=help_, description=help_)
        s.set_defaults(func=func)
        if name == "start":
            s.add_argument("--port", type=int, default=8000, help="public port (default 8000)")
        if name == "grade":
            s.add_argument("--jobs", type=int, default=2, help="parallel workers (default 2)")
        if name in ("release", "collect", "grade", "feedback"):
            s.add_argument("assignment", metavar="ASSIGNMENT")
        if name == "release":
            s.add_argument("--due", action="append", metavar="[ASSIGNMENT=]WHEN")
            s.add_argument("--tz", help="IANA time zone of --due")
    return p
