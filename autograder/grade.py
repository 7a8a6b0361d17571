"""Parallel autograding with nbgrader as the engine and its gradebook as the record.

nbgrader's ``autograde`` runs, per notebook: *sanitize* (ClearOutput, DeduplicateIds,
OverwriteKernelspec, OverwriteCells, CheckCellMetadata), then *autograde* (Execute,
IgnorePattern, ClearMetadata, LimitOutput, SaveAutoGrades, AssignLatePenalties,
CheckCellMetadata), one submission after the other.  Only ``Execute`` is slow, so:

1. the parent sanitizes each notebook with nbgrader's own preprocessors (read-only on
   the gradebook) and checks its structure and source (:mod:`autograder.integrity`);
2. stateless workers execute the sanitized notebooks in parallel, each in a fresh
   limited kernel in its own temporary folder (:func:`autograder.sandbox.execute_notebook`),
   in a process pool or on a dask.distributed cluster;
3. as each submission's notebooks come back, the parent runs nbgrader's real
   ``Autograde`` converter on it, with ``Execute`` replaced by :class:`ReplayExecute`,
   which hands over the worker's outputs.  Everything else (student and submission
   records, missing notebooks, overwriting test cells, scores, late penalties, the
   autograded/ notebooks) is nbgrader's own code, so the gradebook holds exactly what
   sequential ``nbgrader autograde`` writes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from . import integrity
from .course_config import CapturedLog
from .progress import Progress

DEFAULT_MEMORY_MB = 2048

#: Failure kinds named in the summary.
FAILURES = (
    "invalid JSON",
    "missing notebook",
    "notebook timeout",
    "cell timeout",
    "memory",
    "kernel died",
    "error",
)


@dataclass
class SubmissionResult:
    """What grading one submission gave (also saved as a JSON run record)."""

    student: str
    assignment: str
    status: str = "ok"
    reasons: list = field(default_factory=list)
    score: float | None = None
    max_score: float | None = None
    seconds: float = 0.0
    flags: list = field(default_factory=list)
    violations: list = field(default_factory=list)
    notebooks: dict = field(default_factory=dict)
    parent_seconds: float = 0.0
    skipped: bool = False

    @property
    def failed(self):
        return self.status != "ok"

    @property
    def needs_review(self):
        return bool(self.flags or self.violations)


# -- step 3: nbgrader's converter, with the execution replayed -------------------------

_EXECUTED = {}


def _replay_class():
    from nbgrader.preprocessors import NbGraderPreprocessor

    class ReplayExecute(NbGraderPreprocessor):
        """Stands in for nbgrader's Execute: copies the outputs a worker produced."""

        def preprocess(self, nb, resources):
            info = resources["nbgrader"]
            key = (info["student"], info["assignment"], info["notebook"])
            if key not in _EXECUTED:
                raise RuntimeError(f"no execution result for {key}")
            executed = _EXECUTED[key]
            if len(executed.cells) != len(nb.cells):
                raise RuntimeError(f"executed notebook {key} does not match the sanitized one")
            for cell, done in zip(nb.cells, executed.cells, strict=True):
                if integrity.strip_restore(done.source) != cell.source:
                    raise RuntimeError(f"executed notebook {key} has a different cell source")
                if cell.cell_type == "code":
                    cell.outputs = done.get("outputs", [])
                    cell.execution_count = done.get("execution_count")
            if "language_info" in executed.metadata:
                nb.metadata["language_info"] = executed.metadata["language_info"]
            return nb, resources

    return ReplayExecute


@contextlib.contextmanager
def shared_engines():
    """Let nbgrader's many short Gradebook sessions share one SQLAlchemy engine per URL.

    nbgrader opens a new ``Gradebook`` (a new engine) for every step of every notebook;
    a new engine starts with an empty SQL compilation cache, which is most of the
    parent's bookkeeping time.  Same SQL, same database: only the cache is kept.
    """
    import nbgrader.api

    original = nbgrader.api.create_engine
    engines = {}

    def create_engine(url, *args, **kwargs):
        key = (str(url), tuple(sorted(kwargs.items())))
        if key not in engines:
            engines[key] = original(url, *args, **kwargs)
        return engines[key]

    nbgrader.api.create_engine = create_engine
    try:
        yield
    finally:
        nbgrader.api.create_engine = original
        for engine in engines.values():
            engine.dispose()


def _record_with_nbgrader(course, assignment, student):
    """Run nbgrader's Autograde converter for one submission; returns (ok, log)."""
    from nbgrader.converters import Autograde
    from nbgrader.converters.base import NbGraderException
    from nbgrader.preprocessors import Execute

    replay = _replay_class()
    cd = course.coursedir(assignment_id=assignment, student_id=student)
    conv = Autograde(coursedir=cd, config=course.config)
    conv.force = True
    conv.autograde_preprocessors = [
        replay
        if (
            p is Execute
            or getattr(p, "__name__", p) in ("Execute", "nbgrader.preprocessors.Execute")
        )
        else p
        for p in conv.autograde_preprocessors
    ]
    with CapturedLog(conv.log) as captured:
        try:
            conv.start()
            ok = True
        except NbGraderException:
            ok = False
        except Exception as exc:  # noqa: BLE001 - recorded as the submission's failure
            captured.records.append(f"ERROR: {type(exc).__name__}: {exc}")
            ok = False
    errors = [r for r in captured.records if r.startswith(("ERROR", "CRITICAL"))]
    return ok and not errors, captured.text


# -- step 1: sanitize ------------------------------------------------------------------


def _sanitize(course, assignment, student, name, nb):
    from nbgrader.preprocessors import (
        CheckCellMetadata,
        ClearOutput,
        DeduplicateIds,
        OverwriteCells,
        OverwriteKernelspec,
    )

    resources = {
        "unique_key": name,
        "nbgrader": {
            "student": student,
            "assignment": assignment,
            "notebook": name,
            "db_url": course.db_url,
        },
    }
    for cls in (
        ClearOutput,
        DeduplicateIds,
        OverwriteKernelspec,
        OverwriteCells,
        CheckCellMetadata,
    ):
        pp = cls(config=course.config)
        with CapturedLog(pp.log):
            nb, resources = pp.preprocess(nb, resources)
    return nb


def ensure_assignment(course, assignment):
    """Put the assignment (notebooks, cells, points) in the gradebook if it is not there.

    Runs ``nbgrader generate_assignment`` with the release written to a temporary folder,
    so the committed notebooks/ are left alone (``backprop-grade release`` owns them).
    """
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.converters import GenerateAssignment

    with Gradebook(course.db_url) as gb:
        try:
            a = gb.find_assignment(assignment)
            if a.notebooks:
                return False
        except MissingEntry:
            pass
    with tempfile.TemporaryDirectory(prefix="backprop-gen-") as tmp:
        cd = course.coursedir(assignment_id=assignment, release_directory=tmp)
        conv = GenerateAssignment(coursedir=cd, config=course.config)
        conv.force = True
        with CapturedLog(conv.log) as captured:
            conv.start()
    if "ERROR" in captured.text:
        raise RuntimeError(f"generate_assignment {assignment} failed:\n{captured.text}")
    return True


def _assignment_files(course, assignment):
    src = course.source / assignment
    files = {}
    for p in src.rglob("*"):
        if p.is_file() and p.suffix != ".ipynb" and ".ipynb_checkpoints" not in p.parts:
            files[str(p.relative_to(src))] = p.read_bytes()
    return files


def _guard_config(course):
    import course as course_pkg

    from .course_config import REPO

    root = str(course.root)
    allow = [os.path.dirname(course_pkg.__file__), sys.prefix, sys.base_prefix]
    allow.append(str(Path(__file__).resolve().parent))  # the guard itself
    # The course root (gradebook, submissions, solutions) and the repository that
    # holds the course library (its solutions/) are off limits, except the library.
    deny = [root, str(REPO)]
    gb = course.gradebook_path()
    if gb is not None:
        deny.append(str(gb.parent if gb.parent != Path("/") else gb))
    try:
        import matplotlib

        writable = [matplotlib.get_cachedir(), matplotlib.get_configdir()]
    except ImportError:
        writable = []
    return {"deny": deny, "allow_read": allow, "allow_write": writable}


def submissions(course, assignment, students=None):
    """Student ids with a folder under submitted/ for `assignment` (sorted)."""
    found = sorted(
        p.parent.name
        for p in course.submitted.glob(f"*/{assignment}")
        if p.is_dir() and not p.parent.name.startswith(".")
    )
    if students:
        wanted = set(students)
        return [s for s in found if s in wanted]
    return found


def already_graded(course, assignment, student):
    """True when the submission has a run record and a gradebook entry newer than its files."""
    from nbgrader.api import Gradebook, MissingEntry

    record = course.records / assignment / f"{student}.json"
    if not record.exists():
        return False
    sub_dir = course.submitted / student / assignment
    newest = max((p.stat().st_mtime for p in sub_dir.rglob("*") if p.is_file()), default=0)
    if newest > record.stat().st_mtime:
        return False
    with Gradebook(course.db_url) as gb:
        try:
            gb.find_submission(assignment, student)
        except MissingEntry:
            return False
    return True


def _executor(jobs, scheduler):
    if scheduler:
        from distributed import Client

        client = Client(scheduler) if isinstance(scheduler, str) else scheduler
        return client, True
    import multiprocessing

    # fork: no re-import of the caller's __main__ (scripts, pytest); the workers never
    # touch the gradebook connection they inherit.
    ctx = multiprocessing.get_context("fork")
    return ProcessPoolExecutor(max_workers=jobs, mp_context=ctx), False


def grade(
    course,
    assignment,
    students=None,
    *,
    jobs=None,
    cell_timeout=None,
    notebook_timeout=None,
    memory_mb=DEFAULT_MEMORY_MB,
    force=False,
    scheduler=None,
    out=None,
    guard=True,
):
    """Autograde every submission of `assignment`; returns a list of SubmissionResult.

    Parameters
    ----------
    course : Course
    assignment : str
    students : list of str, optional
        Only these students (default: everyone with a folder in submitted/).
    jobs : int, optional
        Parallel workers (default: all cores).
    cell_timeout : int, optional
        Per-cell limit in seconds (default: the course's ``Execute.timeout``).
    notebook_timeout : float, optional
        Whole-notebook limit in seconds (default: 5 x the cell limit, at least 60 s).
    memory_mb : int
        Address-space limit of each kernel.
    force : bool
        Regrade submissions that are already graded.
    scheduler : str or distributed.Client, optional
        A dask.distributed scheduler address (or client) to run the kernels on.
    out : file, optional
        Where the progress bar and summary go (default: stdout).
    guard : bool
        Install the integrity guard in the kernels.
    """
    with shared_engines():
        return _grade(
            course,
            assignment,
            students,
            jobs=jobs,
            cell_timeout=cell_timeout,
            notebook_timeout=notebook_timeout,
            memory_mb=memory_mb,
            force=force,
            scheduler=scheduler,
            out=out,
            guard=guard,
        )


def _grade(
    course,
    assignment,
    students,
    *,
    jobs,
    cell_timeout,
    notebook_timeout,
    memory_mb,
    force,
    scheduler,
    out,
    guard,
):
    out = out or sys.stdout
    jobs = jobs or os.cpu_count() or 1
    cell_timeout = int(cell_timeout or course.cell_timeout)
    notebook_timeout = float(notebook_timeout or max(60, 5 * cell_timeout))
    ensure_assignment(course, assignment)
    names = course.notebook_names(assignment)
    release = {}
    for n in names:
        path = course.release / assignment / f"{n}.ipynb"
        if path.exists():
            release[n] = nbformat.read(path, as_version=4)
    files = _assignment_files(course, assignment)
    guard_cfg = _guard_config(course) if guard else None
    course.records.joinpath(assignment).mkdir(parents=True, exist_ok=True)

    todo, results = [], {}
    found = submissions(course, assignment, students)
    unknown = sorted(set(students or ()) - set(found))
    if unknown:
        print(f"no submission of {assignment} in submitted/ for: {', '.join(unknown)}", file=out)
    for student in found:
        if not force and already_graded(course, assignment, student):
            prev = load_record(course, assignment, student)
            if prev is not None:
                prev.skipped = True
                results[student] = prev
                continue
        todo.append(student)

    tmp_base = tempfile.mkdtemp(prefix="backprop-grade-")
    tasks, pending = [], {}
    for student in todo:
        t_sanitize = time.perf_counter()
        res = SubmissionResult(student, assignment)
        results[student] = res
        pending[student] = set()
        sub_dir = course.submitted / student / assignment
        for n in names:
            path = sub_dir / f"{n}.ipynb"
            if not path.exists():
                res.reasons.append(f"missing notebook: {n}.ipynb")
                res.status = "missing notebook"
                continue
            try:
                nb = nbformat.read(path, as_version=4)
            except Exception as exc:  # noqa: BLE001 - unreadable: nbgrader records the zero
                res.reasons.append(f"invalid JSON: {n}.ipynb ({type(exc).__name__})")
                res.status = "invalid JSON"
                continue
            if n in release:
                res.flags += [f"{n}: {f}" for f in integrity.structure_flags(nb, release[n])]
            res.flags += [f"{n}: {f}" for f in integrity.scan_source(nb)]
            try:
                clean = _sanitize(course, assignment, student, n, nb)
            except Exception as exc:  # noqa: BLE001
                res.reasons.append(f"error: could not sanitize {n}.ipynb: {exc}")
                res.status = "error"
                continue
            run = (
                integrity.inject_restore(clean, integrity.locked_bindings(clean))
                if guard
                else clean
            )
            pending[student].add(n)
            tasks.append(
                {
                    "key": [student, assignment, n],
                    "notebook": nbformat.writes(run),
                    "files": files,
                    "cell_timeout": cell_timeout,
                    "notebook_timeout": notebook_timeout,
                    "memory_mb": memory_mb,
                    "guard": guard_cfg,
                    "tmp": tmp_base,
                }
            )
        res.parent_seconds += time.perf_counter() - t_sanitize

    progress = Progress(len(todo), out=out, label=f"grading {assignment}")
    skipped = [s for s in results if results[s].skipped]
    if skipped:
        print(
            f"{len(skipped)} already graded, skipped (use --force to regrade): "
            + ", ".join(skipped[:10])
            + (" ..." if len(skipped) > 10 else ""),
            file=out,
        )

    def finish(student):
        res = results[student]
        t_finish = time.perf_counter()
        ok, log = _record_with_nbgrader(course, assignment, student)
        if not ok and not any(n in pending[student] for n in names) and not res.reasons:
            res.reasons.append("nbgrader could not grade it:\n" + _last_errors(log))
        if not ok and res.status == "ok":
            res.status = "error"
            res.reasons.append("nbgrader could not record it:\n" + _last_errors(log))
        _ensure_submission_row(course, assignment, student)
        if res.needs_review:
            _flag_for_review(course, assignment, student)
        _read_scores(course, res)
        res.parent_seconds += time.perf_counter() - t_finish
        # run time of the submission: its kernels plus the parent's bookkeeping
        # (not the time it waited in the queue)
        res.seconds = res.parent_seconds + sum(v["seconds"] for v in res.notebooks.values())
        save_record(course, res)
        progress.advance(f"{student}: {res.status}")
        for n in names:
            _EXECUTED.pop((student, assignment, n), None)

    for student in todo:
        if not pending[student]:
            finish(student)

    if tasks:
        executor, is_dask = _executor(min(jobs, len(tasks)), scheduler)
        try:
            if is_dask:
                from distributed import as_completed as dask_completed

                from .sandbox import execute_notebook

                futures = [executor.submit(execute_notebook, t, pure=False) for t in tasks]
                done_iter = dask_completed(futures)
            else:
                from .sandbox import execute_notebook

                futures = [executor.submit(execute_notebook, t) for t in tasks]
                done_iter = as_completed(futures)
            for fut in done_iter:
                r = fut.result()
                student, _, n = r["key"]
                res = results[student]
                _EXECUTED[(student, assignment, n)] = nbformat.reads(r["notebook"], as_version=4)
                res.notebooks[n] = {
                    "status": r["status"],
                    "seconds": r["seconds"],
                    "exec_seconds": r.get("exec_seconds"),
                    "worker": r["worker"],
                }
                res.violations += [{"notebook": n, **v} for v in r["violations"]]
                if r["status"] != "ok":
                    res.reasons.append(f"{r['status']}: {n}.ipynb {r['reason']}".strip())
                    if res.status == "ok" or FAILURES.index(r["status"]) < FAILURES.index(
                        res.status
                    ):
                        res.status = r["status"]
                pending[student].discard(n)
                if not pending[student]:
                    finish(student)
        finally:
            if is_dask:
                if isinstance(scheduler, str):
                    executor.close()
            else:
                executor.shutdown(wait=True, cancel_futures=True)
            _rmtree(tmp_base)
    else:
        _rmtree(tmp_base)
    progress.close()
    ordered = [results[s] for s in sorted(results)]
    print_summary(ordered, out)
    return ordered


def _rmtree(path):
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def _last_errors(log):
    lines = [line for line in log.splitlines() if line.startswith(("ERROR", "CRITICAL"))]
    return "\n".join(lines[-3:]) or log[-500:]


def _ensure_submission_row(course, assignment, student):
    """A submission nbgrader could not grade still appears in the gradebook (score 0)."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(course.db_url) as gb:
        gb.update_or_create_student(student)
        try:
            gb.find_submission(assignment, student)
        except MissingEntry:
            gb.add_submission(assignment, student)


def _flag_for_review(course, assignment, student):
    """Mark the submission's autograded tests for manual review in the formgrader."""
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url) as gb:
        sub = gb.find_submission(assignment, student)
        for nb in sub.notebooks:
            for g in nb.grades:
                if g.auto_score is not None:
                    g.needs_manual_grade = True
        gb.db.commit()


def _read_scores(course, res):
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(course.db_url) as gb:
        try:
            sub = gb.find_submission(res.assignment, res.student)
        except MissingEntry:
            return
        res.score = float(sub.score)
        res.max_score = float(sub.max_score)


def save_record(course, res):
    path = course.records / res.assignment / f"{res.student}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = asdict(res)
    data.pop("skipped")
    path.write_text(json.dumps(data, indent=1))


def load_record(course, assignment, student):
    path = course.records / assignment / f"{student}.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return SubmissionResult(**data)


def load_records(course, assignment):
    folder = course.records / assignment
    if not folder.is_dir():
        return []
    return [load_record(course, assignment, p.stem) for p in sorted(folder.glob("*.json"))]


def print_summary(results, out):
    graded = [r for r in results if not r.skipped]
    scored = [r for r in results if r.score is not None]
    print(
        f"\n{len(graded)} graded, {len(results) - len(graded)} skipped; "
        f"{sum(r.failed for r in results)} with failures, "
        f"{sum(r.needs_review for r in results)} flagged for review.",
        file=out,
    )
    if scored:
        mean = sum(r.score for r in scored) / len(scored)
        print(f"mean score {mean:.2f} / {scored[0].max_score:g}", file=out)
    failed = [r for r in results if r.failed]
    if failed:
        print("\nFailed submissions:", file=out)
        for r in failed:
            first = r.reasons[0].splitlines()[0] if r.reasons else ""
            print(f"  {r.student:<24} {r.status:<17} {first}", file=out)
    flagged = [r for r in results if r.needs_review]
    if flagged:
        print(
            "\nFlagged for manual review (marked 'needs manual grade' in the gradebook):", file=out
        )
        for r in flagged:
            items = r.flags + [f"{v['notebook']}: {v['kind']} {v['detail']}" for v in r.violations]
            print(
                f"  {r.student:<24} " + "; ".join(items[:3]) + (" ..." if len(items) > 3 else ""),
                file=out,
            )


logging.getLogger("traitlets").setLevel(logging.WARNING)


def generate_release(course, assignment):
    """``nbgrader generate_assignment`` into the course's release folder (and gradebook)."""
    from nbgrader.converters import GenerateAssignment

    cd = course.coursedir(assignment_id=assignment)
    conv = GenerateAssignment(coursedir=cd, config=course.config)
    conv.force = True
    with CapturedLog(conv.log) as captured:
        conv.start()
    if "ERROR" in captured.text:
        raise RuntimeError(f"generate_assignment {assignment} failed:\n{captured.text}")
