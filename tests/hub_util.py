"""Test support for the class on JupyterHub: a class of its own, commands as its users.

The tests' class has its own state folder and its own users and courses (``bpt-*``), so a
demo class started with ``make hub`` on the same machine is left alone.  The class
environment (``<state>/env``) is installed once per machine (about 90 s) and reused.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pwd
import shutil
import subprocess
from pathlib import Path

import nbformat

from backprop_hub import setup
from backprop_hub.setup import ENV

STATE = Path(os.environ.get("BACKPROP_HUB_TEST_STATE", "/srv/backprop-hub-test"))
COURSE_A = setup.Course("bpt-course", ["bpt-instructor"], ["bpt-alice", "bpt-bob"])
COURSE_B = setup.Course("bpt-course-b", ["bpt-instructor"], ["bpt-carol"], ["01-chain-rule"])
CLASS = (COURSE_A, COURSE_B)
ASSIGNMENT = "01-chain-rule"
NOTEBOOK = "chain_rule.ipynb"


@contextlib.contextmanager
def class_lock():
    """Held while a test uses the tests' class: two test runs on one machine take turns."""
    STATE.parent.mkdir(parents=True, exist_ok=True)
    with open(STATE.parent / (STATE.name + ".lock"), "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def fresh_class():
    """Set the tests' class up with an empty exchange and fresh course roots.

    Returns
    -------
    dict
        The accounts (``{user: {"role", "password"}}``).
    """
    shutil.rmtree(STATE / "exchange", ignore_errors=True)
    for user, role in setup.accounts(CLASS).items():
        try:
            home = Path(pwd.getpwnam(user).pw_dir)
        except KeyError:
            continue  # made by setup below
        subs = [c.course_id for c in CLASS] + ["nbgrader_config.py"]
        if role == "student":
            subs.append(".local/share/jupyter/nbgrader_cache")
        for sub in subs:
            if (home / sub).is_file():
                (home / sub).unlink()
            shutil.rmtree(home / sub, ignore_errors=True)
    return setup.setup(CLASS, STATE)


def user_env(user):
    """The environment of ``user``'s own commands (what their single-user server has)."""
    role = setup.accounts(CLASS)[user]
    env = {
        "HOME": pwd.getpwnam(user).pw_dir,
        "USER": user,
        "LOGNAME": user,
        "PATH": f"{ENV / 'bin'}:/usr/bin:/bin",
        "JUPYTER_CONFIG_PATH": str(STATE / "config" / role),
        "LANG": "C.UTF-8",
        "MPLBACKEND": "agg",
    }
    lib = "instructor-lib" if role == "instructor" else "edition/lib"
    env["PYTHONPATH"] = str(STATE / lib)
    return env


def run_as(user, *argv, cwd=None, check=True):
    """Run a command of the class environment as ``user`` (``argv[0]`` in its bin/)."""
    pw = pwd.getpwnam(user)
    exe = ENV / "bin" / argv[0]
    proc = subprocess.run(
        [str(exe) if exe.exists() else argv[0], *map(str, argv[1:])],
        cwd=cwd or pw.pw_dir,
        env=user_env(user),
        user=pw.pw_uid,
        group=pw.pw_gid,
        extra_groups=os.getgrouplist(user, pw.pw_gid),
        capture_output=True,
        text=True,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{argv} as {user} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


_PROBE = """
import json, os, shutil, sys
ops = json.loads(sys.argv[1])
out = []
for op, path, *arg in ops:
    try:
        if op == "list":
            os.listdir(path)
        elif op == "read":
            open(path, "rb").read()
        elif op == "write":
            with open(path, "w") as f:
                f.write(arg[0])
        elif op == "delete":
            shutil.rmtree(path) if os.path.isdir(path) else os.unlink(path)
        elif op == "rename":
            os.rename(path, arg[0])
        elif op == "mkdir":
            os.mkdir(path)
        out.append("ok")
    except OSError as e:
        out.append(type(e).__name__)
print(json.dumps(out))
"""


def probe(user, *ops):
    """Try file operations as ``user``; each gives "ok" or the OSError's class name.

    ``ops`` are ``(op, path, *arg)`` with op in list, read, write (arg: text), delete,
    rename (arg: new path), mkdir.
    """
    proc = run_as(
        user, "/usr/bin/python3", "-c", _PROBE, json.dumps([list(map(str, o)) for o in ops])
    )
    return json.loads(proc.stdout)


def completed(release, source):
    """The release notebook with the source's solutions in its answer cells."""
    nb, src = nbformat.read(release, as_version=4), nbformat.read(source, as_version=4)
    answers = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in src.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    for c in nb.cells:
        meta = c.metadata.get("nbgrader", {})
        if meta.get("solution"):
            c.source = answers[meta["grade_id"]]
    return nb
