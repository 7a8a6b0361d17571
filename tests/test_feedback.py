"""The course's feedback rendering without a kernel: nbgrader's exporter with the course's
template and preprocessor on hand-made and real notebooks.  Hidden tests never shown,
formulas as MathML, student text inert, outputs kept, code highlighted."""

import base64
import re
from html.parser import HTMLParser

import nbformat
import pytest
from traitlets.config import Config

from autograder import feedback, safe_html
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
    tests = [c for c in release.cells if feedback.is_test(c)]
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
    assert 'Grading stopped at <a href="#cell-6">cell 6 (answer_hand)</a>' in page
    assert "ran longer than the time limit" in page
    assert "The cells after it were not run." in page  # nothing after it ran
    later = [i for i, c in enumerate(nb.cells) if i > 5 and c.cell_type == "code"]
    nb.cells[later[0]].execution_count = 7  # an interrupted cell lets the next ones run
    assert "The cells after it were run" in render(nb, root)
    nb.cells[later[0]].outputs = [
        nbformat.v4.new_output("error", ename="GradingAborted", evalue="not run", traceback=[])
    ]
    assert "The cells after it were not run." in render(nb, root)
