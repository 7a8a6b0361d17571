"""classroom/: test and demo support, kept out of the installed package."""

from pathlib import Path

import pytest
import tomllib

from classroom import runner
from classroom.paths import REPO
from classroom.plants import plants_for


def test_classroom_is_not_in_the_wheel():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    packages = config["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    assert "classroom" not in packages and "course" in packages


def test_the_sample_class_takes_its_plants_from_classroom():
    from classroom import samples

    assert "classroom.plants" in Path(samples.__file__).read_text()
    assert plants_for("04-backprop-recursion")


def test_affected_tests_follow_the_names_a_test_uses():
    nb = runner.read("02-sigmoid-network")
    assert runner.affected_tests(nb, ["to-course-params"]) == {"test-to-course-params"}
    # forward is used by the partials' cells (through the student's own functions) and by sgd
    forward = runner.affected_tests(nb, ["forward"])
    assert {"test-forward", "test-dL-dwo01", "test-loss-and-partials-hidden"} <= forward
    # hand numbers are read by name, from globals() (and a function whose local line is
    # deleted reads the global of the same name: graph_forward_backward's dfdy)
    nb1 = runner.read("01-chain-rule")
    hand = runner.affected_tests(nb1, ["hand-dfdy"])
    assert "test-hand-dfdy" in hand and "test-two-paths" not in hand


def test_a_test_cell_that_writes_to_stderr_scores_zero_as_in_nbgrader():
    nb = runner.read("04-backprop-recursion")
    for cell in nb.cells:
        if runner.meta(cell).get("grade_id") == "test-sgd-update":
            cell.source = "import sys\nprint('oops', file=sys.stderr)\n" + cell.source
    report = runner.run(nb, tests={"test-sgd-update"})
    assert report.failing() == ["test-sgd-update"]


@pytest.mark.slow
@pytest.mark.xdist_group("demo")
def test_make_demo_runs_the_whole_pipeline(tmp_path):
    """What `make demo` runs (python -m classroom demo), on one assignment."""
    import io
    import json

    from classroom import demo

    out = io.StringIO()
    assert demo.run_demo(tmp_path / "demo-output", assignments=["01-chain-rule"], out=out) == 0
    text = out.getvalue()
    assert "notebooks/ is in sync with solutions/" in text and "sandbox: bubblewrap" in text
    course = tmp_path / "demo-output" / "course"
    assert (course / "reports" / "report.html").exists()
    manifest = json.loads((tmp_path / "demo-output" / "class" / "manifest.json").read_text())
    students = set(manifest["01-chain-rule"])
    pages = {p.parts[-3] for p in (course / "feedback").glob("*/01-chain-rule/*.html")}
    assert pages == students
    rows = (course / "grades.csv").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 1 + len(students)
