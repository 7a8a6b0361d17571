"""Fast tests of the autograder's parts that need no kernel: integrity checks,
progress, the CLI's help (feedback rendering: tests/test_feedback.py)."""

import io
import json
import resource

import nbformat
import pytest

from autograder import cli, integrity
from autograder.course_config import Course
from autograder.progress import Progress
from classroom import fixture


@pytest.fixture()
def course(tmp_path):
    fixture.make_course(tmp_path / "course")
    return Course.load(tmp_path / "course")


def _nb_bytes():
    return nbformat.writes(fixture.fixture_notebook()).encode()


def test_structure_flags_name_edited_and_deleted_test_cells():
    release = fixture.fixture_notebook()
    edited = nbformat.from_dict(release)
    edited.cells[3].source = "pass"
    deleted = nbformat.from_dict(release)
    deleted.cells = [c for c in deleted.cells if c.metadata.nbgrader["grade_id"] != "test_hand"]
    assert integrity.structure_flags(release, release) == []
    assert integrity.structure_flags(edited, release) == ["test cell edited: test_sigmoid_prime"]
    assert integrity.structure_flags(deleted, release) == ["test cell deleted: test_hand"]


def test_scan_source_flags_tampering_but_not_honest_code():
    nb = fixture.fixture_notebook()
    assert integrity.scan_source(nb) == []
    nb.cells[2].source = (
        "import numpy\nnumpy.allclose = lambda *a: True\ncheck_close = print\n"
        "import sys\nsys.modules['course.grading'] = None\n"
        "def call(*a):\n    pass\n"
    )
    flags = "\n".join(integrity.scan_source(nb))
    assert "reassigns numpy.allclose" in flags
    assert "rebinds check_close, which the tests import" in flags
    assert "redefines call" in flags
    assert "edits sys.modules" in flags


def test_locked_bindings_name_what_the_tests_import():
    nb = fixture.fixture_notebook()
    b = integrity.locked_bindings(nb)
    assert b["np"] == ("numpy", None)
    assert b["check_close"] == ("course.grading", "check_close")


def test_progress_plain_text_has_counts_and_rate():
    buf = io.StringIO()
    p = Progress(3, out=buf, label="grading a")
    for s in "abc":
        p.advance(f"{s}: ok")
    p.close()
    lines = buf.getvalue().splitlines()
    assert lines[0] == "grading a: 3 submissions"
    assert lines[1].startswith("[1/3]") and "/s" in lines[1] and "a: ok" in lines[1]
    assert lines[-1].startswith("grading a: 3 in")


@pytest.mark.parametrize(
    "command",
    ["release", "collect", "grade", "feedback", "export", "report"],
)
def test_every_subcommand_has_help_with_examples(command, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([command, "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "examples:" in text and f"backprop-grade {command}" in text


def test_release_and_samples_commands_on_a_course(course, tmp_path, capsys):
    from classroom import __main__ as classroom_main
    from classroom import samples

    root = str(course.root)
    assert cli.main(["--root", root, "release", "--check"]) == 1  # nothing released yet
    assert cli.main(["--root", root, "release"]) == 0
    assert (course.release / fixture.ASSIGNMENT / "fixture.ipynb").exists()
    assert cli.main(["--root", root, "release", "--check"]) == 0
    out = tmp_path / "class"
    assert classroom_main.main(["samples", "--root", root, "--out", str(out), "--seed", "1"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    kinds = {v["kind"] for v in manifest[fixture.ASSIGNMENT].values()}
    assert set(samples.HOSTILE) <= kinds
    assert {"correct", "blank", "half-done"} <= kinds
    corrupt = next((out / fixture.ASSIGNMENT).glob("*-corrupt-file/fixture.ipynb")).read_bytes()
    with pytest.raises(ValueError):
        json.loads(corrupt)
    assert (
        cli.main(["--root", root, "collect", fixture.ASSIGNMENT, str(out / fixture.ASSIGNMENT)])
        == 0
    )
    text = capsys.readouterr().out
    students = manifest[fixture.ASSIGNMENT]
    assert f"collected {len(students) - 1} notebooks" in text  # the missing one is named
    assert "no notebook: " in text and "unreadable: " in text


def test_execute_notebook_from_threads_sharing_one_context_loop():
    """dask runs jobs in threads whose contexts may carry one event loop: no sharing."""
    import contextvars
    import threading

    from jupyter_core.utils import ensure_event_loop

    from autograder.sandbox import execute_notebook

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import time\ntime.sleep(1.0)\nprint(6 * 7)")]
    task = {"notebook": nbformat.writes(nb), "cell_timeout": 30}
    ensure_event_loop()  # the main thread's loop, remembered in the current context
    results = {}

    def job(key, ctx):
        results[key] = ctx.run(execute_notebook, {**task, "key": key})

    threads = [threading.Thread(target=job, args=(k, contextvars.copy_context())) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for key in range(2):
        assert results[key]["status"] == "ok", results[key]["reason"]
        out = nbformat.reads(results[key]["notebook"], as_version=4).cells[0].outputs
        assert out[0]["text"] == "42\n"


def test_the_sandbox_mounts_its_writable_folders_before_the_binds_below_them(monkeypatch):
    """A course cloned under /tmp binds its virtualenv from there: a tmpfs mounted later
    would hide it (bwrap: execvp ...: No such file or directory)."""
    from autograder import sandbox

    monkeypatch.setattr(sandbox, "_python_view", lambda: ([["/tmp/c/.venv", "/tmp/c/.venv"]], []))
    args = sandbox.bwrap_command(["/tmp/c/.venv/bin/python"], connection_file="/tmp/k.json")
    mounts = [(a, args[i + 1]) for i, a in enumerate(args) if a in ("--tmpfs", "--ro-bind")]
    for i, (kind, path) in enumerate(mounts):
        if kind == "--tmpfs":
            earlier = [p for k, p in mounts[:i] if k == "--ro-bind"]
            assert not any(p == path or p.startswith(path + "/") for p in earlier), (path, earlier)
    assert ("--ro-bind", "/tmp/c/.venv") in mounts


def test_the_summary_keeps_its_columns_apart_for_long_names():
    import io

    from autograder import grade

    long = grade.SubmissionResult("s12-loop-ignores-interrupt-and-more", "a", score=0, max_score=3)
    long.fail("cell timeout", "cell timeout: a.ipynb a cell ran longer than 5 s")
    out = io.StringIO()
    grade.print_summary([long, grade.SubmissionResult("s1", "a", score=3, max_score=3)], out)
    (line,) = [x for x in out.getvalue().splitlines() if long.student in x]
    assert line.split()[:3] == [long.student, "cell", "timeout"]
    assert line.count("cell timeout") == 1  # the status once, as its own column


def _limit_seen_in_a_pool_worker(task):
    from autograder import sandbox

    sandbox.execute_notebook(task)
    return resource.getrlimit(resource.RLIMIT_AS)[0]


def test_worker_memory_is_capped_in_workers_only(monkeypatch):
    """A pool worker's address space is capped at worker_memory_mb; grading in the caller's
    own process (nbgrader's Autograde, a test) leaves the caller's limit alone: a browser
    started there later would not start under a grading worker's cap."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from autograder import sandbox

    monkeypatch.setattr(sandbox, "_execute_in_own_loop", lambda task: {})
    before = resource.getrlimit(resource.RLIMIT_AS)
    task = {"worker_memory_mb": 3000}
    sandbox.execute_notebook(task)
    assert resource.getrlimit(resource.RLIMIT_AS) == before
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        assert pool.submit(_limit_seen_in_a_pool_worker, task).result() == 3000 * 2**20


@pytest.mark.slow  # builds matplotlib's font list in a fresh interpreter
def test_a_font_cache_without_a_run_folder_is_removed_at_exit(tmp_path):
    """nbgrader's Autograde grades without a run folder: the font list it builds for the
    kernels lives in $TMPDIR only as long as the process that built it."""
    import os
    import subprocess
    import sys

    code = "from autograder import sandbox; import os; print(os.path.isfile(sandbox.font_cache()))"
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.stdout.strip() == "True", done.stderr
    assert list(tmp_path.glob("backprop-mpl-*")) == []


def test_the_course_root_is_the_nearest_folder_with_an_nbgrader_config(
    tmp_path, monkeypatch, capsys
):
    from autograder.course_config import CourseNotFound, default_root

    (tmp_path / "course" / "notebooks" / "01").mkdir(parents=True)
    (tmp_path / "course" / "nbgrader_config.py").write_text("c = get_config()  # noqa\n")
    assert default_root(tmp_path / "course" / "notebooks" / "01") == tmp_path / "course"
    with pytest.raises(CourseNotFound, match="--root"):
        default_root(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["release", "--check"]) == 2  # no course here: said, not a traceback
    assert "no nbgrader_config.py" in capsys.readouterr().err
