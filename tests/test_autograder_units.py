"""Fast tests of the autograder's parts that need no kernel: collect, integrity checks,
feedback rendering, progress, the CLI's help."""

import io
import json
import zipfile

import nbformat
import pytest

from autograder import cli, collect, feedback, integrity
from autograder.course_config import Course
from autograder.progress import Progress
from classroom import fixture


@pytest.fixture()
def course(tmp_path):
    fixture.make_course(tmp_path / "course")
    return Course.load(tmp_path / "course")


def _nb_bytes():
    return nbformat.writes(fixture.fixture_notebook()).encode()


def test_collect_folder_reports_unknown_unreadable_and_missing(course, tmp_path):
    src = tmp_path / "in"
    (src / "alice").mkdir(parents=True)
    (src / "alice" / "fixture.ipynb").write_bytes(_nb_bytes())
    (src / "bob" / "00-fixture").mkdir(parents=True)  # <student>/<assignment>/<nb> works too
    (src / "bob" / "00-fixture" / "fixture.ipynb").write_bytes(_nb_bytes())
    (src / "carol").mkdir()
    (src / "carol" / "fixture.ipynb").write_bytes(b'{"cells": [')
    (src / "dave").mkdir()
    (src / "dave" / "Untitled.ipynb").write_bytes(_nb_bytes())
    (src / "stray.txt").write_text("?")

    rep = collect.collect(course, fixture.ASSIGNMENT, src)
    assert rep.students == ["alice", "bob", "carol"]
    assert [u[0] for u in rep.unknown] == ["dave/Untitled.ipynb", "stray.txt"]
    assert [(s, why.startswith("not valid JSON")) for s, _, _, why in rep.unreadable] == [
        ("carol", True)
    ]
    text = "\n".join(rep.lines())
    assert "no notebook: dave" in text
    # dave gets an (empty) submission folder so that grading names him "missing notebook"
    assert (course.submitted / "dave" / fixture.ASSIGNMENT).is_dir()
    assert (course.submitted / "carol" / fixture.ASSIGNMENT / "fixture.ipynb").exists()
    assert (course.submitted / "alice" / fixture.ASSIGNMENT / "timestamp.txt").exists()


def test_collect_zip_newest_duplicate_wins_and_pattern_is_configurable(course, tmp_path):
    z = tmp_path / "lms.zip"
    old = nbformat.v4.new_notebook()
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr(zipfile.ZipInfo("alice_123_fixture.ipynb", (2026, 11, 2, 9, 0, 0)), _nb_bytes())
        zf.writestr(
            zipfile.ZipInfo("alice_late_123_fixture-1.ipynb", (2026, 11, 1, 9, 0, 0)),
            nbformat.writes(old),
        )
        zf.writestr(zipfile.ZipInfo("readme.txt", (2026, 11, 1, 9, 0, 0)), "x")
    rep = collect.collect(course, fixture.ASSIGNMENT, z)
    assert rep.students == ["alice"]
    (dup,) = rep.duplicates
    assert dup[2] == "alice_123_fixture.ipynb" and dup[3] == ["alice_late_123_fixture-1.ipynb"]
    kept = nbformat.read(course.submitted / "alice" / fixture.ASSIGNMENT / "fixture.ipynb", 4)
    assert len(kept.cells) == len(fixture.fixture_notebook().cells)
    assert rep.unknown == [("readme.txt", "file name does not match the pattern")]

    z2 = tmp_path / "moodle.zip"
    with zipfile.ZipFile(z2, "w") as zf:
        zf.writestr("Bob Smith_991_assignsubmission_file_/fixture.ipynb", _nb_bytes())
    rep = collect.collect(
        course,
        fixture.ASSIGNMENT,
        z2,
        pattern=r"^(?P<student>[^/]+?)_\d+_assignsubmission_file_/(?P<notebook>.+)\.ipynb$",
    )
    assert rep.students == ["Bob Smith"]
    assert "Bob Smith" in rep.replaced or rep.replaced == []


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


def test_feedback_keeps_messages_and_drops_hidden_tests_and_tracebacks():
    source = fixture.fixture_notebook()
    release = nbformat.from_dict(source)
    for c in release.cells:
        c.source = feedback.HIDDEN.sub("", c.source)
    graded = nbformat.from_dict(source)
    graded.cells[3].outputs = [
        nbformat.v4.new_output(
            "error",
            ename="NameError",
            evalue="name 'x' is not defined",
            traceback=["z2 = np.array([[2.5]])", f"# {fixture.HIDDEN_MARK}"],
        )
    ]
    graded.cells[6].outputs = [
        nbformat.v4.new_output(
            "error", ename="GradingFailure", evalue="hand is wrong: yours 0.5.", traceback=["x"]
        )
    ]
    page = feedback.render(
        "s1", "00-fixture", "fixture", graded, release, source, {"test_hand": (0.0, 1.0)}
    )
    assert "hand is wrong: yours 0.5." in page
    assert "NameError: name &#x27;x&#x27; is not defined" in page
    for line in feedback.hidden_lines(source):
        assert line not in page and feedback.html.escape(line) not in page
    assert "0 / 1" in page


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


@pytest.mark.parametrize("assignment", ["04-backprop-recursion", "07-regularization"])
def test_feedback_shows_visible_tests_whole_and_no_hidden_line(assignment):
    """A hidden test that repeats a visible call must not cut that call out of the page."""
    from classroom.harness import RELEASE, SOLUTIONS, notebook_names

    name = notebook_names(assignment)[0]
    source = nbformat.read(SOLUTIONS / assignment / f"{name}.ipynb", as_version=4)
    release = nbformat.read(RELEASE / assignment / f"{name}.ipynb", as_version=4)
    page = feedback.render("s1", assignment, name, source, release, source, {})
    tests = [c for c in release.cells if c.metadata.get("nbgrader", {}).get("grade")]
    tests = [c for c in tests if not c.metadata["nbgrader"].get("solution")]
    assert tests
    for cell in tests:
        assert feedback.html.escape(cell.source) in page, cell.metadata["nbgrader"]["grade_id"]
    secret = feedback.hidden_lines(source, release)
    assert secret
    for line in secret:
        assert feedback.html.escape(line) not in page


def test_feedback_markdown_keeps_every_formula_as_written():
    """Markdown must not eat TeX (``\\,`` as escaped comma, ``_`` as emphasis)."""
    import re

    from classroom.harness import RELEASE

    page = feedback._md(r"Let $w_{1}\,x_{2}$ and **this**: $$h'(x) = f'(g(x))\; g'(x).$$")
    assert r"$w_{1}\,x_{2}$" in page and r"$$h'(x) = f'(g(x))\; g'(x).$$" in page
    assert "<strong>this</strong>" in page
    formulas = 0
    for path in sorted(RELEASE.glob("*/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "markdown":
                page = feedback._md(cell.source)
                for m in re.finditer(r"\$\$.+?\$\$|\$[^$]+\$", cell.source, re.DOTALL):
                    formulas += 1
                    assert feedback.html.escape(m.group(0), quote=False) in page, (path, m[0])
    assert formulas > 100
