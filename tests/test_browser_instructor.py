"""The instructor's pages in headless Chromium.

1. formgrader (JupyterLab's nbgrader extension, configured by the course's
   nbgrader_config.py): a comment typed in the box of a *test* cell, then formgrader's
   "Generate Feedback" button; the student's page is the course's (no hidden tests)
   and shows the comment.  The "Flagged?" column marks the flagged student.
2. Feedback pages and the report with the network blocked: every formula is MathML
   (no raw ``$`` or ``\\frac``), nothing is fetched; screenshots light and dark go to
   artifacts/screenshots/.
"""

import os
import re

import browser_util as bu  # tests/ is on sys.path (pytest rootdir-relative import)
import nbformat
import pytest

from autograder import collect, feedback, grade, nbgrader_hooks, report
from autograder.course_config import Course
from classroom import fixture, samples
from classroom.harness import SOLUTIONS, notebook_names

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]

A = fixture.ASSIGNMENT
COMMENT = "Check σ'(0) once more: it is 1/4."


BUGGY = "s90-bug"


def _buggy_notebook(course):
    """A student who forgot the factor (1 − σ(z)): the fixture's typical bug."""
    release = nbformat.read(course.release / A / "fixture.ipynb", as_version=4)
    source = nbformat.read(course.source / A / "fixture.ipynb", as_version=4)
    nb = samples.filled(release, source)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "answer_sigmoid_prime":
            cell.source = "def sigmoid_prime(z):\n    return 1.0 / (1.0 + np.exp(-z))"
    return nb


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    bu.require_chromium()
    base = tmp_path_factory.mktemp("instructor")
    root = fixture.make_course(base / "course")
    course = Course.load(root)
    grade.generate_release(course, A)
    hostile = ["edited-test", "infinite-loop", "corrupt-file"]
    manifest = samples.generate(course, base / "class", seed=0, hostile=hostile)[A]
    collect.collect(course, A, base / "class" / A)
    buggy = base / "bug" / BUGGY
    buggy.mkdir(parents=True)
    nbformat.write(_buggy_notebook(course), buggy / "fixture.ipynb")
    collect.collect(course, A, base / "bug")
    manifest[BUGGY] = {"kind": "bug", "late_days": 0}
    with open(os.devnull, "w") as devnull:
        grade.grade(course, A, jobs=2, cell_timeout=5, out=devnull)
    nbgrader_hooks.sync_flags(course, A)  # what grading leaves for formgrader's column
    return course, manifest


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    with bu.chromium_page(tmp_path_factory.mktemp("chromium-profile")) as page:
        yield page


def _submission_id(course, student):
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url) as gb:
        return gb.find_submission_notebook("fixture", A, student).id


def test_formgrader_comment_on_a_test_cell_reaches_generated_feedback(course, page, tmp_path):
    course, manifest = course
    half = next(s for s, i in manifest.items() if i["kind"] == "half-done")
    flagged = next(s for s, i in manifest.items() if i["kind"] == "edited-test")
    with bu.jupyter_lab(course.root, tmp_path / "lab-state", student=False) as url:
        page.goto(f"{url}/formgrader/submissions/{_submission_id(course, half)}/")
        box = page.locator("#test_hand-comment")
        box.wait_for(timeout=60_000)
        # formgrader binds its comment boxes once its script has fetched the gradebook's
        # comments; text typed before that is overwritten: type again until it is saved
        for attempt in range(12):
            if _save_comment(page, box) and _comment_saved(course, half):
                break
            assert attempt < 11, "formgrader did not save the comment"
        bu.screenshot(page, "formgrader-test-cell-comment")
        # the score after any late penalty, next to formgrader's raw one; math offline
        scores = page.locator("#course-scores")
        assert scores.count() == 1 and "Score when this page was opened" in scores.inner_text()
        assert page.evaluate("() => window.MathJax && window.MathJax.loaded") is True

        page.goto(f"{url}/formgrader/gradebook/{A}/fixture")
        page.wait_for_selector("td.flagged", timeout=60_000)
        row = page.locator("tr", has=page.locator(f"text={flagged}"))
        assert row.locator("td.flagged .glyphicon").count() == 1
        bu.screenshot(page, "formgrader-flagged-column")

        page.goto(f"{url}/formgrader/manage_submissions/{A}")
        row = page.locator("tr", has=page.locator(f"text={half}")).first
        row.locator(".generate-feedback a").click()
        page.wait_for_selector("text=Successfully generated feedback", timeout=120_000)

    html = (course.feedback / half / A / "fixture.html").read_text(encoding="utf-8")
    assert '<table class="summary">' in html  # the course's page, not nbgrader's
    assert "HIDDEN TESTS" not in html and fixture.HIDDEN_MARK not in html
    assert "Grader's comment" in html and "Check σ'(0) once more" in html
    # the comment sits in the test cell's panel
    test_panel = html.split('id="cell-7"', 1)[1].split("</section>", 1)[0]  # test_hand
    assert "Test: Fixture" in test_panel
    assert "Check σ'(0) once more" in test_panel


def _save_comment(page, box, timeout_ms=5_000):
    """Type the comment and leave the box (formgrader saves on change): whether
    formgrader's PUT of it to /formgrader/api/comment/<id> came back within the time."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    def saved(response):
        return "/formgrader/api/comment/" in response.url and response.request.method == "PUT"

    try:
        with page.expect_response(saved, timeout=timeout_ms) as response:
            box.fill(COMMENT)
            box.press("Tab")
    except PlaywrightTimeout:
        return False  # typed before the box was bound: no save was sent
    return response.value.ok


def _comment_saved(course, student):
    """Whether the gradebook holds the comment (formgrader answers after writing it)."""
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url) as gb:
        sub = gb.find_submission_notebook("fixture", A, student)
        return any(c.name == "test_hand" and c.comment == COMMENT for c in sub.comments)


def _shot(page, name):
    bu.SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(bu.SCREENSHOTS / f"{name}.png"), full_page=True)


def _offline(page):
    def route(r):
        if r.request.url.startswith(("file:", "data:")):
            return r.continue_()
        return r.abort()

    page.context.route("**/*", route)
    blocked = []
    page.on("requestfailed", lambda req: blocked.append(req.url))
    return blocked


def _math_page(tmp_path):
    """The feedback page of a real notebook (its source standing in for a graded one)."""
    from test_feedback import render

    assignment = "03-softmax-layer"
    name = notebook_names(assignment)[0]
    nb = nbformat.read(SOLUTIONS / assignment / f"{name}.ipynb", as_version=4)
    out = tmp_path / f"{name}.html"
    out.write_text(render(nb, tmp_path, student="s01"), encoding="utf-8")
    return out


def test_feedback_pages_need_no_network_and_show_no_raw_tex(course, page, tmp_path):
    course, manifest = course
    feedback.write_feedback(course, A, out=open(os.devnull, "w"))  # noqa: SIM115
    pages = [_math_page(tmp_path), *sorted(course.feedback.glob(f"*/{A}/fixture.html"))]
    blocked = _offline(page)
    for path in pages:
        page.goto(path.as_uri())
        text = page.inner_text("body")
        assert "$" not in text and "\\frac" not in text, path
    page.goto(pages[0].as_uri())
    maths = page.locator("math")
    assert maths.count() > 30
    box = maths.nth(0).bounding_box()
    assert box and box["width"] > 0 and box["height"] > 0  # rendered, not raw
    assert blocked == []  # nothing was even asked for
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.goto(pages[0].as_uri())
        _shot(page, f"feedback-math-{scheme}")
        half = next(s for s, i in manifest.items() if i["kind"] == "half-done")
        page.goto((course.feedback / half / A / "fixture.html").as_uri())
        _shot(page, f"feedback-{scheme}")
    page.emulate_media(color_scheme="light")


def test_report_renders_offline_light_and_dark(course, page, tmp_path):
    course, _ = course
    path = report.write_report(course)
    _offline(page)
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.goto(path.as_uri())
        imgs = page.locator("img")
        assert imgs.count() >= 2  # the distribution, the hardest items (and bugs, if any)
        for i in range(imgs.count()):
            assert imgs.nth(i).evaluate("(img) => img.complete && img.naturalWidth > 0")
            assert len(imgs.nth(i).get_attribute("alt")) > 30
        _shot(page, f"report-{scheme}")
    page.emulate_media(color_scheme="light")


def test_screenshots_of_the_report_and_four_feedback_pages(course, page):
    """The report's first screen (1400 x 1000) answers its four questions without
    scrolling; the feedback pages of a blank, a buggy, a timed-out and a corrupt
    submission say what happened.  Screenshots: artifacts/screenshots/."""
    course, manifest = course
    feedback.write_feedback(course, A, out=open(os.devnull, "w"))  # noqa: SIM115
    path = report.write_report(course)
    _offline(page)
    page.emulate_media(color_scheme="light")
    page.goto(path.as_uri())
    for heading in ("#class", "#look", "#hard", "#bugs"):
        box = page.locator(heading).bounding_box()
        assert box and box["y"] + box["height"] < 1000, heading  # on the first screen
    assert page.locator("details").count() == 1 and not page.locator("details[open]").count()
    shots = {"report-first-screen": bu.screenshot(page, "report-first-screen")}
    by_kind = {i["kind"]: s for s, i in manifest.items()}
    expect = {
        "blank": ["Not answered: this cell is as it was handed out."],
        "bug": ["Likely bug: missing the factor"],
        "infinite-loop": ["Grading stopped at", "ran longer than"],
        "corrupt-file": ["We could not open fixture.ipynb", "Download it again"],
    }
    for kind, says in expect.items():
        page.goto((course.feedback / by_kind[kind] / A / "fixture.html").as_uri())
        text = " ".join(page.inner_text("body").split())
        for words in says:
            assert words in text, (kind, words)
        assert "Grader's comment" not in text and not re.search(r"\b1 points\b", text), kind
        assert page.locator(".notice.stop").count() == (kind in ("infinite-loop", "corrupt-file"))
        _shot(page, f"feedback-{kind}")
        shots[f"feedback-{kind}"] = bu.SCREENSHOTS / f"feedback-{kind}.png"
    for name, shot in shots.items():
        print(f"{name}: {shot.stat().st_size / 1000:.0f} KB screenshot of a page")


def _grades(course, student):
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url) as gb:
        sub = gb.find_submission_notebook("fixture", A, student)
        return {"score": float(sub.score), "flagged": bool(sub.flagged)}


def test_formgraders_autograde_asks_before_regrading_a_flagged_submission(course, page, tmp_path):
    """formgrader's Autograde on a flagged hostile submission (an edited test cell) that
    is graded already: it asks first; "no" sends nothing; "yes" sends one request, which
    succeeds inside the running server with the trusted path's score (the one
    backprop-grade grade gave); the review flag stays."""
    course, manifest = course
    flagged = next(s for s, i in manifest.items() if i["kind"] == "edited-test")
    before = _grades(course, flagged)
    assert before["flagged"]
    page.context.unroute("**/*")  # the offline tests above blocked the network
    asked, posts = [], []
    page.on("request", lambda r: posts.append(r.url) if r.url.endswith("/autograde") else None)
    with bu.jupyter_lab(course.root, tmp_path / "lab-state", student=False) as url:
        page.goto(f"{url}/formgrader/manage_submissions/{A}")
        button = page.locator("tr", has=page.locator(f"text={flagged}")).first.locator(
            ".autograde a"
        )
        button.wait_for(timeout=60_000)

        def answer(yes):
            def handle(dialog):
                asked.append(dialog.message)
                if yes:
                    dialog.accept()
                else:
                    dialog.dismiss()

            page.once("dialog", handle)
            button.click()

        answer(False)
        page.wait_for_timeout(1000)  # a request "no" must not send: nothing to wait for
        assert len(asked) == 1 and "again?" in asked[0] and flagged in asked[0]
        assert posts == []  # "no": nothing sent
        with page.expect_response(
            lambda r: r.url.endswith("/autograde"), timeout=240_000
        ) as response:
            answer(True)
        reply = response.value.json()
        bu.screenshot(page, "formgrader-autograde-asked")
    assert len(asked) == 2 and len(posts) == 1
    assert reply.get("success") is True, reply.get("error") or reply
    after = _grades(course, flagged)
    assert after == before  # the trusted score again, and the flag stays
