"""The instructor's HTML report: one page, figures embedded as base64 PNGs.

Per assignment: the score distribution, the mean score of each question (which
exercises are hard), the most frequent diagnosed bugs (the "Likely bug: ..." lines of
failing test outputs in autograded/), the run time of each submission, and the
failures and integrity flags.
"""

from __future__ import annotations

import base64
import collections
import html
import io
import re
from pathlib import Path

import nbformat

from .export import gradebook_rows, question_order
from .grade import load_records

LIKELY = re.compile(r"Likely bug:\s*(.+)", re.IGNORECASE)
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _png(fig):
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return f'<img src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def diagnosed_bugs(course, assignment):
    """Counter of 'Likely bug' diagnoses over the failing test cells of all students."""
    counts = collections.Counter()
    for path in sorted(course.autograded.glob(f"*/{assignment}/*.ipynb")):
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception:  # noqa: BLE001 - an unreadable graded notebook has no diagnoses
            continue
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if not meta.get("grade") or cell.cell_type != "code":
                continue
            for out in cell.get("outputs", []):
                text = out.get("evalue", "") if out.get("output_type") == "error" else ""
                for m in LIKELY.finditer(ANSI.sub("", text)):
                    counts[m.group(1).strip().rstrip(".")] += 1
    return counts


def _figures(course, assignment, rows, records):
    import matplotlib

    matplotlib.use("agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    parts = []
    scores = [r.score for r in rows]
    max_score = max((r.max_score for r in rows), default=0)
    fig, ax = plt.subplots(figsize=(6, 3))
    bins = max(5, min(20, int(max_score) + 1)) if max_score else 5
    ax.hist(scores, bins=bins, range=(0, max_score or 1), color="#4477aa", edgecolor="white")
    ax.set(
        title=f"{assignment}: score distribution (n = {len(scores)})",
        xlabel=f"score (points, out of {max_score:g})",
        ylabel="students",
    )
    parts.append(_png(fig))

    order = [q for q in question_order(course, assignment)]
    means = []
    for q in order:
        vals = [r.questions[q] for r in rows if q in r.questions]
        if vals:
            means.append((q.split("/", 1)[1], sum(s for s, _ in vals) / sum(m for _, m in vals)))
    if means:
        fig, ax = plt.subplots(figsize=(6, 0.35 * len(means) + 1))
        ax.barh([m[0] for m in means][::-1], [100 * m[1] for m in means][::-1], color="#66aa55")
        ax.set(
            title=f"{assignment}: mean score per question",
            xlabel="mean score (% of the question's points)",
            ylabel="test cell",
            xlim=(0, 100),
        )
        parts.append(_png(fig))

    bugs = diagnosed_bugs(course, assignment).most_common(10)
    if bugs:
        fig, ax = plt.subplots(figsize=(7, 0.4 * len(bugs) + 1))
        labels = [b if len(b) < 60 else b[:57] + "..." for b, _ in bugs][::-1]
        ax.barh(labels, [n for _, n in bugs][::-1], color="#cc6677")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set(
            title=f"{assignment}: most frequent diagnosed bugs",
            xlabel="failing test cells with this diagnosis",
            ylabel="diagnosis",
        )
        parts.append(_png(fig))

    timed = sorted((r.seconds, r.student) for r in records if r and r.seconds)
    if timed:
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.bar(range(len(timed)), [t for t, _ in timed], color="#ddaa33")
        ax.set(
            title=f"{assignment}: run time per submission (sorted)",
            xlabel="submission (sorted by run time)",
            ylabel="wall-clock time (s)",
        )
        parts.append(_png(fig))
    return parts, bugs


def write_report(course, assignment=None, output=None):
    """Write the HTML report (one assignment, or all in the gradebook); returns its path."""
    rows = gradebook_rows(course, assignment)
    ids = sorted({r.assignment for r in rows}) if assignment is None else [assignment]
    body = ["<h1>backprop-course: grading report</h1>"]
    body.append(
        "<table><tr><th>assignment</th><th>submissions</th><th>mean</th><th>max</th>"
        "<th>failures</th><th>flagged</th></tr>"
    )
    per = {}
    for a in ids:
        arows = [r for r in rows if r.assignment == a]
        recs = [r for r in load_records(course, a) if r is not None]
        per[a] = (arows, recs)
        mean = sum(r.score for r in arows) / len(arows) if arows else 0
        body.append(
            f"<tr><td>{html.escape(a)}</td><td>{len(arows)}</td><td>{mean:.2f}</td>"
            f"<td>{max((r.max_score for r in arows), default=0):g}</td>"
            f"<td>{sum(r.failed for r in recs)}</td>"
            f"<td>{sum(r.needs_review for r in recs)}</td></tr>"
        )
    body.append("</table>")
    for a in ids:
        arows, recs = per[a]
        body.append(f"<h2>{html.escape(a)}</h2>")
        if not arows:
            body.append("<p>No graded submissions.</p>")
            continue
        figs, bugs = _figures(course, a, arows, recs)
        body += figs
        if bugs:
            body.append("<h3>Diagnosed bugs</h3><ul>")
            body += [f"<li>{n} × {html.escape(b)}</li>" for b, n in bugs]
            body.append("</ul>")
        failed = [r for r in recs if r.failed]
        if failed:
            body.append(
                "<h3>Failures</h3><table><tr><th>student</th><th>status</th><th>why</th></tr>"
            )
            for r in failed:
                why = "; ".join(x.splitlines()[0] for x in r.reasons)
                body.append(
                    f"<tr><td>{html.escape(r.student)}</td><td>{html.escape(r.status)}</td>"
                    f"<td>{html.escape(why)}</td></tr>"
                )
            body.append("</table>")
        flagged = [r for r in recs if r.needs_review]
        if flagged:
            body.append(
                "<h3>Flagged for manual review</h3><table><tr><th>student</th><th>why</th></tr>"
            )
            for r in flagged:
                items = r.flags
                body.append(
                    f"<tr><td>{html.escape(r.student)}</td>"
                    f"<td>{html.escape('; '.join(dict.fromkeys(items)))}</td></tr>"
                )
            body.append("</table>")
    css = (
        "body{font-family:system-ui,sans-serif;max-width:64rem;margin:2rem auto;padding:0 1rem}"
        "table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem;"
        "text-align:left;vertical-align:top}img{display:block;margin:1rem 0;max-width:100%}"
    )
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>grading report</title>"
        f"<style>{css}</style></head><body>{''.join(body)}</body></html>"
    )
    path = Path(output) if output else course.root / "reports" / "report.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page)
    return path.resolve()
