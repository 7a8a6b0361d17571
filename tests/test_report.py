"""The instructor's report on a demo-sized class: the first screen answers how the class
did, which items were hard, which bugs were common and who needs a look; the rest folds
away; the page is small and self-contained.

The class is made without grading: the course's real assignments (their source
notebooks' graded cells and titles), 27 students, scores through nbgrader's API, run
records (flags, failures) through the grader's own ``save_record`` and graded notebooks
carrying "Likely bug" diagnoses as failing tests print them.
"""

import datetime as dt
import re
from html.parser import HTMLParser

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder import report
from autograder.course_config import Course
from autograder.grade import SubmissionResult, save_record
from autograder.workspace import assignments as repo_assignments
from classroom import fixture

pytestmark = pytest.mark.slow  # the gradebook of 27 x 7 submissions takes seconds

REAL = repo_assignments()
KINDS = ["correct"] * 6 + ["bug"] * 12 + ["blank"] * 3 + ["tamper", "snoop", "edited-test"]
KINDS += ["infinite-loop", "corrupt-file", "missing-notebook"]
STUDENTS = [f"s{i + 1:02d}-{k}" for i, k in enumerate(KINDS)]
LATE = {"s02-correct": 0.2}
DUE = dt.datetime(2026, 11, 2, 23, 59)  # share of the first assignment's score lost
COMMON = "forgot the factor σ(z)(1 − σ(z)) in the backward pass"
RARE = "used the transpose of W"


def graded_cells(course, assignment):
    """[(notebook, grade_id, points, cell_type, is_solution)] of the source notebooks."""
    out = []
    for n in course.notebook_names(assignment):
        nb = nbformat.read(course.source / assignment / f"{n}.ipynb", as_version=4)
        for cell in nb.cells:
            m = cell.metadata.get("nbgrader", {})
            if m.get("grade") or m.get("solution"):
                out.append((n, m["grade_id"], m.get("points"), cell.cell_type, m))
    return out


def _share(student, gid, kind, hardest):
    if kind in ("blank", "tamper", "corrupt-file", "missing-notebook") or gid == hardest:
        return 0.0
    if kind == "bug":
        return 0.0 if sum(map(ord, student + gid)) % 3 == 0 else 1.0
    return 1.0 if kind != "infinite-loop" else 0.5


def _diagnosed(course, student, assignment, notebook, gid, texts):
    """A graded notebook whose test cell `gid` failed with these diagnoses."""
    cell = nbformat.v4.new_code_cell("check()")
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": gid, "points": 1}
    cell.outputs = [
        nbformat.v4.new_output(
            "error", ename="GradingFailure", evalue=f"Likely bug: {t}.", traceback=[]
        )
        for t in texts
    ]
    path = course.autograded / student / assignment / f"{notebook}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), path)


@pytest.fixture(scope="module")
def demo_class(tmp_path_factory):
    root = fixture.make_course(
        tmp_path_factory.mktemp("report") / "course", assignments=REAL, fixture=False
    )
    course = Course.load(root)
    hardest = {}
    with Gradebook(course.db_url) as gb:
        for a in REAL:
            cells = graded_cells(course, a)
            gb.update_or_create_assignment(a, duedate=DUE)
            for n in sorted({c[0] for c in cells}):
                gb.add_notebook(n, a)
            for n, gid, points, kind, m in cells:
                if m.get("grade"):
                    gb.add_grade_cell(gid, n, a, max_score=points, cell_type=kind)
                if m.get("solution"):
                    gb.add_solution_cell(gid, n, a)
            tests = [c for c in cells if c[4].get("grade")]
            hardest[a] = tests[-1][:2]  # nobody gets the last test of each assignment
        for s in STUDENTS:
            gb.add_student(s)
        for a in REAL:
            cells = [c for c in graded_cells(course, a) if c[4].get("grade")]
            for s, kind in zip(STUDENTS, KINDS, strict=True):
                late = s in LATE and a == REAL[0]
                gb.add_submission(a, s, timestamp=DUE + dt.timedelta(hours=26 if late else -1))
                for n, gid, points, _, _ in cells:
                    share = _share(s, gid, kind, hardest[a][1])
                    g = gb.find_grade(gid, n, a, s)
                    g.auto_score, g.needs_manual_grade = share * points, False
                if s in LATE and a == REAL[0]:
                    sub = gb.find_submission_notebook(cells[0][0], a, s)
                    sub.late_submission_penalty = LATE[s] * float(sub.score)
        gb.db.commit()
    for a in REAL:
        n, gid = hardest[a]
        for i, s in enumerate(STUDENTS):
            res = SubmissionResult(s, a, seconds=3.0 + i, sandbox="bubblewrap")
            kind = KINDS[i]
            if kind in ("tamper", "snoop", "edited-test"):
                res.flags = [f"{n}: {kind}: the grader found something to look at"]
            if kind == "infinite-loop":
                res.fail("cell timeout", f"cell timeout: {n}.ipynb cell 4 ran longer than 15 s")
            if kind == "corrupt-file":
                res.fail("invalid JSON", f"invalid JSON: {n}.ipynb (ValueError: line 1)")
            if kind == "missing-notebook":
                res.fail("missing notebook", f"missing notebook: {n}.ipynb")
            save_record(course, res)
            if kind == "bug" and a == REAL[1]:
                # every bug student hit COMMON, twice (two cells), one also RARE
                texts = [COMMON, COMMON] + ([RARE] if s == "s07-bug" else [])
                _diagnosed(course, s, a, n, gid, texts)
    return course, hardest


class _Visible(HTMLParser):
    def __init__(self):
        super().__init__()
        self.text, self.skip, self.imgs, self.urls = [], 0, [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.skip += tag == "style"
        if tag == "img":
            self.imgs.append(a)
        for key in ("src", "href"):
            if key in a:
                self.urls.append(a[key])

    def handle_endtag(self, tag):
        self.skip -= tag == "style"

    def handle_data(self, data):
        if not self.skip:
            self.text.append(data)


def _parse(html):
    p = _Visible()
    p.feed(html)
    return " ".join(" ".join(p.text).split()), p


@pytest.fixture(scope="module")
def page(demo_class, tmp_path_factory):
    """The report, written once after a Moodle export without a roster (which leaves
    everyone out: no ID numbers)."""
    from autograder.export import export_csv

    course, _ = demo_class
    out = tmp_path_factory.mktemp("out")
    with open(out / "stderr.txt", "w", encoding="utf-8") as err:
        export_csv(course, fmt="moodle", output=out / "m.csv", err=err)
    path = report.write_report(course, output=out / "report.html")
    return path, path.read_text(encoding="utf-8")


def test_the_first_screen_answers_the_four_questions(page):
    _, html = page
    first, rest = html.split('<h2 id="contents">', 1)
    text, parsed = _parse(first)
    # how the class did: every assignment, one distribution each
    for a in REAL:
        assert a in text
    dists = [i for i in parsed.imgs if i["alt"].startswith("Histogram of the final scores")]
    assert len(dists) == len(REAL)
    assert f"{len(STUDENTS)} students, {len(STUDENTS) * len(REAL)} submissions" in text
    # which items were hard: the items nobody got, at 0 %
    (hard,) = [i for i in parsed.imgs if i["alt"].startswith("Bar chart of the hardest")]
    for a in REAL:
        assert f"{a} " in hard["alt"]
    assert hard["alt"].count(": 0 %") >= len(REAL)
    # common bugs as real counts: students, not cells (12 bug students, 2 cells each)
    (bugs,) = [i for i in parsed.imgs if i["alt"].startswith("Bar chart of the commonest")]
    assert f"{COMMON} (12)" in bugs["alt"] and f"{RARE} (1)" in bugs["alt"]
    # who needs a look: flagged, failed and late, by name, once per student and kind
    people, _ = _parse(first.split('<ul class="people">', 1)[1].split("</ul>", 1)[0])
    for s in ("s22-tamper", "s23-snoop", "s24-edited-test", "s25-infinite-loop", "s02-correct"):
        assert people.count(f"{s} in") == 1, s
    assert "s01-correct" not in people and "s03-correct" not in people
    assert "late by 1 day 2 h" in text
    assert "Students to look at: 3 flagged, 3 not graded normally, 1 late." in text
    # the rest folds away
    assert rest.count("<details") == len(REAL) and "<details" not in first
    assert "Students and feedback pages" in rest and "Students and feedback" not in first


def test_the_page_is_small_and_offline(page):
    path, html = page
    size = path.stat().st_size
    assert size < 300_000, f"{size / 1000:.0f} KB"
    _, parsed = _parse(html)
    for url in parsed.urls:
        assert url.startswith(("data:image/png;base64,", "#")) or not re.match(r"\w+:", url), url
    assert "<script" not in html and "@import" not in html and "url(" not in html
    assert len(parsed.imgs) <= len(REAL) + 2  # few charts
    assert all(len(i["alt"]) > 40 for i in parsed.imgs)


def test_the_report_lists_who_an_lms_export_left_out(page):
    path, html = page
    first = html.split('<h2 id="contents">', 1)[0]
    text, _ = _parse(first)
    assert "moodle export" in text and "27 left out" in text and "m.warnings.txt" in text
    assert "no roster given" in text
    assert "s27-missing-notebook" in (path.parent / "stderr.txt").read_text(encoding="utf-8")


def test_item_titles_show_their_formulas_as_mathml_not_tex(page):
    _, html = page
    items = html.split('<h2 id="contents">', 1)[1]
    # 01's heading "3. The graph $f(x, y, z) = x\,(y^2 + z)$" (REAL's real source notebooks)
    assert '<math alttext="f(x, y, z) = x\\,(y^2 + z)"' in items
    assert "$f(x, y, z)" not in html and "\\delta^m$" not in html
