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
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import nbformat

from course import variant_tables

from . import execution, integrity, limits
from .progress import Progress
from .sandbox import BUBBLEWRAP, NO_SANDBOX, require_sandbox

DEFAULT_MEMORY_MB = limits.MEMORY_MB
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
    #: The student's variant of the assignment's numbers (None: it has none).
    variant: int | None = None

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


#: The engines of the current grading run (shared_engines) and the open batch
#: transaction (one_transaction), per process.
_SHARED = {"engines": {}, "checked": set(), "inspectors": {}, "batch": None}


def _sqlite_savepoints(engine):
    """pysqlite's own transaction handling breaks SAVEPOINT: SQLAlchemy's recipe (the
    driver in autocommit mode, BEGIN emitted by SQLAlchemy)."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN")


def _forget_engines_in_child():
    """A forked worker must not use the parent's pooled connections (SQLAlchemy's rule
    for multiprocessing): it drops them without closing them, and opens its own."""
    for engine in _SHARED["engines"].values():
        with contextlib.suppress(Exception):
            type(engine).dispose(engine, close=False)
    _SHARED["engines"].clear()
    _SHARED["checked"].clear()
    _SHARED["inspectors"].clear()
    _SHARED["batch"] = None


os.register_at_fork(after_in_child=_forget_engines_in_child)


@contextlib.contextmanager
def shared_engines():
    """nbgrader's own steps, without the work they repeat for every notebook of a run.

    nbgrader opens a new ``Gradebook`` for every step of every notebook (a new engine,
    a check of every table, a new connection, disposed again), and validates every
    cell's metadata with ``jsonschema.validate``, which checks the schema itself each
    time.  During a grading run (same database, same schema):

    - one SQLAlchemy engine per URL, its connections pooled until the run ends (a new
      engine starts with an empty SQL compilation cache);
    - the tables are checked (``create_all``) once per engine;
    - one compiled validator per schema: the same validation, the same error;
    - inside :func:`one_transaction`, every Gradebook's session works in that one
      transaction.
    """
    import nbgrader.api
    import nbgrader.nbgraderformat.common as common

    api = nbgrader.api
    originals = (api.create_engine, api.Base.metadata.create_all, api.inspect, api.sessionmaker)
    original_create, original_all, original_inspect, original_sessionmaker = originals
    original_jsonschema = common.jsonschema
    engines, checked, inspectors = _SHARED["engines"], _SHARED["checked"], _SHARED["inspectors"]

    def create_engine(url, *args, **kwargs):
        key = (str(url), tuple(sorted(kwargs.items())))
        if key not in engines:
            engine = engines[key] = original_create(url, *args, **kwargs)
            if engine.dialect.name == "sqlite":
                _sqlite_savepoints(engine)
            engine.dispose = lambda *a, **k: None  # Gradebook.close(): kept for the run
        return engines[key]

    def create_all(bind=None, **kwargs):
        if bind is not None and id(bind) in checked:
            return None
        result = original_all(bind=bind, **kwargs)
        if bind is not None:
            checked.add(id(bind))
        return result

    def inspect(subject, *args, **kwargs):
        if id(subject) in checked:  # its tables exist: nbgrader asks only for their names
            if id(subject) not in inspectors:
                inspectors[id(subject)] = original_inspect(subject, *args, **kwargs)
            return inspectors[id(subject)]
        return original_inspect(subject, *args, **kwargs)

    def sessionmaker(*args, bind=None, **kwargs):
        batch = _SHARED["batch"]
        if batch is not None and batch["engine"] is bind:
            kwargs["join_transaction_mode"] = "create_savepoint"
            return original_sessionmaker(*args, bind=batch["connection"], **kwargs)
        return original_sessionmaker(*args, bind=bind, **kwargs)

    api.create_engine, api.Base.metadata.create_all = create_engine, create_all
    api.inspect, api.sessionmaker = inspect, sessionmaker
    common.jsonschema = _CachedJsonSchema(original_jsonschema)
    try:
        yield
    finally:
        api.create_engine, api.Base.metadata.create_all = original_create, original_all
        api.inspect, api.sessionmaker = original_inspect, original_sessionmaker
        common.jsonschema = original_jsonschema
        for engine in engines.values():
            type(engine).dispose(engine)
        engines.clear()
        checked.clear()
        inspectors.clear()


@contextlib.contextmanager
def one_transaction(db_url):
    """Every Gradebook of `db_url` opened meanwhile works in one transaction on one
    connection, committed once at the end (nbgrader's commits become savepoints);
    an error rolls all of it back and is raised.  Outside :func:`shared_engines`,
    nothing is batched."""
    import nbgrader.api

    if _SHARED["batch"] is not None or nbgrader.api.create_engine.__module__ != __name__:
        yield
        return
    engine = nbgrader.api.create_engine(db_url, echo=False, future=True)
    connection = engine.connect()
    transaction = connection.begin()
    _SHARED["batch"] = {"engine": engine, "connection": connection}
    try:
        yield
        transaction.commit()
    except BaseException:
        transaction.rollback()
        raise
    finally:
        _SHARED["batch"] = None
        connection.close()


class _CachedJsonSchema:
    """The ``jsonschema`` module as nbgrader's metadata validator uses it, with
    ``validate`` checking each schema once (then the same validation, the same error)."""

    def __init__(self, module):
        self._module = module
        self._validators = {}

    def __getattr__(self, name):
        return getattr(self._module, name)

    def validate(self, instance, schema, *args, **kwargs):
        if args or kwargs:
            return self._module.validate(instance, schema, *args, **kwargs)
        key = json.dumps(schema, sort_keys=True)
        validator = self._validators.get(key)
        if validator is None:
            cls = self._module.validators.validator_for(schema)
            cls.check_schema(schema)
            validator = self._validators[key] = cls(schema)
        error = self._module.exceptions.best_match(validator.iter_errors(instance))
        if error is not None:
            raise error
        return None


def _autograde_converter(course, assignment, student, sanitized=False):
    """nbgrader's Autograde converter for one submission; with `sanitized`, its sanitize
    pass takes the notebooks the run prepared (:class:`execution.TakeSanitized`)."""
    from nbgrader.converters import Autograde

    from .repair import RepairStructure

    cd = course.coursedir(assignment_id=assignment, student_id=student)
    conv = Autograde(coursedir=cd, config=course.config)
    conv.force = True
    if sanitized:
        conv.sanitize_preprocessors = [execution.TakeSanitized]
    elif RepairStructure not in conv.sanitize_preprocessors:
        conv.sanitize_preprocessors = [RepairStructure, *conv.sanitize_preprocessors]
    execution.check_config(conv)  # the course's execution step, which takes the workers'
    return conv


def _record_with_nbgrader(course, assignment, student, sanitized=False):
    """Run nbgrader's Autograde converter for one submission; returns (ok, log)."""
    from nbgrader.utils import capture_log

    conv = _autograde_converter(course, assignment, student, sanitized)
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
    #: Fork kernels from the worker's warm template where the machine allows it.
    fork: bool = True


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
        # the instructor's variant table (course.variant_tables), never the submission's
        self.variant_source = course.source / assignment
        self.variants = {}  # student -> their variants, for their tasks (plain data)
        # a broken or lost table stops the run here, before anyone is graded
        variant_tables.check_tables(self.variant_source, course.release / assignment, assignment)
        self.variant_table = variant_tables.read_table(self.variant_source, assignment)
        self.results = {}
        self.pending = {}
        self.executed = {}
        self.sanitized = {}  # (student, notebook) -> as prepared: nbgrader's sanitize pass
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
        mine = self.variants[student] = variant_tables.of_student(
            self.variant_table, self.assignment, student
        )
        if mine:
            res.variant = mine[self.assignment]["index"]
        self.pending[student] = set()
        tasks = []
        for n in self.names:
            path = self._path(student, n)
            if not path.is_file() or path.is_symlink():
                res.fail("missing notebook", f"missing notebook: {n}.ipynb")
                continue
            try:
                clean, flags = self.prepare(student, n)
            except PrepareError as exc:
                res.fail(exc.status, exc.reason)
                continue
            res.flags += [f"{n}: {f}" for f in flags]
            self.pending[student].add(n)
            self.sanitized[(student, n)] = clean
            tasks.append(self._task(student, n, clean))
        res.parent_seconds += time.perf_counter() - t0
        return tasks

    def _path(self, student, name):
        return self.course.submitted / student / self.assignment / f"{name}.ipynb"

    def prepare(self, student, name):
        """Read, repair and sanitize one submitted notebook with nbgrader's preprocessors
        (the gradebook read only); returns (sanitized notebook, flags).  Raises
        PrepareError for a notebook that cannot be graded."""
        path = self._path(student, name)
        try:
            nb = integrity.read_notebook(path)
        except Exception as exc:  # noqa: BLE001 - unreadable: nbgrader records the zero
            raise PrepareError(
                "invalid JSON", f"invalid JSON: {name}.ipynb ({integrity.describe(exc)})"
            ) from None
        try:
            clean, repaired, repairs = _sanitize(self.course, self.assignment, student, name, nb)
        except Exception as exc:  # noqa: BLE001 - recorded as the submission's failure
            raise PrepareError(
                "error", f"error: could not prepare {name}.ipynb for grading: {exc}"
            ) from None
        flags = list(repairs)
        if name in self.release:
            flags += integrity.structure_flags(repaired, self.release[name])
        flags += integrity.scan_source(repaired)
        return clean, flags

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
            "variants": self.variants[student],
            "tmp": self.tmp,
            "font_cache": self.font_cache,
            "worker_memory_mb": s.worker_memory_mb,
            "fork": s.fork,
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
            "kernel_start": r.get("kernel_start", ""),
            "timing": r.get("timing", {}),
            "crashes": r.get("crashes", []),
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

    def record(self, students):
        """Record finished submissions through nbgrader, in one gradebook transaction
        (nbgrader's own commits become savepoints: one write to disk for the batch),
        then their run records.  A batch whose commit fails is recorded again one
        submission at a time, so one bad submission costs only itself."""
        import copy

        t0 = time.perf_counter()
        before = {s: copy.deepcopy(self.results[s]) for s in students}
        try:
            with one_transaction(self.course.db_url):
                for student in students:
                    self._record_one(student)
        except Exception:  # noqa: BLE001 - the batch is lost: each one again, alone
            for student in students:
                self.results[student] = before[student]
                self._record_one(student)
        share = (time.perf_counter() - t0) / max(1, len(students))
        for student in students:
            res = self.results[student]
            res.parent_seconds += share
            # run time of the submission: its kernels plus the parent's bookkeeping
            # (not the time it waited in the queue)
            res.seconds = res.parent_seconds + sum(v["seconds"] for v in res.notebooks.values())
            save_record(self.course, res)

    def _record_one(self, student):
        res = self.results[student]
        for n in self.names:  # what nbgrader's execution step takes (None: no result)
            flags = [f for f in res.flags if f.startswith(f"{n}: ")]
            done = self.executed.get((student, n))
            execution.EXECUTED[(student, self.assignment, n)] = (
                None if done is None else (done, flags)
            )
        # every notebook prepared: nbgrader's sanitize pass takes them, not the same work again
        sanitized = all((student, n) in self.sanitized for n in self.names)
        for n in self.names if sanitized else ():
            execution.SANITIZED[(student, self.assignment, n)] = self.sanitized[(student, n)]
        try:
            ok, log = _record_with_nbgrader(self.course, self.assignment, student, sanitized)
            if not ok and res.status == "ok":
                res.fail("error", "nbgrader could not record it:\n" + _last_errors(log))
            elif not ok and not res.reasons:
                res.reasons.append("nbgrader could not grade it:\n" + _last_errors(log))
            _ensure_submission_row(self.course, self.assignment, student)
            if res.variant is not None:
                try:
                    record_variant(self.course.db_url, self.assignment, student, res.variant)
                except Exception as exc:  # noqa: BLE001 - the grade stands; the note says why
                    res.reasons.append(f"its variant could not be recorded in the gradebook: {exc}")
            if res.needs_review:
                _flag_for_review(self.course, self.assignment, student)
            _read_scores(self.course, res)
        finally:
            for n in self.names:
                execution.EXECUTED.pop((student, self.assignment, n), None)
                execution.SANITIZED.pop((student, self.assignment, n), None)

    def forget(self, students):
        for student in students:
            for n in self.names:
                self.executed.pop((student, n), None)
                self.sanitized.pop((student, n), None)
            self.variants.pop(student, None)


class Recorder:
    """Finished submissions waiting to be recorded: recorded in batches when the
    parent has nothing else to do (no worker result waiting), or when
    :data:`BATCH` of them are waiting, or at the end."""

    BATCH = 32

    def __init__(self, run, progress):
        self.run = run
        self.progress = progress
        self.waiting = []

    def add(self, student):
        self.waiting.append(student)
        if len(self.waiting) >= self.BATCH:
            self.flush()

    def flush(self):
        if not self.waiting:
            return
        batch, self.waiting = self.waiting, []
        self.run.record(batch)
        self.run.forget(batch)
        for student in batch:
            self.progress.advance(f"{student}: {self.run.results[student].status}")


class PrepareError(Exception):
    """A submitted notebook that cannot be graded: `status` (a FAILURES kind), `reason`."""

    def __init__(self, status, reason):
        super().__init__(reason)
        self.status, self.reason = status, reason


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
    fork=True,
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
    fork : bool
        Fork each kernel from the worker's warm template (:mod:`autograder.forked`)
        where the machine allows it; False: every kernel starts cold.
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
        fork=fork,
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
    recorder = Recorder(run, progress)

    def tasks():
        """Each student's tasks, prepared when the workers need more (so the first
        kernels start at once, and the parent sanitizes while they run)."""
        for student in todo:
            tasks = run.tasks_for(student)
            if not run.pending[student]:  # nothing to execute (missing, unreadable)
                recorder.add(student)
            yield from tasks

    dispatch = _dispatch_dask if scheduler else _dispatch_local
    dispatch(run, tasks(), jobs, scheduler, recorder)
    recorder.flush()
    progress.close()


def _dispatch_local(run, tasks, jobs, scheduler, recorder):
    """Run `tasks` (an iterator) in a process pool; a crashed worker costs only its own
    notebook.

    A worker that dies breaks the whole pool, and which task killed it is unknown: the
    unfinished tasks then run again one at a time, each in a fresh pool of its own, so
    a second crash names its task and no other.
    """
    while True:
        suspects = _pool_round(run, tasks, jobs, recorder)
        if not suspects:
            return  # every task done
        for task in suspects:
            for again in _pool_round(run, iter([task]), 1, recorder):
                student = run.lost(again, "(the grading worker died on it twice)")
                if student:
                    recorder.add(student)
        # then the tasks not started yet, in a fresh pool


def _pool_round(run, tasks, jobs, recorder):
    """Run `tasks` in one pool; returns the tasks a broken pool left unfinished.

    The pool gets at most two tasks per worker ahead; while the workers run, the parent
    prepares the next tasks and records what is finished whenever no result is waiting
    (:class:`Recorder`)."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, wait

    from .sandbox import execute_notebook

    # fork: no re-import of the caller's __main__ (scripts, pytest); the gradebook
    # connections the workers inherit are dropped in them (see shared_engines)
    ctx = multiprocessing.get_context("fork")
    broken, futures, pending = [], {}, set()
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        while True:
            while len(pending) < 2 * jobs and not broken:
                task = next(tasks, None)
                if task is None:
                    break
                fut = pool.submit(execute_notebook, task)
                futures[fut] = task
                pending.add(fut)
            if not pending:
                break
            timeout = 0 if recorder.waiting else None
            done, pending = wait(pending, timeout=timeout, return_when=FIRST_COMPLETED)
            if not done:
                recorder.flush()  # nothing waiting: record meanwhile
                continue
            for fut in done:
                task = futures.pop(fut)
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
                    recorder.add(student)
    return broken


def _dispatch_dask(run, tasks, jobs, scheduler, recorder):
    from distributed import Client
    from distributed import as_completed as dask_completed

    from .sandbox import execute_notebook

    client = Client(scheduler) if isinstance(scheduler, str) else scheduler
    try:
        futures = {client.submit(execute_notebook, t, pure=False): t for t in tasks}
        completed = dask_completed(list(futures))
        for fut in completed:
            try:
                result = fut.result()
            except Exception as exc:  # noqa: BLE001 - a lost dask worker
                student = run.lost(futures[fut], f"({type(exc).__name__}: {exc})")
            else:
                student = run.take(result)
            if student:
                recorder.add(student)
            if not completed.has_ready():
                recorder.flush()
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


#: The gradebook's table of the students' variants (course.variant_tables): nbgrader has
#: no column for it, and its migrations leave a table of another name alone.
VARIANT_TABLE = "backprop_variant"


def record_variant(db_url, assignment, student, variant):
    """Record in the gradebook which variant of `assignment`'s numbers `student` was
    graded on (table :data:`VARIANT_TABLE`: student, assignment, variant)."""
    from nbgrader.api import Gradebook
    from sqlalchemy import text

    with Gradebook(db_url) as gb:
        gb.db.execute(
            text(
                f"CREATE TABLE IF NOT EXISTS {VARIANT_TABLE} (student VARCHAR(128) NOT NULL, "
                "assignment VARCHAR(128) NOT NULL, variant INTEGER NOT NULL, "
                "PRIMARY KEY (student, assignment))"
            )
        )
        keys = {"s": student, "a": assignment, "v": int(variant)}
        gb.db.execute(
            text(f"DELETE FROM {VARIANT_TABLE} WHERE student = :s AND assignment = :a"), keys
        )
        gb.db.execute(text(f"INSERT INTO {VARIANT_TABLE} VALUES (:s, :a, :v)"), keys)
        gb.db.commit()


def recorded_variants(db_url, assignment):
    """student -> variant of `assignment` from the gradebook (empty: none recorded)."""
    from nbgrader.api import Gradebook
    from sqlalchemy import inspect, text

    with Gradebook(db_url) as gb:
        if not inspect(gb.db.get_bind()).has_table(VARIANT_TABLE):
            return {}
        rows = gb.db.execute(
            text(f"SELECT student, variant FROM {VARIANT_TABLE} WHERE assignment = :a"),
            {"a": assignment},
        )
        return {student: int(v) for student, v in rows}


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


def _print_kernels(graded, out):
    """How the kernels started (forked from a warm template, or cold and why), and the
    parent's share of the time per submission."""
    from collections import Counter

    starts = Counter(nb.get("kernel_start") or "" for r in graded for nb in r.notebooks.values())
    starts.pop("", None)
    if starts:
        parts = [
            f"{what} ({n} notebook{'s' if n != 1 else ''})" for what, n in starts.most_common()
        ]
        print("kernels: " + "; ".join(parts), file=out)
    if graded:
        share = sum(r.parent_seconds for r in graded) / len(graded)
        print(f"the parent's share: {share:.3f} s per submission (sanitize and record)", file=out)


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
    _print_kernels(graded, out)
    if scored:
        mean = sum(r.score for r in scored) / len(scored)
        print(
            f"mean raw score {mean:.2f} / {scored[0].max_score:g} (before late penalties)", file=out
        )
    width = max([24, *(len(r.student) + 1 for r in results)])
    crashed = [
        (r, n, c) for r in graded for n, nb in r.notebooks.items() for c in nb.get("crashes", [])
    ]
    if crashed:
        print(
            "\nKernels stopped by a cell (a fresh kernel graded the rest; the cell scored "
            "nothing and its feedback says so):",
            file=out,
        )
        for r, n, c in crashed[:20]:
            print(f"  {r.student:<{width}} {n}.ipynb cell {c['index'] + 1}: {c['cause']}", file=out)
        if len(crashed) > 20:
            print(f"  ... and {len(crashed) - 20} more", file=out)
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
