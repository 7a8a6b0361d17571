"""The course's feedback rendering without a kernel: nbgrader's exporter with the course's
template and preprocessor on hand-made and real notebooks.  Hidden tests never shown,
formulas as MathML, student text inert, outputs kept, code highlighted."""

import base64
import re
from html.parser import HTMLParser

import nbformat
import pytest
from traitlets.config import Config

from autograder import cells, feedback, safe_html
from classroom import fixture
from classroom.harness import RELEASE, SOLUTIONS, notebook_names


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """One course root (and empty gradebook) for the module: nbgrader makes it once."""
    return tmp_path_factory.mktemp("feedback-root")


def render(nb, tmp_path, student="s1"):
    c = Config()
    c.CourseDirectory.root = str(tmp_path)
    exporter = feedback.FeedbackExporter(config=c)
    exporter.register_preprocessor(feedback.CourseFeedback(config=c), enabled=True)
    resources = {
        "unique_key": "nb",
        "nbgrader": {
            "student": student,
            "assignment": "a",
            "notebook": "nb",
            "db_url": f"sqlite:///{tmp_path}/gradebook.db",
        },
    }
    html, _ = exporter.from_notebook_node(nb, resources=resources)
    return html


class _Text(HTMLParser):
    """Visible text (no attributes, no <style>) and the tags met."""

    def __init__(self):
        super().__init__()
        self.text, self.tags, self._skip = [], [], 0

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._skip += tag in ("style", "script")

    def handle_endtag(self, tag):
        self._skip -= tag in ("style", "script")

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)


def parse(html):
    p = _Text()
    p.feed(html)
    return "".join(p.text), p.tags


def test_hidden_tests_and_tracebacks_never_shown(root):
    graded = fixture.fixture_notebook()
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
    hidden = feedback.hidden_lines(fixture.fixture_notebook())
    page = render(graded, root)
    text, _ = parse(page)
    assert "hand is wrong: yours 0.5." in text
    assert "NameError: name 'x' is not defined" in text
    assert "HIDDEN TESTS" not in page and fixture.HIDDEN_MARK not in page
    for line in hidden:
        assert line not in text
    assert 'check_close("sigmoid_prime(z)"' in text.replace("\n", "")  # visible test kept


@pytest.mark.parametrize("assignment", ["04-backprop-recursion", "07-regularization"])
def test_real_tests_are_shown_whole_and_no_hidden_line(assignment, root):
    """A hidden test that repeats a visible call must not cut that call out of the page."""
    name = notebook_names(assignment)[0]
    source = nbformat.read(SOLUTIONS / assignment / f"{name}.ipynb", as_version=4)
    release = nbformat.read(RELEASE / assignment / f"{name}.ipynb", as_version=4)
    secret = feedback.hidden_lines(source)
    assert secret
    text, _ = parse(render(source, root))
    tests = [c for c in release.cells if cells.is_test_cell(c)]
    assert tests
    for cell in tests:
        for line in cell.source.splitlines():
            assert line.strip() in text, (cell.metadata["nbgrader"]["grade_id"], line)
    for line in secret:
        assert line not in text


def test_every_formula_of_the_release_becomes_mathml():
    formulas = 0
    for path in sorted(RELEASE.glob("*/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "markdown":
                continue
            n = len(safe_html.MATH.findall(cell.source))
            html = str(safe_html.markdown(cell.source))
            text, tags = parse(html)
            assert "$" not in text and "\\frac" not in text, (path, cell.source[:80])
            assert sum(t == "math" for t, _ in tags) == n, path
            formulas += n
    assert formulas > 100


def test_markdown_keeps_tex_spacing_and_emphasis_apart():
    html = str(
        safe_html.markdown(r"Let $w_{1}\,x_{2}$ and **this**: $$h'(x) = f'(g(x))\; g'(x).$$")
    )
    assert "<strong>this</strong>" in html
    assert html.count("<math") == 2 and "<em>" not in html
    assert 'alttext="w_{1}\\,x_{2}"' in html


def test_html_inside_a_formula_is_shown_as_text():
    """latex2mathml passes the HTML of \\text{...} through: a link or a fake score badge
    in a student's formula stays text, in a title as in a Markdown cell."""
    tex = r'$\text{<a href="https://x.example">pass</a><b>9/9</b>}$'
    for html in (str(safe_html.inline_math("Title " + tex)), str(safe_html.markdown(tex))):
        _, tags = parse(html)
        assert not [t for t, _ in tags if t in ("a", "b")], html
        assert "&lt;b&gt;9/9" in html and "<math" in html


def test_student_text_and_outputs_stay_inert(root):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(
            "<script>alert(1)</script><img src=x onerror=alert(2)>[a](javascript:alert(3))"
            r" $\text{<script>alert(4)</script>}$"
        ),
        nbformat.v4.new_code_cell("x"),
    ]
    nb.cells[1].outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={
                "text/html": "<b>ok</b><script>alert(5)</script><img src=y onerror=alert(6)>",
                "text/plain": "<HTML>",
            },
        ),
        nbformat.v4.new_output(
            "display_data",
            data={"image/svg+xml": "<svg onload='alert(7)'></svg>", "text/plain": "s"},
        ),
        nbformat.v4.new_output(
            "display_data", data={"application/javascript": "alert(8)", "text/plain": "<JS>"}
        ),
        nbformat.v4.new_output("stream", name="stdout", text="<script>alert(9)</script>"),
    ]
    page = render(nb, root, student="<b>mallory</b>")
    text, tags = parse(page)
    for tag, attrs in tags:
        assert tag not in ("script", "iframe", "object", "embed"), tag
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            assert "javascript:" not in (value or ""), (tag, name)
            if tag == "img" and name == "src":
                assert value.startswith("data:image/"), value
    assert "<script>alert(1)</script>" in text and "<script>alert(9)</script>" in text
    assert "<b>mallory</b>" in text  # the id as text, not bold
    assert "<b>ok</b>" in page  # harmless HTML stays HTML


def test_outputs_are_kept_with_figures_and_alt_text(root):
    png = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("plot()\nprint('gradient check: ok')")]
    nb.cells[0].outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="gradient check: ok\n"),
        nbformat.v4.new_output(
            "display_data", data={"image/png": png, "text/plain": "<Figure size 640x480>"}
        ),
    ]
    page = render(nb, root)
    assert "gradient check: ok" in page
    m = re.search(r'<img alt="([^"]+)" src="data:image/png;base64,([^"]+)"', page) or re.search(
        r'<img src="data:image/png;base64,([^"]+)" alt="([^"]+)"', page
    )
    assert m and "Figure size 640x480" in page


def test_code_is_highlighted_and_the_page_has_dark_mode(root):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("def f(x):\n    return x")]
    page = render(nb, root)
    assert 'class="highlight' in page and '<span class="k">def</span>' in page
    assert "prefers-color-scheme: dark" in page and '<html lang="en">' in page
    assert "mathjax" not in page.lower() and "https://" not in page  # self-contained


def test_a_stopped_cell_is_named(root):
    nb = fixture.fixture_notebook()
    nb.cells[5].outputs = [
        nbformat.v4.new_output(
            "error", ename="KeyboardInterrupt", evalue="", traceback=["KeyboardInterrupt"]
        )
    ]
    page = render(nb, root)
    assert 'Grading stopped at <a href="#cell-6">cell 6 (your answer: hand)</a>' in page
    assert "ran longer than the time limit" in page
    assert "The cells after it were not run." in page  # nothing after it ran
    later = [i for i, c in enumerate(nb.cells) if i > 5 and c.cell_type == "code"]
    nb.cells[later[0]].execution_count = 7  # an interrupted cell lets the next ones run
    assert "The cells after it were run" in render(nb, root)
    nb.cells[later[0]].outputs = [
        nbformat.v4.new_output("error", ename="GradingAborted", evalue="not run", traceback=[])
    ]
    assert "The cells after it were not run." in render(nb, root)


# -- in the student's words (issue 19) ------------------------------------------------


def test_question_titles_come_from_the_notebook():
    titles = feedback.question_titles(fixture.fixture_notebook())
    assert {t["title"] for t in titles.values()} == {"Fixture"}  # the heading above
    whats = [t["what"] for _, t in sorted(titles.items())]
    assert whats == [
        "your answer: sigmoid_prime()",
        "Does sigmoid_prime(z) equal σ(z)(1 − σ(z)) at a few points?",
        "your answer: hand",
        "Is your σ'(0) right? (The value is not revealed.)",
    ]
    source = nbformat.read(SOLUTIONS / "03-softmax-layer" / "softmax_layer.ipynb", as_version=4)
    by_id = {
        source.cells[i].metadata.nbgrader.grade_id: t
        for i, t in feedback.question_titles(source).items()
    }
    assert by_id["test-cross-entropy-loss"]["title"] == "2. The cross-entropy loss"
    assert by_id["cross-entropy-loss"]["what"] == "your answer: cross_entropy_loss()"
    assert by_id["test-cross-entropy-loss"]["what"].startswith("Is J the batch average")


def test_the_page_names_questions_not_grade_ids_with_plurals(root):
    nb = fixture.fixture_notebook()
    for cell in nb.cells:
        m = cell.metadata.nbgrader
        if m.get("grade"):
            m["score"] = m["points"]
    text, _ = parse(render(nb, root))
    for gid in ("test_sigmoid_prime", "test_hand", "answer_sigmoid_prime", "answer_hand"):
        assert gid not in text
    assert "Test: Fixture" in text and "Does sigmoid_prime(z) equal" in text
    assert "1 / 1 point" in text and "2 / 2 points" in text
    assert not re.search(r"\b1 points\b", text)


def test_a_question_title_shows_its_formula_as_mathml(root):
    nb = fixture.fixture_notebook()
    (head,) = [c for c in nb.cells if c.cell_type == "markdown" and "Fixture" in c.source]
    head.source = head.source.replace("Fixture", r"Fixture: $\sigma'(z)$ & <b>")
    html = render(nb, root)
    text, tags = parse(html)
    assert "Test: Fixture: " in text and "$" not in text.split("Test: ", 1)[1][:40]
    assert 'Fixture: <math alttext="\\sigma' in html
    assert "<b>" not in html.split("Test: Fixture", 1)[1][:800]
    # the score table names the questions by the same titles
    table = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert '<math alttext="\\sigma' in table and "$" not in parse(table)[0]


@pytest.fixture(scope="module")
def submission_db(tmp_path_factory):
    """A gradebook holding one submission of the fixture by s1 (made once: nbgrader's
    database set-up takes seconds)."""
    from nbgrader.api import Gradebook

    from autograder.course_config import Course

    course = Course.load(fixture.make_course(tmp_path_factory.mktemp("fb") / "course"))
    with Gradebook(course.db_url) as gb:
        gb.update_or_create_assignment(fixture.ASSIGNMENT)
        gb.add_notebook("fixture", fixture.ASSIGNMENT)
        for cell in fixture.fixture_notebook().cells:
            m = cell.metadata.get("nbgrader", {})
            if m.get("grade"):
                gb.add_grade_cell(
                    m["grade_id"], "fixture", fixture.ASSIGNMENT, max_score=m["points"],
                    cell_type=cell.cell_type,
                )  # fmt: skip
            if m.get("solution"):
                gb.add_solution_cell(m["grade_id"], "fixture", fixture.ASSIGNMENT)
        gb.add_student("s1")
        gb.add_submission(fixture.ASSIGNMENT, "s1")
    return course.root / "gradebook.db"


def _graded_course(tmp_path, db, auto=None, manual=None, reasons=()):
    """A course with the submission of `db`, its answer_hand comments set, and, with
    `reasons`, a run record saying what went wrong."""
    import json
    import shutil

    from nbgrader.api import Gradebook

    from autograder.course_config import Course

    root = fixture.make_course(tmp_path / "course")
    shutil.copy(db, root / "gradebook.db")
    course = Course.load(root)
    with Gradebook(course.db_url) as gb:
        c = gb.find_comment("answer_hand", "fixture", fixture.ASSIGNMENT, "s1")
        c.auto_comment, c.manual_comment = auto, manual
        gb.db.commit()
    if reasons:
        folder = course.records / fixture.ASSIGNMENT
        folder.mkdir(parents=True)
        record = {"student": "s1", "assignment": fixture.ASSIGNMENT, "reasons": list(reasons)}
        record["status"] = reasons[0].split(":")[0]
        (folder / "s1.json").write_text(json.dumps(record), encoding="utf-8")
    return course, fixture.fixture_notebook()


def _render_in(course, nb):
    from nbgrader.preprocessors import GetGrades

    from autograder.feedback import feedback_config

    config = feedback_config(course.config)
    exporter = feedback.FeedbackExporter(config=config)
    exporter.register_preprocessor(GetGrades(config=config), enabled=True)
    exporter.register_preprocessor(feedback.CourseFeedback(config=config), enabled=True)
    resources = course.resources(fixture.ASSIGNMENT, "s1", "fixture")
    html, _ = exporter.from_notebook_node(nb, resources=resources)
    return html


def test_nbgraders_no_response_is_not_the_graders_comment(tmp_path, submission_db):
    course, nb = _graded_course(tmp_path, submission_db, auto="No response.")
    text, _ = parse(_render_in(course, nb))
    assert "Grader's comment" not in text and "No response." not in text
    assert "Not answered: this cell is as it was handed out." in text
    course, nb = _graded_course(
        tmp_path / "2", submission_db, auto="No response.", manual="See lecture 3."
    )
    text, _ = parse(_render_in(course, nb))
    assert "Grader's comment: See lecture 3." in text and "Not answered" not in text


def test_a_timeout_shows_one_banner(tmp_path, submission_db):
    reason = "cell timeout: fixture.ipynb cell 6 (answer_hand) ran longer than 5 s"
    course, nb = _graded_course(tmp_path, submission_db, reasons=[reason])
    nb.cells[5].outputs = [
        nbformat.v4.new_output("error", ename="CellTimeoutError", evalue="", traceback=[])
    ]
    page = _render_in(course, nb)
    assert page.count('class="notice') == 1, re.findall(r'<p class="notice[^>]*>.{0,80}', page)
    assert "Grading stopped at" in page and "Not graded normally" not in page
    # a reason about another notebook of the same submission is still said
    course, nb = _graded_course(
        tmp_path / "2", submission_db, reasons=[reason, "error: other.ipynb broke"]
    )
    nb.cells[5].outputs = [
        nbformat.v4.new_output("error", ename="CellTimeoutError", evalue="", traceback=[])
    ]
    assert _render_in(course, nb).count('class="notice') == 2


@pytest.mark.parametrize(
    "reason, says",
    [
        (
            "invalid JSON: fixture.ipynb (ValueError: not valid JSON at line 1, column 5 "
            "(Expecting value))",
            ["could not open fixture.ipynb", "Download it again", "do not open or edit",
             "Hand in that file again"],
        ),
        ("missing notebook: fixture.ipynb", ["did not receive fixture.ipynb", "hand in again"]),
    ],
    ids=["corrupt", "missing"],
)  # fmt: skip
def test_an_ungraded_file_gets_a_page_that_says_what_to_do(tmp_path, submission_db, reason, says):
    course, _ = _graded_course(tmp_path, submission_db, reasons=[reason])
    page = feedback.render_missing(
        course, feedback.feedback_config(course.config), fixture.ASSIGNMENT, "s1", "fixture"
    )
    text, _ = parse(page)
    for words in says:
        assert words in " ".join(text.split()), words
    assert "line 1" not in text and "column 5" not in text and "JSON at" not in text
    assert '<table class="summary">' not in page  # no empty score table
    assert page.count('class="notice') == 1


def test_formgraders_page_shows_math_offline(tmp_path):
    """formgrader's grading page (HTMLExporter with the course's nbgrader_config.py, as
    formgrader's SubmissionHandler calls it): TeX as MathML, no MathJax from a CDN, and
    the stand-in formgrader's script waits for."""
    from nbconvert.exporters import HTMLExporter

    from autograder.course_config import Course

    course = Course.load(fixture.make_course(tmp_path / "course"))
    nb = fixture.fixture_notebook()
    nb.cells.insert(1, nbformat.v4.new_markdown_cell(r"The loss $J = \frac{1}{N}\sum_n L_n$."))
    resources = {
        "assignment_id": fixture.ASSIGNMENT,
        "notebook_id": "fixture",
        "submission_id": "x",
        "index": 0,
        "total": 1,
        "base_url": "",
        "student": "s1",
        "last_name": None,
        "first_name": None,
        "notebook_path": "/x",
    }
    page, _ = HTMLExporter(config=course.config).from_notebook_node(nb, resources=resources)
    text, tags = parse(page)
    assert any(t == "math" for t, _ in tags) and "\\frac" not in text
    scripts = [a.get("src", "") for t, a in tags if t == "script"]
    assert not any("mathjax" in src.lower() or "://" in src for src in scripts), scripts
    assert "Startup: {signal: {Interest:" in page  # formgrader's script gets its signal
    assert "comment tabbable" in page  # still the course's formgrade template


def test_a_blank_answer_is_named_from_the_source_not_from_what_the_student_left(
    tmp_path, submission_db
):
    """A blank hand cell defines nothing: its name comes from the source notebook."""
    course, nb = _graded_course(tmp_path, submission_db)
    cell = next(
        c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "answer_hand"
    )
    cell.source = "# YOUR CODE HERE\nraise NotImplementedError()"
    (course.source / fixture.ASSIGNMENT).mkdir(parents=True, exist_ok=True)
    nbformat.write(fixture.fixture_notebook(), course.source / fixture.ASSIGNMENT / "fixture.ipynb")
    text, _ = parse(_render_in(course, nb))
    assert "Your answer: hand" in text and "Your answer: sigmoid_prime() (Fixture)" in text
    assert text.count("Your answer: sigmoid_prime()") == 1


def test_formgraders_page_shows_the_score_after_the_late_penalty(tmp_path, submission_db):
    """formgrader shows the raw score; its grading page (the course's template) also says
    the gradebook's final score, the penalty and the due date."""
    import datetime as dt

    from nbconvert.exporters import HTMLExporter
    from nbgrader.api import Gradebook

    course, nb = _graded_course(tmp_path, submission_db)
    due = dt.datetime(2026, 11, 2, 23, 59)
    with Gradebook(course.db_url) as gb:
        gb.update_or_create_assignment(fixture.ASSIGNMENT, duedate=due)
        sub = gb.find_submission(fixture.ASSIGNMENT, "s1")
        sub.timestamp = due + dt.timedelta(hours=26)
        for g in gb.find_submission_notebook("fixture", fixture.ASSIGNMENT, "s1").grades:
            g.auto_score = g.max_score
        gb.find_submission_notebook(
            "fixture", fixture.ASSIGNMENT, "s1"
        ).late_submission_penalty = 0.6
        gb.db.commit()
    resources = {
        "assignment_id": fixture.ASSIGNMENT,
        "notebook_id": "fixture",
        "submission_id": "x",
        "index": 0,
        "total": 1,
        "base_url": "",
        "student": "s1",
        "last_name": None,
        "first_name": None,
        "notebook_path": "/x",
    }
    page, _ = HTMLExporter(config=course.config).from_notebook_node(nb, resources=resources)
    text, _ = parse(page)
    said = " ".join(text.split())
    assert "2.4 / 3 after the late penalty (raw 3, late penalty −0.6" in said, said[:400]
    assert "due 2026-11-02 23:59 UTC, 1 day 2 h late" in said
    # the course's feedback exporter (an HTMLExporter too) is left alone
    assert "after the late penalty (raw" not in _render_in(course, nb)
