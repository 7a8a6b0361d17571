"""The student edition: what a student's JupyterLab gets, and nothing a grader keeps.

Layout of an edition folder (``build(dest)``)::

    dest/lib/course/...          the course library with course.checks (Validate runs it)
    dest/lib/backprop_hub/...    the exchange client (the student's submit and fetch)
    dest/notebooks/<id>/*.ipynb  the release notebooks, as nbgrader generated them
    dest/notebooks/README.md     the students' guide

``dest/lib`` is put on the student's ``sys.path`` (a ``.pth`` file in the hub's
environment, or ``PYTHONPATH`` for ``make lab``).  The release notebooks' test cells
call ``course.checks.<notebook>``: those checks compute every reference from the course
library by finite differences (no stored answer, nothing of ``solutions/``), so they are
the student's Validate and belong to the edition.  Not in it: ``solutions/`` (nbgrader's
source), ``source/``, the grader (``autograder/``, ``backprop_agent/``), the hub's
set-up, the sample class and planted bugs (``classroom/``), tests, benchmarks and the
course's ``nbgrader_config.py``; :func:`check` fails on any of them.
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
from pathlib import Path

# (what, where: a package's file or folder, or the course root's; where in the edition)
PARTS = (
    ("library", ("course", ""), "lib/course"),
    ("exchange client", ("backprop_hub", "__init__.py"), "lib/backprop_hub/__init__.py"),
    ("exchange client", ("backprop_hub", "exchange.py"), "lib/backprop_hub/exchange.py"),
    ("release", (None, "release"), "notebooks"),
)
# Nothing below may reach a student.
FORBIDDEN_DIRS = {"solutions", "source", "autograder", "backprop_agent", "classroom", "tests"}
FORBIDDEN_FILES = {"nbgrader_config.py", "gradebook.db", "setup.py", "jupyterhub_config.py"}
_JUNK = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", ".*")


def build(dest, root=None):
    """Write the student edition into ``dest`` (replaced if it exists).

    Parameters
    ----------
    dest : path
        The edition's folder.
    root : path, optional
        The course root whose release it holds (default: found as the autograder finds
        it, :func:`autograder.course_config.default_root`); the library and the exchange
        client are the installed packages'.

    Returns
    -------
    pathlib.Path
        ``dest``.

    Raises
    ------
    ValueError
        If the result holds anything of :data:`FORBIDDEN_DIRS` or :data:`FORBIDDEN_FILES`.
    autograder.course_config.CourseNotFound
        When `root` is None and no course root is found.
    """
    from autograder.course_config import Course

    course = Course.load(root)
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    for _, (package, rel), target in PARTS:
        if package is None:
            base, src = course.root, course.release
        else:
            folder = Path(importlib.import_module(package).__file__).resolve().parent
            base, src = folder.parent, folder / rel
        target = dest / target
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            _copy_tracked(base, src, target)
        else:
            shutil.copy2(src, target)
    problems = check(dest)
    if problems:
        raise ValueError("the student edition would hold: " + ", ".join(problems))
    return dest


def _copy_tracked(base, src, target):
    """Copy a folder: only the files git tracks when `base` is a clone (a student's work
    in the clone's notebooks/ stays out), everything but caches and hidden files
    otherwise."""
    listed = subprocess.run(
        ["git", "-C", str(base), "ls-files", "-z", "--", str(src.relative_to(base))],
        capture_output=True,
        text=True,
    )
    if listed.returncode != 0 or not listed.stdout:
        shutil.copytree(src, target, ignore=_JUNK)
        return
    for rel in filter(None, listed.stdout.split("\0")):
        path = base / rel
        if path.is_file() and "__pycache__" not in path.parts:
            out = target / path.relative_to(src)
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, out)


def files(dest):
    """Every file of an edition, as sorted POSIX paths relative to ``dest``."""
    dest = Path(dest)
    return sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())


def check(dest):
    """What an edition holds that it must not (``[]`` when clean).

    Returns
    -------
    list of str
        Relative paths of forbidden folders and files.
    """
    return check_names(files(dest))


def check_names(names):
    """The forbidden ones among relative POSIX paths (an edition's files, a wheel's names)."""
    bad = []
    for rel in names:
        parts = rel.split("/")
        if FORBIDDEN_DIRS.intersection(parts[:-1]) or parts[-1] in FORBIDDEN_FILES:
            bad.append(rel)
    return bad


def prepare_workdir(dest, root=None):
    """A student's working folder holding the edition (``make lab``).

    ``dest/lib`` (the library) is made fresh each time; ``dest/notebooks`` gets every
    release notebook it does not have yet and keeps the rest, so a student's work is never
    overwritten (and the course root's own ``notebooks/`` is never touched); `root` as
    for :func:`build`.

    Returns
    -------
    list of str
        The notebooks copied in this time (POSIX paths relative to ``dest``).
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    fresh = dest / ".edition"
    build(fresh, root)
    if (dest / "lib").exists():
        shutil.rmtree(dest / "lib")
    (fresh / "lib").rename(dest / "lib")
    added = []
    for rel in files(fresh):
        target = dest / rel
        # a variant table is the instructor's, not the student's work: always the fresh one
        fresh_table = rel.endswith("/variants.json")
        if rel.startswith("notebooks/") and (fresh_table or not target.exists()):
            target.parent.mkdir(parents=True, exist_ok=True)
            if rel.endswith(".ipynb") or not target.exists():
                added.append(rel)
            shutil.copy2(fresh / rel, target)
    shutil.rmtree(fresh)
    return added


# What the edition's code imports (the course's own dependencies; nbgrader for Validate).
WHEEL_REQUIRES = (
    "numpy>=1.24",
    "matplotlib>=3.7",
    "ipywidgets>=8.1",
    "scikit-learn>=1.3",
    "threadpoolctl>=3.1",
    "nbgrader>=0.9.5,<0.10",
)


def wheel(dest, version="0.1.0", root=None):
    """The edition as a wheel, ``backprop_course_student-<version>-py3-none-any.whl``.

    ``pip install`` it for a student's own machine: the packages of ``lib/`` go to
    site-packages, the notebooks to ``<prefix>/share/backprop-course/notebooks``; `root`
    as for :func:`build`.

    Returns
    -------
    pathlib.Path
        The wheel file, written into the folder ``dest``.
    """
    import base64
    import hashlib
    import tempfile
    import zipfile

    name, dest = "backprop_course_student", Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    info, data = f"{name}-{version}.dist-info", f"{name}-{version}.data/data/share/backprop-course"
    metadata = (
        f"Metadata-Version: 2.1\nName: backprop-course-student\nVersion: {version}\n"
        "Summary: The backpropagation course, student edition (no solutions, no grader)\n"
        + "".join(f"Requires-Dist: {r}\n" for r in WHEEL_REQUIRES)
    )
    generator = "Wheel-Version: 1.0\nGenerator: backprop_hub.edition\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    out = dest / f"{name}-{version}-py3-none-any.whl"
    with tempfile.TemporaryDirectory() as tmp:
        built = build(Path(tmp) / "edition", root)
        entries = [
            (f[len("lib/") :], (built / f).read_bytes())
            for f in files(built)
            if f.startswith("lib/")
        ]
        entries += [
            (f"{data}/{f}", (built / f).read_bytes())
            for f in files(built)
            if f.startswith("notebooks/")
        ]
        entries += [(f"{info}/METADATA", metadata.encode()), (f"{info}/WHEEL", generator.encode())]
    record = []
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for arc, blob in entries:
            zf.writestr(arc, blob)
            digest = base64.urlsafe_b64encode(hashlib.sha256(blob).digest()).rstrip(b"=").decode()
            record.append(f"{arc},sha256={digest},{len(blob)}")
        record.append(f"{info}/RECORD,,")
        zf.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return out


def main(argv=None):
    """``python -m backprop_hub.edition DEST`` (an edition), ``--workdir`` or ``--wheel``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m backprop_hub.edition")
    parser.add_argument("dest", help="folder to write")
    parser.add_argument(
        "--workdir", action="store_true", help="a working folder: keep the notebooks it has"
    )
    parser.add_argument("--wheel", action="store_true", help="a wheel into DEST for pip install")
    parser.add_argument(
        "--root", help="the course root (default: the current directory's, or above it)"
    )
    args = parser.parse_args(argv)
    if args.wheel:
        print(f"student edition wheel: {wheel(args.dest, root=args.root)}")
    elif args.workdir:
        added = prepare_workdir(args.dest, args.root)
        print(f"student edition in {args.dest}: " + (", ".join(added) or "notebooks kept"))
    else:
        print(f"student edition: {build(args.dest, args.root)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
