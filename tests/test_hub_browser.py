"""The class's loop in a browser: JupyterHub, two students and the instructor.

The hub runs as `backprop-grade hub start` runs it (configurable-http-proxy, the demo
authenticator, each single-user server as its own local user).  Alice logs in, fetches
01 in JupyterLab's assignment list, saves her answers, presses Validate (the student
edition's checks in her kernel) and submits; Bob sees the release but not Alice's
submission, and neither student has formgrader; the instructor collects, grades
(`backprop-grade grade`, sandboxed) and releases feedback with `backprop-grade hub`, and
has formgrader in Lab; Alice fetches her feedback, which is hers and nothing of Bob's,
and the gradebook gives her answers full marks.  Screenshots: artifacts/screenshots/hub-*.png.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from browser_util import CHROMIUM, CHROMIUM_ARGS, require_chromium, screenshot
from hub_util import (
    ASSIGNMENT,
    COURSE_A,
    NOTEBOOK,
    STATE,
    class_lock,
    completed,
    fresh_class,
    run_as,
)
from nbgrader.api import Gradebook

from autograder import cli
from backprop_hub import setup
from classroom.paths import REPO

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.xdist_group("hub")]
ALICE, BOB = COURSE_A.students
TEACHER = COURSE_A.instructors[0]
NBGRADER_MENU = 'div.lm-MenuBar-itemLabel:text("Nbgrader")'


def hub(*argv):
    assert cli.main(["hub", "--state", str(STATE), "--course", COURSE_A.course_id, *argv]) in (
        0,
        None,
    )


def _free_ports(n=3):
    """A port with the next n-1 free too (proxy, its API, the hub)."""
    import socket

    for base in range(18000, 19000, 7):
        try:
            for port in range(base, base + n):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no free ports")


@contextlib.contextmanager
def running_hub(tmp_path):
    port = _free_ports()
    log = open(tmp_path / "hub.log", "w")  # noqa: SIM115 - closed below
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    cmd = [sys.executable, "-m", "autograder", "hub", "--state", str(STATE), "start"]
    proc = subprocess.Popen(
        [*cmd, "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        # JupyterHub is a process of its own, not a page yet: no browser event says it is
        # up, so ask its login page until it answers (or the process ends, or the deadline)
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url + "/hub/login", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((tmp_path / "hub.log").read_text()) from None
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def login(browser, url, user, password):
    """A page of ``user``'s JupyterLab, logged in through the hub."""
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    page.goto(url + "/hub/login")
    page.fill("#username_input", user)
    page.fill("#password_input", password)
    page.click("#login_submit")
    page.wait_for_url(f"**/user/{user}/lab**", timeout=90_000)
    page.wait_for_selector("#jp-main-dock-panel", timeout=90_000)
    return page


def nbgrader_menu(page):
    """The commands of Lab's Nbgrader menu that are there to use (labelled)."""
    page.click(NBGRADER_MENU)
    items = page.locator("#jp-mainmenu-nbgrader li[data-command]")
    items.first.wait_for()
    # a disabled plugin's command stays in the menu as an empty, unusable item
    commands = {
        items.nth(i).get_attribute("data-command")
        for i in range(items.count())
        if items.nth(i).inner_text().strip()
    }
    page.keyboard.press("Escape")
    return commands


def assignment_list(page):
    page.click(NBGRADER_MENU)
    page.click('#jp-mainmenu-nbgrader li[data-command="nbgrader:open-assignment-list"]')
    page.wait_for_selector("#released_assignments_list")


def validate(page, url, path):
    """Open a notebook in the user's Lab and press nbgrader's Validate button."""
    user = page.url.split("/user/")[1].split("/")[0]
    page.goto(f"{url}/user/{user}/lab/tree/{path}")
    button = page.locator(".validate-button")
    button.wait_for(timeout=60_000)
    button.click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=90_000)
    page.wait_for_function(
        "() => !document.querySelector('.validate-button')?.textContent.includes('Validating')",
        timeout=90_000,
    )
    text = dialog.inner_text()
    screenshot(page, "hub-student-validate")
    assert "Success! Your notebook passes all the tests." in text, text
    dialog.locator("button", has_text="Ok").first.click()


def shows_own_numbers(page, user, cells=9):
    """Run the open notebook's first `cells` cells as a student does (Shift+Enter from the
    top): 01's cell `your-point` must print the numbers drawn for `user`."""
    page.locator(".jp-Notebook .jp-Cell").first.click()
    for _ in range(cells):
        page.keyboard.press("Shift+Enter")
    page.get_by_text(f"drawn for {user}").first.wait_for(timeout=90_000)
    screenshot(page, "hub-student-own-numbers")


def rows(page, name, count):
    """The rows of one of the assignment list's lists, once it shows ``count``."""
    from playwright.sync_api import expect

    locator = page.locator(f"#{name}_assignments_list > .list_item")
    expect(locator, f"{name}: not {count} rows").to_have_count(count, timeout=60_000)
    return locator


def test_the_class_loop_in_jupyterlab(tmp_path):
    require_chromium()
    with class_lock():
        _class_loop(tmp_path)


def _class_loop(tmp_path):
    from playwright.sync_api import sync_playwright

    accounts = fresh_class()
    hub("release", ASSIGNMENT)
    password = {u: a["password"] for u, a in accounts.items()}
    with running_hub(tmp_path) as url, sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        alice = login(browser, url, ALICE, password[ALICE])
        assert nbgrader_menu(alice) == {"nbgrader:open-assignment-list"}
        formgrader = alice.request.get(f"{url}/user/{ALICE}/formgrader")
        assert formgrader.status == 404  # not on her server at all
        assignment_list(alice)
        released = rows(alice, "released", 1)
        assert released.first.locator(".item_name").inner_text() == ASSIGNMENT
        assert released.first.locator(".item_course").inner_text() == COURSE_A.course_id
        released.first.locator(".item_status button").click()
        rows(alice, "fetched", 1)
        # her work (the solutions' answers), saved, then Validate in her Lab
        mine = Path(f"/home/{ALICE}") / COURSE_A.course_id / ASSIGNMENT / NOTEBOOK
        text = nbformat.writes(completed(mine, REPO / "solutions" / ASSIGNMENT / NOTEBOOK))
        run_as(ALICE, "/usr/bin/python3", "-c", f"open({str(mine)!r}, 'w').write({text!r})")
        validate(alice, url, f"{COURSE_A.course_id}/{ASSIGNMENT}/{NOTEBOOK}")
        assert (mine.parent / "variants.json").is_file()  # fetched with the notebook
        shows_own_numbers(alice, ALICE)  # her numbers, drawn for her user name
        assignment_list(alice)
        rows(alice, "fetched", 1)
        alice.locator('#fetched_assignments_list .item_status button:text("Submit")').click()
        rows(alice, "submitted", 1)
        screenshot(alice, "hub-student-submitted")

        bob = login(browser, url, BOB, password[BOB])
        assignment_list(bob)
        rows(bob, "released", 1)
        rows(bob, "submitted", 0)  # Alice's submission is not his to see
        screenshot(bob, "hub-other-student")

        hub("collect", ASSIGNMENT)
        hub("grade", ASSIGNMENT)
        hub("feedback", ASSIGNMENT)
        teacher = login(browser, url, TEACHER, password[TEACHER])
        assert "nbgrader:open-formgrader" in nbgrader_menu(teacher)
        assert teacher.request.get(f"{url}/user/{TEACHER}/formgrader").status == 200
        teacher.goto(f"{url}/user/{TEACHER}/formgrader")  # what Lab's Formgrader tab shows
        teacher.locator(f"table >> text={ASSIGNMENT}").first.wait_for(timeout=60_000)
        assert not teacher.locator("#warning-course-id").is_visible()  # the course's config
        screenshot(teacher, "hub-instructor-formgrader")

        alice.click("#refresh_assignments_list")
        rows(alice, "submitted", 1)
        # nbgrader's assignment list answers the fetch once the pages are copied
        with alice.expect_response(
            lambda r: "/assignments/fetch_feedback" in r.url, timeout=30_000
        ) as fetched:
            alice.locator('#submitted_assignments_list button:text("Fetch Feedback")').click()
        assert fetched.value.ok, fetched.value.text()
        pages = mine.parent / "feedback"
        (page,) = pages.glob("*/*.html")
        html = page.read_text()
        assert ALICE in html and BOB not in html
        screenshot(alice, "hub-student-feedback")
        browser.close()
    root = setup.course_root(COURSE_A)
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        graded = gb.find_submission(ASSIGNMENT, ALICE)
        assert graded.max_score > 0 and graded.score == graded.max_score  # the solutions' work
