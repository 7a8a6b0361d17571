"""Per-student HTML feedback, made by nbgrader's own ``GenerateFeedback``.

``nbgrader_config.py`` sets ``GenerateFeedback.preprocessors = [GetGrades, CourseFeedback]``
and ``GenerateFeedback.exporter_class = FeedbackExporter``, so formgrader's "Generate
Feedback" button, ``nbgrader generate_feedback`` and ``backprop-grade feedback`` write the
same pages to ``feedback/<student>/<assignment>/<notebook>.html``:

- nbgrader's ``GetGrades`` puts the gradebook's scores, manual grades, comments and the
  late penalty on the notebook; :class:`CourseFeedback` adds comments on test cells
  (formgrader's comment boxes on them, see :mod:`autograder.nbgrader_hooks`), removes
  hidden tests with nbgrader's ``ClearHiddenTests`` and shows a failing test's message
  without its traceback (which would quote hidden lines), names the cell a timeout
  stopped, and says when the grade is under review (the gradebook's flag or the run
  record's);
- :class:`FeedbackExporter` renders ``templates/backprop_feedback`` with autoescaping:
  a score summary (question, points, link; raw score, late penalty, final score), every
  cell and every output (figures embedded), code highlighted by pygments (nbconvert's
  ``highlight_code``), Markdown and formulas through :mod:`autograder.safe_html` (TeX
  as MathML, no script, no network), light and dark through ``prefers-color-scheme``.

nbgrader writes no page for a notebook it could not grade (missing or unreadable);
:func:`write_feedback` renders one through the same exporter, saying why.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
from nbconvert.exporters import HTMLExporter
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor

from . import safe_html
from .cells import is_answer_cell, is_graded, is_test_cell

TEMPLATES = Path(__file__).resolve().parent / "templates"
# Wider than integrity.HIDDEN_TESTS on purpose: what a page must never show is scrubbed
# wherever its markers stand.
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS\n?", re.DOTALL)
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
#: Error names of a cell the grader stopped (nbclient, nbgrader, this course's workers).
STOPPED = ("CellTimeoutError", "KeyboardInterrupt", "GradingAborted", "DeadKernelError")


def hidden_lines(nb):
    """Non-trivial lines of a notebook's hidden tests that appear nowhere visible."""
    visible = "\n".join(HIDDEN.sub("", c.get("source", "")) for c in nb.cells)
    lines = set()
    for cell in nb.cells:
        for block in HIDDEN.findall(cell.get("source", "")):
            for line in block.splitlines():
                line = line.strip()
                if len(line) > 6 and "HIDDEN TESTS" not in line and line not in visible:
                    lines.add(line)
    return lines


def _scrub(text, hidden):
    text = ANSI.sub("", text or "")
    return "\n".join(line for line in text.split("\n") if not any(h in line for h in hidden))


def test_message(outputs, hidden):
    """What a test cell said, as one stream: messages, never a traceback or hidden code."""
    parts = []
    for out in outputs:
        kind = out.get("output_type")
        if kind == "stream":
            parts.append(out.get("text", ""))
        elif kind == "error":
            ename, evalue = out.get("ename", "Error"), out.get("evalue", "")
            parts.append(
                evalue if ename in ("GradingFailure", "GradingAborted") else f"{ename}: {evalue}"
            )
        elif "text/plain" in out.get("data", {}):
            parts.append(out["data"]["text/plain"])
    text = _scrub("\n".join(p.rstrip("\n") for p in parts), hidden).strip("\n")
    return [nbformat.v4.new_output("stream", name="stdout", text=text)] if text else []


def _scrub_output(out, hidden):
    if out.get("output_type") == "stream":
        out["text"] = _scrub(out.get("text", ""), hidden)
    elif out.get("output_type") == "error":
        out["evalue"] = _scrub(out.get("evalue", ""), hidden)
        out["traceback"] = [_scrub(line, hidden) for line in out.get("traceback", [])]
    else:
        data = out.get("data", {})
        for mime in ("text/plain", "text/html", "text/markdown", "text/latex"):
            if isinstance(data.get(mime), str):
                data[mime] = _scrub(data[mime], hidden)
    return out


def stopped_cell(nb):
    """(1-based index, cell) of the first cell the grader stopped, or (None, None)."""
    for i, cell in enumerate(nb.cells, 1):
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.get("output_type") == "error" and out.get("ename") in STOPPED:
                return i, cell
    return None, None


def page_css():
    """The course's page style (light and dark) with pygments' two colour schemes."""
    from pygments.formatters import HtmlFormatter

    light = HtmlFormatter(style="default").get_style_defs(".highlight")
    dark = HtmlFormatter(style="monokai").get_style_defs(".highlight")
    base = (TEMPLATES / "page.css").read_text(encoding="utf-8")
    return f"{base}\n{light}\n@media (prefers-color-scheme: dark) {{\n{dark}\n}}\n"


class FeedbackExporter(HTMLExporter):
    """nbconvert's HTML exporter with the course's template, autoescaped, no script."""

    def __init__(self, config=None, **kw):
        from traitlets.config import Config

        # this class's own section wins over the HTMLExporter settings that
        # GenerateFeedback (its "feedback" template) or formgrader pass down
        c = Config()
        if config is not None:
            c.merge(config)
        c.FeedbackExporter.template_name = "backprop_feedback"
        c.FeedbackExporter.template_file = "index.html.j2"
        c.FeedbackExporter.extra_template_basedirs = [str(TEMPLATES)]
        c.FeedbackExporter.exclude_anchor_links = True
        super().__init__(config=c, **kw)

    def _create_environment(self):
        env = super()._create_environment()
        env.autoescape = True
        return env

    def default_filters(self):
        yield from super().default_filters()
        yield ("course_markdown", safe_html.markdown)
        yield ("course_html", safe_html.clean)
        yield ("course_latex", safe_html.latex_output)
        yield ("course_inline", safe_html.inline_math)
        yield ("data_uri", safe_html.image_data_uri)

    def _init_resources(self, resources):
        resources = super()._init_resources(resources)
        resources["course_css"] = page_css()
        return resources


def _course_root(config):
    import os

    from nbgrader.coursedir import CourseDirectory

    root = CourseDirectory(config=config).root
    return Path(root or os.getcwd())


def _record(config, assignment, student):
    from .course_config import Course
    from .grade import load_record

    try:
        return load_record(Course(_course_root(config), config), assignment, student)
    except (OSError, ValueError, TypeError):
        return None


def _gradebook_facts(db_url, assignment, student, notebook):
    """Comments by cell, the review flag and the lateness facts of one notebook."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url) as gb:
        try:
            sub = gb.find_submission(assignment, student)
            sub_nb = gb.find_submission_notebook(notebook, assignment, student)
        except MissingEntry:
            return {"comments": {}, "auto": {}, "flagged": False, "late": None}
        # a grader's words, and nbgrader's own ("No response." on an untouched answer)
        comments = {c.name: c.manual_comment for c in sub_nb.comments if c.manual_comment}
        auto = {c.name: c.auto_comment for c in sub_nb.comments if c.auto_comment}
        penalty = float(sub_nb.late_submission_penalty or 0.0)
        raw = float(sub_nb.score or 0.0)
        late = {
            "raw": raw,
            "penalty": penalty,
            "final": max(0.0, raw - penalty),
            "max": float(sub_nb.max_score or 0.0),
            "submitted": _utc(sub.timestamp),
            "due": _utc(sub.duedate),
            "late_by": _duration(sub.total_seconds_late) if sub.total_seconds_late else "",
        }
        return {
            "comments": comments,
            "auto": auto,
            "flagged": bool(sub_nb.flagged),
            "late": late,
        }


def _utc(when):
    return when.strftime("%Y-%m-%d %H:%M UTC") if when else ""


def _duration(seconds):
    """'2 days 3 h 5 min' for a number of seconds."""
    minutes = int(round(float(seconds) / 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{days} day{'s' if days != 1 else ''}"] if days else []
    parts += [f"{hours} h"] if hours else []
    parts += [f"{mins} min"] if mins or not parts else []
    return " ".join(parts)


def _student_notes(record, notebook="", explained=False):
    """What the run record tells the student: restored cells, why grading was abnormal.

    With `explained`, reasons about `notebook` are left out: the page already has a
    banner for them (the stopped cell, the unreadable file), one banner per event.
    """
    if record is None:
        return []
    notes = [
        f"{f.split(': ', 1)[-1]}: it was restored from the original before grading."
        for f in record.flags
        if "test cell" in f or "locked cell" in f
    ]
    mine = f"{notebook}.ipynb"
    notes += [
        f"Not graded normally: {r.splitlines()[0]}"
        for r in record.reasons
        if not (explained and mine in r.splitlines()[0])
    ]
    return list(dict.fromkeys(notes))


HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t#]*$", re.M)
DEFINES = re.compile(r"^(?:def[ \t]+([A-Za-z_]\w*)[ \t]*\(|([A-Za-z_]\w*)[ \t]*=[^=])", re.M)
QUESTION = re.compile(r"^[ \t]*#[ \t]*(\S.*?)[ \t]*$", re.M)
SOLUTION_MARK = re.compile(r"^[ \t]*###? (BEGIN|END) SOLUTION.*$", re.M)


def _plain(markdown):
    """A heading's text without Markdown emphasis, code ticks or link targets."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", markdown)
    return re.sub(r"[*_`]+", "", text).strip()


def question_titles(nb):
    """What the student reads as each graded cell's name, from the notebook itself.

    Returns
    -------
    dict
        {0-based cell index: {"title", "what"}} for every nbgrader answer or test cell:
        ``title`` is the Markdown heading above the cell (else the function or name its
        answer defines, else "question N"); ``what`` is, for an answer, what it defines
        (``your answer: sigmoid_prime()``), for a test, its first comment line (the
        question it asks, as the course's test cells are written) or the names it tests.
    """
    heading, defined, out = "", [], {}
    for i, cell in enumerate(nb.cells):
        source = cell.get("source", "")
        if cell.cell_type == "markdown":
            found = HEADING.findall(source)
            if found:
                heading, defined = _plain(found[-1]), []
        if not (is_graded(cell) or is_answer_cell(cell)):
            continue
        if is_answer_cell(cell) and cell.cell_type == "code":
            code = SOLUTION_MARK.sub("", source)
            names = [a or b for a, b in DEFINES.findall(code)]
            defined = list(dict.fromkeys(names)) or defined
            shown = [f"{n}()" if f"def {n}" in code else n for n in defined]
            what = "your answer: " + ", ".join(shown) if shown else "your answer"
        elif is_test_cell(cell):
            asked = QUESTION.findall(HIDDEN.sub("", source))
            what = asked[0] if asked else "test of " + ", ".join(defined or ["your answer"])
        else:
            what = "your answer" if is_answer_cell(cell) else ""
        title = heading or (f"{defined[0]}" if defined else f"question {len(out) + 1}")
        out[i] = {"title": title, "what": what}
    return out


def _source_titles(config, assignment, notebook):
    """{grade_id: {"title", "what"}} from the assignment's source notebook (what the
    student was given to answer, whatever the submission holds), or {}."""
    try:
        from .course_config import Course

        path = Course(_course_root(config), config).source / assignment / f"{notebook}.ipynb"
        nb = nbformat.read(path, as_version=4)
    except Exception:  # noqa: BLE001 - no source at hand: the submission's own headings
        return {}
    titles = question_titles(nb)
    return {nb.cells[i].metadata.nbgrader.get("grade_id"): t for i, t in titles.items()}


def _cell_name(index, cell):
    """'cell 6 (your answer: hand)': the cell's number and what the student calls it."""
    meta = cell.metadata.get("nbgrader", {})
    what = meta.get("what") or meta.get("title")
    first = next((line for line in cell.source.splitlines() if line.strip()), "")
    return f"cell {index}" + (f" ({what})" if what else f": {first[:60]}" if first else "")


def _questions(nb):
    rows = []
    for i, cell in enumerate(nb.cells, 1):
        meta = cell.metadata.get("nbgrader", {})
        if is_graded(cell):
            score, points = meta.get("score"), float(meta.get("points") or 0)
            rows.append(
                {
                    "anchor": f"cell-{i}",
                    "name": meta.get("title") or f"question {len(rows) + 1}",
                    "what": meta.get("what", ""),
                    "kind": "test" if is_test_cell(cell) else "answer",
                    "score": None if score is None else float(score),
                    "points": points,
                }
            )
    return rows


class CourseFeedback(NbGraderPreprocessor):
    """Hidden tests out, messages without tracebacks, test-cell comments and the facts
    (review, lateness, a stopped cell) the course's feedback template shows."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        record = _record(self.config, info["assignment"], info["student"])
        by_id = _source_titles(self.config, info["assignment"], info["notebook"])
        for i, names in question_titles(nb).items():
            meta = nb.cells[i].metadata.nbgrader
            meta.update(by_id.get(meta.get("grade_id"), names))
        index, stopped = stopped_cell(nb)  # before test outputs become messages
        stop = _cell_name(index, stopped) if index else ""
        stop_why = _stop_reason(stopped, record, info["notebook"]) if index else ""
        rest_ran = bool(index) and _later_cells_ran(nb, index)
        self._clean_cells(nb)
        facts = _gradebook_facts(
            info["db_url"], info["assignment"], info["student"], info["notebook"]
        )
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader")
            if meta and meta.get("grade_id"):
                # GetGrades put nbgrader's automatic "No response." here as the comment
                meta["comment"] = facts["comments"].get(meta["grade_id"])
                meta["auto_comment"] = facts["auto"].get(meta["grade_id"])
        unreadable = info.get("unreadable")
        explained = bool(index) or bool(unreadable)
        resources["feedback"] = {
            "questions": _questions(nb),
            "unreadable": unreadable,
            "notes": _student_notes(record, info["notebook"], explained)
            + list(info.get("notes", [])),
            "under_review": facts["flagged"] or bool(record and record.needs_review),
            "late": facts["late"],
            "stopped": stop,
            "stopped_anchor": f"cell-{index}" if index else "",
            "stopped_why": stop_why,
            "rest_ran": rest_ran,
        }
        return nb, resources

    def _clean_cells(self, nb):
        hidden = hidden_lines(nb)
        clear = ClearHiddenTests(parent=self)
        for cell in nb.cells:
            if is_test_cell(cell):
                try:
                    clear._remove_hidden_test_region(cell)
                except RuntimeError:  # unbalanced markers: remove what can be found
                    cell.source = HIDDEN.sub("", cell.source)
                cell.outputs = test_message(cell.outputs, hidden)
            elif cell.cell_type == "code":
                cell.outputs = [_scrub_output(o, hidden) for o in cell.get("outputs", [])]

    def preprocess_cell(self, cell, resources, index):
        return cell, resources


def _later_cells_ran(nb, index):
    """Whether grading went on after the stopped cell (1-based `index`): an interrupted
    cell lets the next ones run; a killed kernel or a notebook limit does not."""
    for cell in nb.cells[index:]:
        if cell.cell_type != "code":
            continue
        outs = cell.get("outputs", [])
        if any(o.get("ename") == "GradingAborted" for o in outs):
            return False
        if cell.get("execution_count") is not None:
            return True
    return False


def _stop_reason(cell, record, notebook=""):
    """Why grading stopped, in words: the run record's reason, else the cell's error."""
    for reason in record.reasons if record is not None else []:
        first = reason.splitlines()[0]
        if f"{notebook}.ipynb " in first:
            return first.split(".ipynb ", 1)[1]
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error" and out.get("ename") in STOPPED:
            text = (out.get("evalue") or "").splitlines()
            text = text[0].removeprefix("not run: ") if text else ""
            if out.get("ename") in ("KeyboardInterrupt", "CellTimeoutError") or not text:
                return "it ran longer than the time limit and was interrupted"
            return text
    return "it did not finish"


def feedback_config(config):
    """`config` with the course's feedback pipeline, whatever nbgrader_config.py says."""
    from nbgrader.preprocessors import GetGrades
    from traitlets.config import Config

    c = Config()
    c.merge(config)
    c.GenerateFeedback.preprocessors = [GetGrades, CourseFeedback]
    c.GenerateFeedback.exporter_class = FeedbackExporter
    return c


def _generate(course, config, assignment, student):
    """nbgrader's GenerateFeedback for one student (or "*"); returns its error lines."""
    from nbgrader.converters import GenerateFeedback
    from nbgrader.utils import capture_log

    cd = course.coursedir(assignment_id=assignment, student_id=student)
    conv = GenerateFeedback(coursedir=cd, config=config)
    conv.force = True
    result = capture_log(conv)
    errors = [
        line
        for line in result.get("log", "").splitlines()
        if line.startswith(("[ERROR]", "[CRITICAL]"))
    ]
    if result.get("error") and not result.get("success"):
        errors.append("ERROR: " + result["error"].strip().splitlines()[-1])
    return errors


def why_ungraded(record, name):
    """What kept notebook `name` from being graded: {"kind": "missing" | "unreadable" |
    "error", "detail"} from the run record, the detail for the instructor only."""
    for reason in record.reasons if record is not None else []:
        first = reason.splitlines()[0]
        if f"{name}.ipynb" not in first:
            continue
        if first.startswith("missing notebook"):
            return {"kind": "missing", "detail": first}
        if first.startswith("invalid JSON"):
            return {"kind": "unreadable", "detail": first}
        return {"kind": "error", "detail": first}
    return {"kind": "error", "detail": ""}


def render_missing(course, config, assignment, student, name):
    """The page of a notebook nbgrader could not grade, through the same exporter: what
    happened and what to do, in place of an empty score table."""
    from nbgrader.preprocessors import GetGrades

    from .grade import load_record

    nb = nbformat.v4.new_notebook(metadata={"language_info": {"name": "python"}})
    exporter = FeedbackExporter(config=config)
    exporter.register_preprocessor(GetGrades(config=config), enabled=True)
    exporter.register_preprocessor(CourseFeedback(config=config), enabled=True)
    why = why_ungraded(load_record(course, assignment, student), name)
    resources = course.resources(assignment, student, name, unreadable=why)
    html, _ = exporter.from_notebook_node(nb, resources=resources)
    return html


def _submitted_notebooks(course, assignment, students):
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(course.db_url) as gb:
        try:
            subs = gb.find_assignment(assignment).submissions
        except MissingEntry:
            return []
        found = [(s.student.id, n.name) for s in subs for n in s.notebooks]
    return sorted(x for x in found if not students or x[0] in students)


def write_feedback(course, assignment, students=None, out=None):
    """Feedback pages of every graded submission (or `students`); returns the paths.

    Runs nbgrader's GenerateFeedback with the course's pipeline, then writes a page for
    each notebook it could not grade.  Students whose page failed are named on `out`.
    """
    import sys

    from .nbgrader_hooks import open_test_comments, sync_flags

    out = out or sys.stdout
    sync_flags(course, assignment)
    open_test_comments(course, assignment)
    config = feedback_config(course.config)
    for student in students or ["*"]:
        for line in _generate(course, config, assignment, student):
            print(f"feedback: {line}", file=out)
    paths = []
    for student, name in _submitted_notebooks(course, assignment, students):
        target = course.feedback / student / assignment / f"{name}.html"
        if not (course.autograded / student / assignment / f"{name}.ipynb").exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            page = render_missing(course, config, assignment, student, name)
            target.write_text(page, encoding="utf-8")
        if target.exists():
            paths.append(target)
        else:
            print(f"feedback: no page for {student}/{name}", file=out)
    if paths:
        sizes = sorted((p.stat().st_size, p) for p in paths)
        (small, _), (big, biggest) = sizes[0], sizes[-1]
        where = biggest.relative_to(course.feedback).as_posix()
        print(
            f"feedback: {len(paths)} pages of {small / 1000:.0f} to {big / 1000:.0f} KB "
            f"(largest: {where})",
            file=out,
        )
    return paths
