"""After grading: feedback, export and report on a graded sample class with a due date,
late students and hostile text, through the CLI; and the pipeline under ``LC_ALL=C``.

The class is the fixture assignment's sample class (collected from its LMS zip, whose
entry times make two students late) plus a student whose markdown, outputs and error
messages carry ``<script>``, ``onerror`` and mathtext that matplotlib cannot parse.
"""

import csv
import os
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder import cli, collect, feedback, grade, late
from autograder.course_config import Course
from classroom import fixture, samples

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("autograder")]

A = fixture.ASSIGNMENT
HOSTILE_KINDS = ["infinite-loop", "edited-test", "snoop", "corrupt-file", "missing-notebook"]
EVIL = "s99-evil"
MATHTEXT = r"$\notacommand{x}$"


def _evil_notebook(course):
    """A correct notebook plus script in markdown and outputs and a mathtext bug text."""
    release = nbformat.read(course.release / A / "fixture.ipynb", as_version=4)
    source = nbformat.read(course.source / A / "fixture.ipynb", as_version=4)
    nb = samples.filled(release, source)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "answer_sigmoid_prime":
            cell.source = (
                "def sigmoid_prime(z):\n"
                f"    raise ValueError(r'Likely bug: {MATHTEXT} <script>alert(1)</script>')"
            )
    nb.cells.insert(
        1,
        nbformat.v4.new_markdown_cell(
            "Hi <script>alert('md')</script> <img src=x onerror=\"alert('img')\"> "
            "[click](javascript:alert('link'))"
        ),
    )
    nb.cells.insert(
        2,
        nbformat.v4.new_code_cell(
            "from IPython.display import HTML, SVG, Javascript, display\n"
            "display(HTML('<b>bold</b><script>alert(2)</script><img src=x onerror=alert(3)>'))\n"
            'display(SVG(\'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(4)"></svg>\'))\n'
            "display(Javascript('alert(5)'))"
        ),
    )
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("after")
    root = fixture.make_course(base / "course")
    course = Course.load(root)
    grade.generate_release(course, A)
    late.set_due(course, A, late.parse_when(samples.DUE))
    manifest = samples.generate(course, base / "class", seed=0, hostile=HOSTILE_KINDS)[A]
    collect.collect(course, A, base / "class" / f"{A}.zip")
    evil = base / "evil" / EVIL
    evil.mkdir(parents=True)
    nbformat.write(_evil_notebook(course), evil / "fixture.ipynb")
    on_time = time.mktime((2026, 11, 2, 12, 0, 0, 0, 0, -1))  # a folder's times are its files'
    os.utime(evil / "fixture.ipynb", (on_time, on_time))
    collect.collect(course, A, base / "evil")
    manifest[EVIL] = {"kind": "evil", "late_days": 0}
    with open(os.devnull, "w") as devnull:
        grade.grade(course, A, jobs=2, cell_timeout=5, notebook_timeout=120, out=devnull)
    return course, manifest


def live_markup(page):
    """Tags and attributes that would run script in a browser (parsed, not grepped)."""
    from html.parser import HTMLParser

    found = []

    class Parser(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag in ("script", "iframe", "object", "embed"):
                found.append(tag)
            for name, value in attrs:
                if name.startswith("on") or "javascript:" in (value or "").lower():
                    found.append(f"{tag} {name}={value}")
                if tag == "img" and name == "src" and not (value or "").startswith("data:"):
                    found.append(f"remote image {value}")

    Parser().feed(page)
    return found


def _run(course, *args):
    return cli.main(["--root", str(course.root), *args])


@pytest.fixture(scope="module")
def pages(graded):
    course, manifest = graded
    assert _run(course, "feedback", A) == 0
    return {s: (course.feedback / s / A / "fixture.html").read_text("utf-8") for s in manifest}


def test_every_student_has_a_page_without_hidden_tests(graded, pages):
    course, manifest = graded
    source = nbformat.read(course.source / A / "fixture.ipynb", as_version=4)
    hidden = feedback.hidden_lines(source)
    assert hidden
    for student, page in pages.items():
        assert "HIDDEN TESTS" not in page and fixture.HIDDEN_MARK not in page, student
        for line in hidden:
            assert line not in page, (student, line)
        assert '<html lang="en">' in page
        # a score table, or (a file that could not be graded) what happened and what to do
        assert '<table class="summary">' in page or 'class="notice stop unreadable"' in page
    half = next(s for s, i in manifest.items() if i["kind"] == "half-done")
    assert "name &#39;hand&#39; is not defined" in pages[half] or "name 'hand'" in pages[half]


def test_pages_say_what_happened(graded, pages):
    course, manifest = graded
    by_kind = {i["kind"]: s for s, i in manifest.items()}
    for kind in ("edited-test", "snoop"):
        assert "Your grade is under review" in pages[by_kind[kind]], kind
    assert "Your grade is under review" not in pages[by_kind["correct"]]
    loop = pages[by_kind["infinite-loop"]]
    assert re.search(
        r"Grading stopped at <a href=\"#cell-\d+\">cell \d+ \(your answer: hand\)</a>", loop
    )
    assert loop.count('class="notice stop') == 1  # one banner for one timeout
    missing = pages[by_kind["missing-notebook"]]
    assert "did not receive fixture.ipynb" in missing and "scores 0" in missing
    corrupt = pages[by_kind["corrupt-file"]]
    assert "could not open fixture.ipynb" in corrupt and "Download it again" in corrupt
    assert "column" not in corrupt.split("<main>")[0]  # no JSON parser position
    assert "restored from the original" in pages[by_kind["edited-test"]]


def test_hostile_text_never_becomes_markup(graded, pages):
    for student, page in pages.items():
        assert live_markup(page) == [], student
    page = pages[EVIL]
    assert "&lt;script&gt;alert(" in page  # shown as text
    assert "<b>bold</b>" in page  # harmless HTML output is kept


def test_late_students_lose_points_in_csv_feedback_and_report(graded, pages):
    course, manifest = graded
    out = course.root / "out" / "grades.csv"
    assert _run(course, "export", "-o", str(out)) == 0
    rows = {r["student_id"]: r for r in csv.DictReader(out.open(encoding="utf-8"))}
    late_students = [s for s, i in manifest.items() if i["late_days"]]
    assert len(late_students) == 2
    for s in late_students:
        r = rows[s]
        raw, penalty, final = float(r["raw_score"]), float(r["late_penalty"]), float(r["score"])
        days = manifest[s]["late_days"]
        assert penalty == pytest.approx(raw * 0.10 * days) and penalty > 0, s
        assert final == pytest.approx(raw - penalty)
        assert int(r["seconds_late"]) > (days - 1) * 86400
        assert "late penalty (submitted" in pages[s] and f"\u2212{penalty:g}" in pages[s]
    on_time = next(s for s, i in manifest.items() if i["kind"] == "correct" and not i["late_days"])
    assert rows[on_time]["late_penalty"] == "0" and "late penalty" not in pages[on_time]
    assert _run(course, "report") == 0
    html = (course.root / "reports" / "report.html").read_text("utf-8")
    table = html.split('-late">Late submissions</h3>', 1)[1].split("</table>", 1)[0]
    assert sorted(re.findall(r"<tr><td>([^<]+)</td>", table)) == sorted(late_students)


def test_report_reads_well_and_survives_hostile_text(graded, pages):
    course, manifest = graded
    assert _run(course, "report") == 0
    path = course.root / "reports" / "report.html"
    html = path.read_text("utf-8")
    assert '<html lang="en">' in html and 'id="contents"' in html
    assert live_markup(html) == []
    imgs = re.findall(r'<img src="data:image/png;base64,[^"]+" alt="([^"]*)"', html)
    # one distribution per assignment, the hardest items, the commonest bugs
    assert len(imgs) == 3 and all(len(alt) > 30 for alt in imgs)
    assert MATHTEXT.replace("\\", "\\") in html  # the bug text in full, drawn as text
    links = re.findall(r'<a href="([^"#][^"]*\.html)">', html)
    assert len(links) >= len(manifest) - 1
    for link in links:
        assert (path.parent / link).resolve().exists(), link
    for kind in ("edited-test", "snoop"):
        student = next(s for s, i in manifest.items() if i["kind"] == kind)
        section = html.split('-flagged">Flagged for review</h3>', 1)[1]
        assert f"<tr><td>{student}</td>" in section


def test_report_ignores_a_config_dir_a_kernel_could_have_written(graded, tmp_path):
    course, _ = graded
    poisoned = tmp_path / "mplconfig"
    poisoned.mkdir()
    (poisoned / "matplotlibrc").write_text("backend: nonexistent_backend\ntext.usetex: True\n")
    (poisoned / "fontlist-v390.json").write_text("{not json")
    env = dict(os.environ, MPLCONFIGDIR=str(poisoned))
    out = tmp_path / "r.html"
    proc = subprocess.run(
        [sys.executable, "-m", "autograder", "--root", str(course.root), "report", "-o", str(out)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert out.read_text("utf-8").count("data:image/png;base64,") == 3


def test_export_formats_match_their_column_layouts(graded, tmp_path):
    course, manifest = graded
    roster = tmp_path / "roster.csv"
    people = sorted(manifest)
    with roster.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "name", "email", "sis_id", "section", "lms_id"])
        for i, s in enumerate(people):
            w.writerow([s, f"Student Nº{i}", f"{s}@uni.edu", f"S{i:03d}", "A", str(1000 + i)])

    def export(fmt):
        out = tmp_path / f"{fmt}.csv"
        assert _run(course, "export", "--format", fmt, "--roster", str(roster), "-o", str(out)) == 0
        return list(csv.reader(out.open(encoding="utf-8")))

    canvas = export("canvas")
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", A]
    assert canvas[1][0].strip() == "Points Possible" and canvas[1][5] == "3"
    assert len(canvas) == 2 + len(people)
    first = canvas[2]
    assert first[:5] == ["Student Nº0", "1000", "S000", "", "A"] and float(first[5]) >= 0
    moodle = export("moodle")
    assert moodle[0] == ["ID number", A]  # one identifier column (tests/test_lms_export.py)
    assert moodle[1][0] == "S000" and float(moodle[1][1]) >= 0
    assert len(moodle) == 1 + len(people)
    long = export("long")
    assert long[0] == ["student_id", "assignment", "notebook", "question", "score", "max_score"]
    questions = {r[3] for r in long[1:]}
    assert {"test_sigmoid_prime", "test_hand", "late penalty"} <= questions
    late_rows = [r for r in long[1:] if r[3] == "late penalty"]
    assert len(late_rows) == 2 and all(float(r[4]) < 0 for r in late_rows)
    wide = export("wide")
    assert wide[0] == [
        "student_id",
        "name",
        f"{A} raw",
        f"{A} late penalty",
        f"{A} score",
        "total",
        "max_total",
    ]
    assert len(wide) == 1 + len(people)
    summary = export("summary")
    assert summary[0][:8] == [
        "student_id",
        "name",
        "assignment",
        "raw_score",
        "late_penalty",
        "score",
        "max_score",
        "percent",
    ]
    assert "sandbox" in summary[0]


def test_formgrader_sees_flags_and_test_cell_comment_rows(graded, pages):
    course, manifest = graded
    from nbgrader.api import Gradebook

    snoop = next(s for s, i in manifest.items() if i["kind"] == "snoop")
    correct = next(s for s, i in manifest.items() if i["kind"] == "correct")
    with Gradebook(course.db_url) as gb:
        assert gb.find_submission_notebook("fixture", A, snoop).flagged
        assert not gb.find_submission_notebook("fixture", A, correct).flagged
        names = {c.name for c in gb.find_submission_notebook("fixture", A, correct).comments}
    assert {"test_sigmoid_prime", "test_hand", "answer_sigmoid_prime"} <= names


def _zip_class(course, dest):
    with zipfile.ZipFile(dest, "w") as zf:
        for student in ("ann", "zoë-müller", "blank"):
            kind = "blank" if student == "blank" else "correct"
            nb = (
                nbformat.read(course.release / A / "fixture.ipynb", as_version=4)
                if kind == "blank"
                else samples.filled(
                    nbformat.read(course.release / A / "fixture.ipynb", as_version=4),
                    nbformat.read(course.source / A / "fixture.ipynb", as_version=4),
                )
            )
            info = zipfile.ZipInfo(f"{student}_1_2_fixture.ipynb", (2026, 11, 3, 12, 0, 0))
            zf.writestr(info, nbformat.writes(nb))


def test_the_whole_pipeline_under_the_c_locale(tmp_path):
    """LC_ALL=C with Python's UTF-8 mode switched off too (ASCII everywhere): a student
    named zoë-müller is collected, graded, given feedback, exported and reported."""
    root = fixture.make_course(tmp_path / "course")
    course = Course.load(root)
    grade.generate_release(course, A)
    _zip_class(course, tmp_path / "class.zip")
    env = dict(os.environ, LC_ALL="C", LANG="C", PYTHONUTF8="0")
    env.pop("PYTHONIOENCODING", None)
    steps = [
        ["release", A, "--due", "2026-11-02 23:59", "--tz", "Europe/Berlin"],
        ["collect", A, str(tmp_path / "class.zip"), "--tz", "Europe/Berlin"],
        ["grade", A, "--jobs", "2", "--timeout", "10"],
        ["feedback", A],
        ["export", "--format", "canvas"],
        ["export"],
        ["report"],
    ]
    for step in steps:
        proc = subprocess.run(
            [sys.executable, "-m", "autograder", "--root", str(root), *step],
            env=env,
            capture_output=True,
        )
        assert proc.returncode == 0, (step, proc.stdout[-1500:], proc.stderr[-3000:])
    assert (root / "feedback" / "zoë-müller" / A / "fixture.html").exists()
    rows = list(csv.DictReader((root / "grades.csv").open(encoding="utf-8")))
    assert {r["student_id"] for r in rows} == {"ann", "zoë-müller", "blank"}
    zoe = next(r for r in rows if r["student_id"] == "zoë-müller")
    assert float(zoe["late_penalty"]) > 0  # a day late in Berlin
    assert "zoë-müller" in Path(root / "reports" / "report.html").read_text("utf-8")


def _live_alerts(page):
    """The students' alert(...) payloads that a browser would run: inside <script>
    elements, in on* attributes or in javascript: links."""
    from html.parser import HTMLParser

    found = []

    class Parser(HTMLParser):
        script = False

        def handle_starttag(self, tag, attrs):
            self.script = tag == "script"
            for name, value in attrs:
                live = name.startswith("on") or "javascript:" in (value or "").lower()
                if live and "alert" in (value or ""):
                    found.append(f"{tag} {name}={value}")

        def handle_endtag(self, tag):
            self.script = False

        def handle_data(self, data):
            if self.script and "alert(" in data:
                found.append(f"script: {data.strip()[:60]}")

    Parser().feed(page)
    return found


def test_formgraders_page_shows_student_markup_inert(graded):
    """formgrader renders a submission with HTMLExporter and the course's config."""
    from nbconvert.exporters import HTMLExporter

    course, _ = graded
    path = course.autograded / EVIL / A / "fixture.ipynb"
    resources = {  # what formgrader's SubmissionHandler passes
        "assignment_id": A,
        "notebook_id": "fixture",
        "submission_id": "x",
        "index": 0,
        "total": 1,
        "base_url": "",
        "student": EVIL,
        "last_name": None,
        "first_name": None,
        "notebook_path": "/x",
    }
    nb = nbformat.read(path, as_version=4)
    # widget state a student put in the notebook's metadata, and a view of it
    state = {"x": {"model_name": "HTMLModel", "state": {"value": "<img src=x onerror=alert(9)>"}}}
    nb.metadata["widgets"] = {
        "application/vnd.jupyter.widget-state+json": {
            "state": state,
            "version_major": 2,
            "version_minor": 0,
        }
    }
    view = {"model_id": "x", "version_major": 2, "version_minor": 0}
    code = [c for c in nb.cells if c.cell_type == "code"][-1]
    code.outputs.append(
        nbformat.v4.new_output(
            "display_data", data={"application/vnd.jupyter.widget-view+json": view}
        )
    )
    page, _ = HTMLExporter(config=course.config).from_notebook_node(nb, resources=resources)
    assert "alert(9)" not in page and "html-manager" not in page
    assert "&lt;p&gt;" not in page  # Markdown stays Markdown: only what is unsafe is inert
    assert "comment tabbable" in page  # the course's formgrade template
    assert _live_alerts(page) == []
    assert "<b>bold</b>" in page  # harmless HTML output is kept
    # and the check itself sees a live payload
    assert _live_alerts("<script>alert(1)</script><img src=x onerror=alert(3)>") != []
