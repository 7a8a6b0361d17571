"""Parallel autograding with nbgrader as the engine and its gradebook as the record.

nbgrader's ``autograde`` runs, per notebook: *sanitize* (``Autograde.sanitize_preprocessors``)
then *autograde* (Execute, IgnorePattern, ClearMetadata, LimitOutput, SaveAutoGrades,
AssignLatePenalties, CheckCellMetadata), one submission after the other, with the
student's kernel running the test cells.  Here:

1. the parent repairs and sanitizes each notebook with nbgrader's own preprocessors
   (read-only on the gradebook) and notes what looks wrong (:mod:`autograder.integrity`);
2. stateless workers execute the notebooks in parallel, each kernel in its own
   bubblewrap sandbox, the test cells run by the worker itself
   (:func:`autograder.sandbox.execute_notebook`), in a process pool or on a
   dask.distributed cluster;
3. as each submission's notebooks come back, the parent runs nbgrader's real
   ``Autograde`` converter on it, with ``Execute`` replaced by :class:`ReplayExecute`,
   which hands over the worker's outputs.  Everything else (student and submission
   records, missing notebooks, overwriting test cells, scores, late penalties, the
   autograded/ notebooks) is nbgrader's own code, so the gradebook holds what
   sequential ``nbgrader autograde`` would write for an honest submission.

Each submission is recorded as soon as it is done, so an interrupted run loses nothing
already graded, and the next run resumes with the rest.
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
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import nbformat

from . import execution, integrity
from .progress import Progress
from .sandbox import BUBBLEWRAP, NO_SANDBOX, require_sandbox

DEFAULT_MEMORY_MB = 2048
#: Address space of each grading worker (the grader's own process, not the kernel): its
#: libraries take about 1.3 GB of it; a reply is at most autograder.remote.MAX_REPLY_BYTES.
WORKER_MEMORY_MB = 3072
#: The prefix of a grading run's own folder in $TMPDIR: ``backprop-grade-<pid>-...``.
RUN_PREFIX = "backprop-grade-"

#: Failure kinds named in the summary, most telling first.
FAILURES = (
    "invalid JSON",
    "missing notebook",
    "notebook timeout",
    "cell timeout",
    "memory",
    "kernel died",
    "worker crashed",
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
    notebooks: dict = field(default_factory=dict)
    parent_seconds: float = 0.0
    sandbox: str = ""
    skipped: bool = False

    @property
    def failed(self):
        return self.status != "ok"

    @property
    def needs_review(self):
        return bool(self.flags)

    def fail(self, status, reason):
        """Record a failure; the status keeps the most telling kind (see FAILURES)."""
        self.reasons.append(reason)
        if self.status == "ok" or FAILURES.index(status) < FAILURES.index(self.status):
            self.status = status


# -- step 3: nbgrader's converter, the execution the workers' -------------------------


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


def _autograde_converter(course, assignment, student):
    from nbgrader.converters import Autograde

    from .repair import RepairStructure

    cd = course.coursedir(assignment_id=assignment, student_id=student)
    conv = Autograde(coursedir=cd, config=course.config)
    conv.force = True
    if RepairStructure not in conv.sanitize_preprocessors:
        conv.sanitize_preprocessors = [RepairStructure, *conv.sanitize_preprocessors]
    execution.check_config(conv)  # the course's execution step, which takes the workers'
    return conv


def _record_with_nbgrader(course, assignment, student):
    """Run nbgrader's Autograde converter for one submission; returns (ok, log)."""
    from nbgrader.utils import capture_log

    conv = _autograde_converter(course, assignment, student)
    result = capture_log(conv)
    log = result.get("log", "")
    errors = [line for line in log.splitlines() if line.startswith(("[ERROR]", "[CRITICAL]"))] + (
        [result["error"]] if result.get("error") else []
    )
    return result.get("success", False) and not errors, "\n".join([log, *errors])


# -- step 1: repair and sanitize ---------------------------------------------------------


def _sanitize(course, assignment, student, name, nb):
    """The notebook as nbgrader's autograde will run it.

    Returns
    -------
    clean : NotebookNode
        After every sanitize preprocessor (test cells restored from the source).
    repaired : NotebookNode
        After the structure repairs only: what the student handed in, as the
        instructor's notes describe it.
    repairs : list of str
        What :class:`autograder.repair.RepairStructure` did.
    """
    import copy

    from .repair import RepairStructure

    conv = _autograde_converter(course, assignment, student)
    resources = course.resources(assignment, student, name)
    repaired = nb
    for cls in conv.sanitize_preprocessors:
        pp = cls(config=course.config)
        pp.log.setLevel(logging.CRITICAL)
        nb, resources = pp.preprocess(nb, resources)
        if cls is RepairStructure:
            repaired = copy.deepcopy(nb)
    return nb, repaired, resources["nbgrader"].get("repairs", [])


def ensure_assignment(course, assignment, tmp=None):
    """Put the assignment (notebooks, cells, points) in the gradebook if it is not there.

    Runs ``nbgrader generate_assignment`` with the release written to a temporary folder
    (under `tmp`), so the committed notebooks/ are left alone (``backprop-grade release``
    owns them).
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
    with tempfile.TemporaryDirectory(prefix="backprop-gen-", dir=tmp) as folder:
        cd = course.coursedir(assignment_id=assignment, release_directory=folder)
        _run_converter(GenerateAssignment(coursedir=cd, config=course.config), assignment)
    return True


def generate_release(course, assignment):
    """``nbgrader generate_assignment`` into the course's release folder (and gradebook)."""
    from nbgrader.converters import GenerateAssignment

    cd = course.coursedir(assignment_id=assignment)
    _run_converter(GenerateAssignment(coursedir=cd, config=course.config), assignment)


def _run_converter(conv, assignment):
    from nbgrader.utils import capture_log

    conv.force = True
    result = capture_log(conv)
    if not result.get("success") or "[ERROR]" in result.get("log", ""):
        raise RuntimeError(
            f"generate_assignment {assignment} failed:\n{result.get('log', '')}"
            f"{result.get('error', '')}"
        )


def _assignment_files(course, assignment):
    src = course.source / assignment
    files = {}
    for p in src.rglob("*"):
        if p.is_file() and p.suffix != ".ipynb" and ".ipynb_checkpoints" not in p.parts:
            files[str(p.relative_to(src))] = p.read_bytes()
    return files


def submissions(course, assignment, students=None):
    """Student ids with a folder under submitted/ for `assignment` (sorted)."""
    found = sorted(
        p.parent.name
        for p in course.submitted.glob(f"*/{assignment}")
        if p.is_dir() and not p.is_symlink() and not p.parent.name.startswith(".")
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


# -- the run ---------------------------------------------------------------------------


@dataclass
class Settings:
    """How one grading run treats every notebook."""

    cell_timeout: int
    notebook_timeout: float
    memory_mb: int
    sandbox: str
    kernel_env: dict = field(default_factory=dict)
    worker_memory_mb: int = WORKER_MEMORY_MB


class GradingRun:
    """One ``grade`` of one assignment: which students, their tasks, their records."""

    def __init__(self, course, assignment, settings, out, tmp):
        self.course = course
        self.assignment = assignment
        self.settings = settings
        self.out = out
        self.names = course.notebook_names(assignment)
        self.release = {}
        for n in self.names:
            path = course.release / assignment / f"{n}.ipynb"
            if path.exists():
                self.release[n] = nbformat.read(path, as_version=4)
        self.files = _assignment_files(course, assignment)
        self.results = {}
        self.pending = {}
        self.executed = {}
        self.tmp = tmp
        self.font_cache = None
        if settings.sandbox == BUBBLEWRAP:
            from .sandbox import font_cache

            self.font_cache = font_cache(tmp)  # built once, bound into every kernel
        course.records.joinpath(assignment).mkdir(parents=True, exist_ok=True)

    def select(self, students, force):
        """Students to grade now; already graded ones become skipped results."""
        found = submissions(self.course, self.assignment, students)
        unknown = sorted(set(students or ()) - set(found))
        if unknown:
            print(
                f"no submission of {self.assignment} in submitted/ for: {', '.join(unknown)}",
                file=self.out,
            )
        todo = []
        for student in found:
            if not force and already_graded(self.course, self.assignment, student):
                prev = load_record(self.course, self.assignment, student)
                if prev is not None:
                    prev.skipped = True
                    self.results[student] = prev
                    continue
            todo.append(student)
        return todo

    def tasks_for(self, student):
        """The execution tasks of one student's notebooks (problems go into the result)."""
        t0 = time.perf_counter()
        res = self.results[student] = SubmissionResult(
            student, self.assignment, sandbox=self.settings.sandbox
        )
        self.pending[student] = set()
        tasks = []
        for n in self.names:
            nb = self._read(res, n)
            if nb is None:
                continue
            try:
                clean, repaired, repairs = _sanitize(self.course, self.assignment, student, n, nb)
            except Exception as exc:  # noqa: BLE001 - recorded as the submission's failure
                res.fail("error", f"error: could not prepare {n}.ipynb for grading: {exc}")
                continue
            res.flags += [f"{n}: {r}" for r in repairs]
            if n in self.release:
                edits = integrity.structure_flags(repaired, self.release[n])
                res.flags += [f"{n}: {f}" for f in edits]
            res.flags += [f"{n}: {f}" for f in integrity.scan_source(repaired)]
            self.pending[student].add(n)
            tasks.append(self._task(student, n, clean))
        res.parent_seconds += time.perf_counter() - t0
        return tasks

    def _read(self, res, name):
        path = self.course.submitted / res.student / self.assignment / f"{name}.ipynb"
        if not path.is_file() or path.is_symlink():
            res.fail("missing notebook", f"missing notebook: {name}.ipynb")
            return None
        try:
            return integrity.read_notebook(path)
        except Exception as exc:  # noqa: BLE001 - unreadable: nbgrader records the zero
            res.fail("invalid JSON", f"invalid JSON: {name}.ipynb ({integrity.describe(exc)})")
            return None

    def _task(self, student, name, nb):
        s = self.settings
        return {
            "key": [student, self.assignment, name],
            "notebook": nbformat.writes(nb),
            "files": self.files,
            "cell_timeout": s.cell_timeout,
            "notebook_timeout": s.notebook_timeout,
            "memory_mb": s.memory_mb,
            "sandbox": s.sandbox,
            "kernel_env": s.kernel_env,
            "tmp": self.tmp,
            "font_cache": self.font_cache,
            "worker_memory_mb": s.worker_memory_mb,
        }

    def take(self, r):
        """Note a worker's result; returns the student when all their notebooks are back."""
        student, _, n = r["key"]
        res = self.results[student]
        res.notebooks[n] = {
            "status": r["status"],
            "seconds": r["seconds"],
            "exec_seconds": r.get("exec_seconds"),
            "worker": r["worker"],
            "limits": r.get("limits", ""),
            "trusted_seconds": r.get("trusted_seconds", 0.0),
            "requests": r.get("requests", 0),
            "worker_peak_mb": r.get("worker_peak_mb"),
        }
        if r["status"] != "ok":
            res.fail(r["status"], f"{r['status']}: {n}.ipynb {r['reason']}".strip())
        res.flags += [f"{n}: {f}" for f in r.get("flags") or [] if f"{n}: {f}" not in res.flags]
        self.executed[(student, n)] = nbformat.reads(r["notebook"], as_version=4)
        return self._done(student, n)

    def lost(self, task, reason):
        """A task whose worker died: the notebook scores nothing, the reason is kept."""
        student, _, n = task["key"]
        self.results[student].fail("worker crashed", f"worker crashed: {n}.ipynb {reason}")
        return self._done(student, n)

    def _done(self, student, name):
        self.pending[student].discard(name)
        return student if not self.pending[student] else None

    def finish(self, student):
        """Record one submission through nbgrader, then its run record."""
        res = self.results[student]
        t0 = time.perf_counter()
        for n in self.names:  # what nbgrader's execution step takes (None: no result)
            flags = [f for f in res.flags if f.startswith(f"{n}: ")]
            done = self.executed.pop((student, n), None)
            execution.EXECUTED[(student, self.assignment, n)] = (
                None if done is None else (done, flags)
            )
        ok, log = _record_with_nbgrader(self.course, self.assignment, student)
        if not ok and res.status == "ok":
            res.fail("error", "nbgrader could not record it:\n" + _last_errors(log))
        elif not ok and not res.reasons:
            res.reasons.append("nbgrader could not grade it:\n" + _last_errors(log))
        _ensure_submission_row(self.course, self.assignment, student)
        if res.needs_review:
            _flag_for_review(self.course, self.assignment, student)
        _read_scores(self.course, res)
        res.parent_seconds += time.perf_counter() - t0
        # run time of the submission: its kernels plus the parent's bookkeeping
        # (not the time it waited in the queue)
        res.seconds = res.parent_seconds + sum(v["seconds"] for v in res.notebooks.values())
        save_record(self.course, res)
        for n in self.names:
            execution.EXECUTED.pop((student, self.assignment, n), None)


@contextlib.contextmanager
def run_folder():
    """The grading run's own folder in $TMPDIR, removed when the run ends.

    Every temporary path of the run (the jobs' private folders and sockets, the kernels'
    font cache, nbgrader's scratch release) lives in it.  A run that was killed cannot
    remove its folder: the next run removes every run folder whose process is gone.
    """
    import shutil

    base = Path(tempfile.gettempdir())
    for old in base.glob(f"{RUN_PREFIX}*"):
        try:
            pid = int(old.name[len(RUN_PREFIX) :].split("-", 1)[0])
        except ValueError:
            continue
        if pid != os.getpid() and not _alive(pid):
            shutil.rmtree(old, ignore_errors=True)
    folder = tempfile.mkdtemp(prefix=f"{RUN_PREFIX}{os.getpid()}-")
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
    sandbox=BUBBLEWRAP,
    kernel_env=None,
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
        Memory limit of each kernel.
    force : bool
        Regrade submissions that are already graded.
    scheduler : str or distributed.Client, optional
        A dask.distributed scheduler address (or client) to run the kernels on.
    out : file, optional
        Where the progress bar and summary go (default: stdout).
    sandbox : str
        :data:`autograder.sandbox.BUBBLEWRAP` (default; raises SandboxUnavailable when
        bwrap is missing or broken) or :data:`autograder.sandbox.NO_SANDBOX`.
    kernel_env : dict, optional
        Extra environment variables of every kernel (the rest is an allow-list).
    """
    require_sandbox(sandbox)
    out = out or sys.stdout
    cell_timeout = int(cell_timeout or course.cell_timeout)
    settings = Settings(
        cell_timeout=cell_timeout,
        notebook_timeout=float(notebook_timeout or max(60, 5 * cell_timeout)),
        memory_mb=memory_mb,
        sandbox=sandbox,
        kernel_env=dict(kernel_env or {}),
    )
    with shared_engines(), run_folder() as tmp:
        ensure_assignment(course, assignment, tmp)
        run = GradingRun(course, assignment, settings, out, tmp)
        todo = run.select(students, force)
        _report_skipped(run.results, out)
        _run(run, todo, jobs or os.cpu_count() or 1, scheduler)
    ordered = [run.results[s] for s in sorted(run.results)]
    print_summary(ordered, out)
    return ordered


def _report_skipped(results, out):
    skipped = [s for s in results if results[s].skipped]
    if skipped:
        print(
            f"{len(skipped)} already graded, skipped (use --force to regrade): "
            + ", ".join(skipped[:10])
            + (" ..." if len(skipped) > 10 else ""),
            file=out,
        )


def _run(run, todo, jobs, scheduler):
    progress = Progress(len(todo), out=run.out, label=f"grading {run.assignment}")

    def finish(student):
        run.finish(student)
        progress.advance(f"{student}: {run.results[student].status}")

    tasks = []
    for student in todo:
        tasks += run.tasks_for(student)
        if not run.pending[student]:
            finish(student)
    if tasks:
        dispatch = _dispatch_dask if scheduler else _dispatch_local
        dispatch(run, tasks, min(jobs, len(tasks)), scheduler, finish)
    progress.close()


def _dispatch_local(run, tasks, jobs, scheduler, finish):
    """Run `tasks` in a process pool; a crashed worker costs only its own notebook.

    A worker that dies breaks the whole pool, and which task killed it is unknown: the
    unfinished tasks then run again one at a time, each in a fresh pool of its own, so
    a second crash names its task and no other.
    """
    suspects = _pool_round(run, tasks, jobs, finish)
    for task in suspects:
        for again in _pool_round(run, [task], 1, finish):
            student = run.lost(again, "(the grading worker died on it twice)")
            if student:
                finish(student)


def _pool_round(run, tasks, jobs, finish):
    """Run `tasks` in one pool; returns the tasks a broken pool left unfinished."""
    import multiprocessing

    from .sandbox import execute_notebook

    # fork: no re-import of the caller's __main__ (scripts, pytest); the workers never
    # touch the gradebook connection they inherit.
    ctx = multiprocessing.get_context("fork")
    broken = []
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        futures = {pool.submit(execute_notebook, t): t for t in tasks}
        for fut in as_completed(futures):
            task = futures[fut]
            try:
                result = fut.result()
            except BrokenProcessPool:
                broken.append(task)
                continue
            except Exception as exc:  # noqa: BLE001 - never stops the run
                student = run.lost(task, f"({type(exc).__name__}: {exc})")
            else:
                student = run.take(result)
            if student:
                finish(student)
    return broken


def _dispatch_dask(run, tasks, jobs, scheduler, finish):
    from distributed import Client
    from distributed import as_completed as dask_completed

    from .sandbox import execute_notebook

    client = Client(scheduler) if isinstance(scheduler, str) else scheduler
    try:
        futures = {client.submit(execute_notebook, t, pure=False): t for t in tasks}
        for fut in dask_completed(list(futures)):
            try:
                result = fut.result()
            except Exception as exc:  # noqa: BLE001 - a lost dask worker
                student = run.lost(futures[fut], f"({type(exc).__name__}: {exc})")
            else:
                student = run.take(result)
            if student:
                finish(student)
    finally:
        if isinstance(scheduler, str):
            client.close()


def _last_errors(log):
    lines = [line for line in log.splitlines() if line.startswith(("[ERROR]", "[CRITICAL]"))]
    return "\n".join(lines[-3:]) or log[-500:] or "(nbgrader gave no reason)"


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
    """Flag the submission (formgrader's "Flagged?") and its autograded tests for review."""
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url) as gb:
        sub = gb.find_submission(assignment, student)
        for nb in sub.notebooks:
            nb.flagged = True
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
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)  # a run killed mid-write never leaves half a record


def load_record(course, assignment, student):
    path = course.records / assignment / f"{student}.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    known = {f.name for f in fields(SubmissionResult)}
    return SubmissionResult(**{k: v for k, v in data.items() if k in known})


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
    kinds = sorted({r.sandbox for r in graded if r.sandbox})
    if kinds:
        print("sandbox: " + ", ".join(kinds), file=out)
        if NO_SANDBOX in kinds:
            print(
                "WARNING: graded without a sandbox: student code ran with your uid and "
                "could read and change your files.",
                file=out,
            )
    if scored:
        mean = sum(r.score for r in scored) / len(scored)
        print(
            f"mean raw score {mean:.2f} / {scored[0].max_score:g} (before late penalties)", file=out
        )
    width = max([24, *(len(r.student) + 1 for r in results)])
    failed = [r for r in results if r.failed]
    if failed:
        print("\nFailed submissions:", file=out)
        for r in failed:
            first = r.reasons[0].splitlines()[0] if r.reasons else ""
            first = first.removeprefix(f"{r.status}: ")  # the status is its own column
            print(f"  {r.student:<{width}} {r.status:<17} {first}", file=out)
    flagged = [r for r in results if r.needs_review]
    if flagged:
        print(
            "\nFlagged for manual review (marked 'needs manual grade' in the gradebook):", file=out
        )
        for r in flagged:
            items = r.flags
            print(
                f"  {r.student:<{width}} "
                + "; ".join(items[:3])
                + (" ..." if len(items) > 3 else ""),
                file=out,
            )


logging.getLogger("traitlets").setLevel(logging.WARNING)
