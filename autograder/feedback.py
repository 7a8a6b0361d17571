"""Per-student HTML feedback that never leaks hidden tests.

nbgrader 0.9's ``generate_feedback`` renders the autograded notebook, hidden tests and
all (nbgrader issues #917, #1363).  Here each page is built from

- the student's own answer cells,
- the *released* version of each test cell (the visible checks only, as the student
  saw them), with its points from the gradebook,
- the test's outcome as one diagnosing message: stream output and ``ename: evalue``
  of an error, never a traceback (a traceback would quote the hidden lines), and any
  line that repeats hidden test code is dropped.

Pages go to nbgrader's ``feedback/<student>/<assignment>/<notebook>.html``, so
``nbgrader release_feedback`` can hand them out.
"""

from __future__ import annotations

import html
import re

import nbformat

HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS\n?", re.DOTALL)
ANSI = re.compile(r"\x1b\[[0-9;]*m")

CSS = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
pre{background:#f6f8fa;padding:.6rem;border-radius:4px;overflow-x:auto;font-size:.85rem}
pre.msg,pre.ok{white-space:pre-wrap;overflow-wrap:anywhere}
.test{border-left:4px solid #999;padding-left:.8rem;margin:1rem 0}
.pass{border-color:#2a2} .fail{border-color:#c22}
.pts{float:right;font-weight:bold} .msg{background:#fff4f4} .ok{background:#f4fff4}
.flag{background:#fff8e0;padding:.5rem;border-radius:4px}
"""


# The notebooks' formulas are TeX between $...$, as in JupyterLab.  Like nbgrader's own
# feedback, the page asks the reader's browser for MathJax; offline it shows the TeX.
MATHJAX = (
    "<script>window.MathJax={tex:{inlineMath:[['$','$'],['\\\\(','\\\\)']]},"
    "options:{skipHtmlTags:['script','noscript','style','textarea','pre','code']}};</script>"
    '<script async src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js"></script>'
)


def _meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def hidden_lines(source_nb, release_nb=None):
    """Non-trivial source lines of the hidden tests of a source notebook.

    Given the release, lines whose text the student can read there anyway (such as a
    call that a hidden test repeats with other arguments) are not counted as hidden, so
    that removing hidden lines never mutilates visible code.
    """
    visible = "\n".join(c.get("source", "") for c in release_nb.cells) if release_nb else ""
    lines = set()
    for cell in source_nb.cells:
        for block in HIDDEN.findall(cell.get("source", "")):
            for line in block.splitlines():
                line = line.strip()
                if len(line) > 6 and "HIDDEN TESTS" not in line and line not in visible:
                    lines.add(line)
    return lines


def outcome_text(cell, hidden):
    """What a test cell said, without tracebacks or hidden code."""
    parts = []
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "stream":
            parts.append(out.get("text", ""))
        elif kind == "error":
            evalue = out.get("evalue", "")
            ename = out.get("ename", "Error")
            parts.append(evalue if ename == "GradingFailure" else f"{ename}: {evalue}")
        elif "data" in out and "text/plain" in out["data"]:
            parts.append(out["data"]["text/plain"])
    text = ANSI.sub("", "\n".join(p.rstrip("\n") for p in parts))
    kept = [line for line in text.splitlines() if not any(h in line for h in hidden)]
    return "\n".join(kept)


MATH = re.compile(r"\$\$.+?\$\$|\$[^$\n]+(?:\n[^$\n]+)*?\$", re.DOTALL)


def _md(text):
    r"""Markdown to HTML with the TeX left as written (for MathJax).

    Markdown would read ``\,`` or ``\;`` inside a formula as escaped punctuation and
    ``_`` as emphasis, so each formula is set aside before and put back after.
    """
    try:
        import mistune
    except ImportError:
        return f"<pre>{html.escape(text)}</pre>"
    formulas = []

    def hold(m):
        formulas.append(m.group(0))
        return f"MATHPLACEHOLDER{len(formulas) - 1}X"

    out = mistune.html(MATH.sub(hold, text))
    return re.sub(
        r"MATHPLACEHOLDER(\d+)X", lambda m: html.escape(formulas[int(m.group(1))], quote=False), out
    )


def render(student, assignment, name, autograded, release, source, grades, flags=()):
    """The feedback page of one notebook as an HTML string.

    Parameters
    ----------
    autograded, release, source : NotebookNode
        The graded notebook, the student release and the source (for the hidden lines).
    grades : dict of str to (float, float)
        grade_id -> (score, max_score) from the gradebook.
    flags : list of str
        Integrity notes to show the student (e.g. a restored test cell).
    """
    hidden = hidden_lines(source, release)
    released = {_meta(c).get("grade_id"): c for c in release.cells if _meta(c).get("grade_id")}
    total = sum(s for s, _ in grades.values())
    out_of = sum(m for _, m in grades.values())
    body = [
        f"<h1>{html.escape(assignment)} / {html.escape(name)}</h1>",
        f"<p>Student <b>{html.escape(student)}</b>: <b>{total:g} / {out_of:g}</b> points.</p>",
    ]
    for f in flags:
        body.append(f'<p class="flag">{html.escape(f)}</p>')
    for cell in autograded.cells:
        meta = _meta(cell)
        gid = meta.get("grade_id")
        if cell.cell_type == "markdown":
            if not (meta.get("solution") and meta.get("grade")):
                body.append(_md(cell.source))
            else:
                body.append(f"<pre>{html.escape(cell.source)}</pre>")
            continue
        if cell.cell_type != "code":
            continue
        if meta.get("grade") and not meta.get("solution"):
            visible = released.get(gid, {}).get("source") if gid in released else None
            if visible is None:
                visible = HIDDEN.sub("", cell.source)
            score, max_score = grades.get(gid, (0.0, float(meta.get("points", 0))))
            ok = score >= max_score
            msg = outcome_text(cell, hidden)
            body.append(
                f'<div class="test {"pass" if ok else "fail"}"><span class="pts">'
                f"{score:g} / {max_score:g}</span><b>test {html.escape(gid or '')}</b>"
                f"<pre>{html.escape(visible)}</pre>"
                + (f'<pre class="{"ok" if ok else "msg"}">{html.escape(msg)}</pre>' if msg else "")
                + "</div>"
            )
        else:
            body.append(f"<pre>{html.escape(cell.source)}</pre>")
    page = "\n".join(body)
    for line in hidden:  # belt and braces: no hidden line survives anywhere on the page
        page = page.replace(html.escape(line), "")
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(assignment)}"
        f" feedback</title><style>{CSS}</style>{MATHJAX}</head><body>{page}</body></html>"
    )


def render_ungraded(student, assignment, name, grades, flags):
    """The page for a notebook that could not be graded (its reasons, zero points)."""
    out_of = sum(m for _, m in grades.values())
    reasons = "".join(f'<p class="flag">{html.escape(f)}</p>' for f in flags) or (
        '<p class="flag">This notebook was not found in your submission.</p>'
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(assignment)}"
        f" feedback</title><style>{CSS}</style></head><body>"
        f"<h1>{html.escape(assignment)} / {html.escape(name)}</h1>"
        f"<p>Student <b>{html.escape(student)}</b>: <b>0 / {out_of:g}</b> points.</p>"
        f"{reasons}</body></html>"
    )


def write_feedback(course, assignment, students=None):
    """Write feedback pages for every graded submission; returns the paths written."""
    from nbgrader.api import Gradebook

    from .grade import load_record

    paths = []
    with Gradebook(course.db_url) as gb:
        subs = gb.find_assignment(assignment).submissions
        for sub in sorted(subs, key=lambda s: s.student.id):
            student = sub.student.id
            if students and student not in students:
                continue
            rec = load_record(course, assignment, student)
            flags = []
            if rec is not None:
                flags = [
                    f"{f.split(': ', 1)[-1]}: it was restored from the original before grading."
                    for f in rec.flags
                    if "test cell" in f or "locked cell" in f
                ]
                flags += [f"Not graded normally: {r.splitlines()[0]}" for r in rec.reasons]
            for nb in sub.notebooks:
                graded_path = course.autograded / student / assignment / f"{nb.name}.ipynb"
                grades = {g.name: (float(g.score or 0.0), float(g.max_score)) for g in nb.grades}
                target = course.feedback / student / assignment / f"{nb.name}.html"
                target.parent.mkdir(parents=True, exist_ok=True)
                if not graded_path.exists():
                    # nothing could be run (unreadable or missing notebook): say why
                    target.write_text(render_ungraded(student, assignment, nb.name, grades, flags))
                    paths.append(target)
                    continue
                page = render(
                    student,
                    assignment,
                    nb.name,
                    nbformat.read(graded_path, as_version=4),
                    _read(course.release / assignment / f"{nb.name}.ipynb"),
                    nbformat.read(course.source / assignment / f"{nb.name}.ipynb", as_version=4),
                    grades,
                    flags,
                )
                target.write_text(page)
                paths.append(target)
    return paths


def _read(path):
    if path.exists():
        return nbformat.read(path, as_version=4)
    return nbformat.v4.new_notebook()
