"""The student edition (backprop_hub.edition): what students get, and make lab's folder."""

from __future__ import annotations

import subprocess
import sys
import zipfile

from backprop_hub import edition
from classroom.paths import REPO


def test_the_student_edition_holds_no_solution_and_no_grader(tmp_path):
    dest = edition.build(tmp_path / "edition")
    files = edition.files(dest)
    tops = {"/".join(f.split("/")[:2]) for f in files if f.startswith("lib/")}
    assert tops == {"lib/course", "lib/backprop_hub"}
    assert {f for f in files if f.startswith("lib/backprop_hub/")} == {
        "lib/backprop_hub/__init__.py",
        "lib/backprop_hub/exchange.py",
    }
    assert not [f for f in files if not f.startswith(("lib/", "notebooks/"))]
    notebooks = [f for f in files if f.endswith(".ipynb")]
    assert sorted(notebooks) == sorted(
        f"notebooks/{p.parent.name}/{p.name}" for p in (REPO / "notebooks").glob("*/*.ipynb")
    )
    for f in notebooks:
        text = (dest / f).read_text()
        assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text, f
    assert edition.check(dest) == []


def test_check_names_what_must_not_reach_a_student(tmp_path):
    for rel in ("lib/solutions/x.ipynb", "lib/autograder/grade.py", "nbgrader_config.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("")
    (tmp_path / "lib" / "course.py").write_text("")
    assert edition.check(tmp_path) == [
        "lib/autograder/grade.py",
        "lib/solutions/x.ipynb",
        "nbgrader_config.py",
    ]


def test_make_labs_working_folder_keeps_the_students_work(tmp_path):
    work = tmp_path / "lab"
    first = edition.prepare_workdir(work)
    assert "notebooks/01-chain-rule/chain_rule.ipynb" in first
    assert "notebooks/01-chain-rule/variants.json" in first  # the student's own numbers
    mine = work / "notebooks" / "01-chain-rule" / "chain_rule.ipynb"
    mine.write_text("my work")
    (work / "lib" / "course" / "stale.py").write_text("")
    (work / "notebooks" / "02-sigmoid-network" / "sigmoid_network.ipynb").unlink()
    again = edition.prepare_workdir(work)
    assert again == ["notebooks/02-sigmoid-network/sigmoid_network.ipynb"]
    assert mine.read_text() == "my work"
    assert not (work / "lib" / "course" / "stale.py").exists()
    assert (work / "lib" / "course" / "checks" / "chain_rule.py").exists()
    assert edition.check(work) == []


def test_the_wheel_installs_the_edition_and_nothing_else(tmp_path):
    whl = edition.wheel(tmp_path / "dist")
    names = zipfile.ZipFile(whl).namelist()
    assert {n.split("/")[0] for n in names} == {
        "course",
        "backprop_hub",
        "backprop_course_student-0.1.0.dist-info",
        "backprop_course_student-0.1.0.data",
    }
    assert edition.check_names(names) == []
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", target, whl],
        check=True,
    )
    probe = "import course.checks.chain_rule as c; print(c.__file__)"
    out = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path[:0] = [{str(target)!r}]; " + probe],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout.split()
    assert out == [str(target / "course" / "checks" / "chain_rule.py")]
    notebooks = list((target / "share" / "backprop-course" / "notebooks").glob("*/*.ipynb"))
    assert len(notebooks) == len(list((REPO / "notebooks").glob("*/*.ipynb")))
