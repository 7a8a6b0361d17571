"""The instructor's HTML report: one self-contained page, figures embedded as PNG.

Per assignment: the score distribution and each question's scores (integer ticks),
the diagnosed bugs (the "Likely bug: ..." lines of failing tests, full labels), the run
time of each student, every student's raw score, late penalty, final score, status,
sandbox and a link to the feedback pages, then the late, failed and flagged students
as tables.  The page is a jinja2 template with autoescaping (``templates/report.html.j2``);
every figure has alt text; light and dark follow ``prefers-color-scheme``.

Student text (bug messages, ids) reaches figures only as plain text: the report draws
with matplotlib's own defaults and math parsing off, in a private config folder, so no
``$...$`` in an error message and no matplotlibrc a kernel left behind can break it.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import io
import os
import re
import sys
import tempfile
import textwrap
from pathlib import Path

import nbformat

from .export import gradebook_rows, question_order
from .grade import load_records

LIKELY = re.compile(r"Likely bug:\s*(.+)", re.IGNORECASE)
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
TEMPLATES = Path(__file__).resolve().parent / "templates"
COLORS = {"score": "#4477aa", "question": "#66aa55", "bug": "#cc6677", "time": "#ddaa33"}


@contextlib.contextmanager
def private_matplotlib():
    """matplotlib with its built-in defaults, Agg, no math text, a private config dir."""
    private = None
    if "matplotlib" not in sys.modules:
        # a config dir no kernel could have written (matplotlibrc, font cache), read
        # once at import; the environment of later processes is left as it was
        private = tempfile.mkdtemp(prefix="backprop-report-mpl-")
        old = os.environ.get("MPLCONFIGDIR")
        os.environ["MPLCONFIGDIR"] = private
        import matplotlib

        matplotlib.get_configdir(), matplotlib.get_cachedir()
        if old is None:
            os.environ.pop("MPLCONFIGDIR")
        else:
            os.environ["MPLCONFIGDIR"] = old
    import matplotlib

    rc = dict(matplotlib.rcParamsDefault)
    rc.update({"backend": "agg", "text.parse_math": False, "text.usetex": False})
    rc.update({"figure.dpi": 100, "savefig.dpi": 90, "font.size": 9})
    try:
        with matplotlib.rc_context(rc=rc):
            import matplotlib.pyplot as plt

            plt.switch_backend("agg")
            yield plt
    finally:
        if private:
            import shutil

            shutil.rmtree(private, ignore_errors=True)


def _png(plt, fig, alt):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return {"src": "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode(), "alt": alt}


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
                for m in LIKELY.finditer(ANSI.sub("", str(text))):
                    counts[m.group(1).strip().rstrip(".")] += 1
    return counts


def _integer_axes(ax, x=True, y=True):
    from matplotlib.ticker import MaxNLocator

    if x:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if y:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def _point_bins(top):
    import numpy as np

    step = max(1, int(round(top / 30)))
    return np.arange(-0.5 * step, top + step, step), step


def score_figure(plt, assignment, rows):
    """Histogram of the final scores, one bin per point (integer ticks)."""
    import numpy as np

    scores = np.array([r.score for r in rows], dtype=float)
    top = max(r.max_score for r in rows) or 1.0
    bins, step = _point_bins(top)
    fig, ax = plt.subplots(figsize=(6.5, 2.8))
    ax.hist(scores, bins=bins, color=COLORS["score"], edgecolor="white")
    _integer_axes(ax)
    ax.set(
        title=f"{assignment}: final scores (n = {len(scores)})",
        xlabel=f"score (points, out of {top:g})",
        ylabel="students",
        xlim=(-0.5 * step, top + 0.5 * step),
    )
    alt = (
        f"Histogram of the final scores of {len(scores)} students in {assignment}: "
        f"mean {scores.mean():.2f}, median {np.median(scores):.2f}, out of {top:g} points."
    )
    return _png(plt, fig, alt)


def question_figure(plt, assignment, rows, order):
    """One small histogram per question: how many students got each score."""
    import math

    qs = []
    for q in order:
        vals = [r.questions[q] for r in rows if q in r.questions]
        if vals:
            qs.append((q.split("/", 1)[1], [s for s, _ in vals], max(m for _, m in vals)))
    if not qs:
        return None
    cols = min(3, len(qs))
    nrows = math.ceil(len(qs) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(3.2 * cols, 2.3 * nrows), squeeze=False)
    for ax, (name, scores, points) in zip(axes.flat, qs, strict=False):
        bins, step = _point_bins(points or 1.0)
        ax.hist(scores, bins=bins, color=COLORS["question"], edgecolor="white")
        _integer_axes(ax)
        ax.set_xlim(-0.5 * step, (points or 1.0) + 0.5 * step)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(f"points (of {points:g})")
        ax.set_ylabel("students")
    for ax in list(axes.flat)[len(qs) :]:
        ax.set_visible(False)
    fig.suptitle(f"{assignment}: scores per question")
    fig.tight_layout()
    parts = [f"{n}: mean {sum(s) / len(s):.2f} of {p:g}" for n, s, p in qs]
    alt = f"Histograms of each question's scores in {assignment}. " + "; ".join(parts) + "."
    return _png(plt, fig, alt)


def bug_figure(plt, assignment, bugs):
    """Horizontal bars, one per diagnosis, its full text wrapped (never cut)."""
    labels = [textwrap.fill(b, 48) for b, _ in bugs][::-1]
    counts = [n for _, n in bugs][::-1]
    lines = sum(label.count("\n") + 1 for label in labels)
    fig, ax = plt.subplots(figsize=(8, 0.28 * lines + 0.5 * len(labels) + 0.8))
    ax.barh(range(len(labels)), counts, color=COLORS["bug"])
    ax.set_yticks(range(len(labels)), labels)
    _integer_axes(ax, y=False)
    ax.set(
        title=f"{assignment}: diagnosed bugs",
        xlabel="failing test cells with this diagnosis",
    )
    alt = f"Bar chart of the diagnosed bugs in {assignment}: " + "; ".join(
        f"{b} ({n})" for b, n in bugs
    )
    return _png(plt, fig, alt)


def time_figure(plt, assignment, records):
    """Run time of each student's submission (kernels plus bookkeeping), by student."""
    timed = sorted(((r.seconds, r.student) for r in records if r.seconds), reverse=True)
    if not timed:
        return None
    fig, ax = plt.subplots(figsize=(6.5, 0.22 * len(timed) + 1.0))
    ax.barh([s for _, s in timed][::-1], [t for t, _ in timed][::-1], color=COLORS["time"])
    ax.set(title=f"{assignment}: run time by student", xlabel="wall-clock time (s)")
    ax.tick_params(axis="y", labelsize=8)
    slow = ", ".join(f"{s} {t:.1f} s" for t, s in timed[:3])
    alt = (
        f"Bar chart of the grading time of each of {len(timed)} students in {assignment}; "
        f"slowest: {slow}."
    )
    return _png(plt, fig, alt)


def _when(t):
    return t.strftime("%Y-%m-%d %H:%M UTC") if t else ""


def _late_by(seconds):
    from .feedback import _duration

    return _duration(seconds) if seconds else ""


def _feedback_links(course, assignment, student, report_dir):
    links = []
    for page in sorted((course.feedback / student / assignment).glob("*.html")):
        links.append(
            {"name": page.stem, "href": Path(os.path.relpath(page, report_dir)).as_posix()}
        )
    return links


def _review_items(rec):
    """A flagged student's reasons, each once, with how often it came up."""
    items = list(rec.flags)
    counts = collections.Counter(items)
    out = [{"text": t, "count": n} for t, n in counts.items()]
    if not out and rec.reasons:  # nbgrader leaves what it could not run to a human
        out = [{"text": f"needs a manual grade: {rec.reasons[0].splitlines()[0]}", "count": 1}]
    return out


def _student_rows(course, assignment, rows, records, report_dir):
    recs = {r.student: r for r in records}
    out = []
    for r in rows:
        rec = recs.get(r.student)
        out.append(
            {
                "student": r.student,
                "raw": r.raw,
                "penalty": r.penalty,
                "score": r.score,
                "max": r.max_score,
                "status": (rec.status if rec else r.status) or "ok",
                "why": "; ".join(x.splitlines()[0] for x in rec.reasons) if rec else "",
                "seconds": rec.seconds if rec else None,
                "sandbox": (getattr(rec, "sandbox", "") or "") if rec else r.sandbox,
                "review": r.needs_review,
                "review_items": _review_items(rec) if rec and r.needs_review else [],
                "submitted": _when(r.submitted),
                "due": _when(r.due),
                "late_by": _late_by(r.seconds_late),
                "late": r.late,
                "links": _feedback_links(course, assignment, r.student, report_dir),
            }
        )
    return out


def _figures(plt, course, assignment, rows, records, bugs):
    figs = [score_figure(plt, assignment, rows)]
    figs.append(question_figure(plt, assignment, rows, question_order(course, assignment)))
    if bugs:
        figs.append(bug_figure(plt, assignment, bugs))
    figs.append(time_figure(plt, assignment, records))
    return [f for f in figs if f]


def assignment_section(plt, course, assignment, rows, report_dir):
    """Everything the template shows about one assignment."""
    records = [r for r in load_records(course, assignment) if r is not None]
    bugs = diagnosed_bugs(course, assignment).most_common(12)
    students = _student_rows(course, assignment, rows, records, report_dir)
    scores = [r.score for r in rows]
    return {
        "id": assignment,
        "anchor": re.sub(r"[^A-Za-z0-9_-]", "-", assignment),
        "n": len(rows),
        "mean": sum(scores) / len(scores) if scores else 0.0,
        "max_score": max((r.max_score for r in rows), default=0.0),
        "due": _when(rows[0].due) if rows else "",
        "figures": _figures(plt, course, assignment, rows, records, bugs) if rows else [],
        "bugs": [{"text": b, "count": n} for b, n in bugs],
        "students": students,
        "late": [s for s in students if s["late"]],
        "failed": [s for s in students if s["status"] != "ok"],
        "flagged": [s for s in students if s["review"]],
        "sandboxes": sorted({s["sandbox"] for s in students if s["sandbox"]}),
    }


def render(context):
    """The report page from ``templates/report.html.j2`` (autoescaped)."""
    import jinja2

    from .feedback import page_css

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["points"] = lambda x: "" if x is None else f"{float(x):g}"
    return env.get_template("report.html.j2").render(css=page_css(), **context)


def write_report(course, assignment=None, output=None):
    """Write the HTML report (one assignment, or all in the gradebook); returns its path."""
    import datetime as dt

    from nbgrader.api import Gradebook

    path = Path(output) if output else course.root / "reports" / "report.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = gradebook_rows(course, assignment)
    if assignment is None:
        with Gradebook(course.db_url) as gb:
            ids = sorted(a.name for a in gb.assignments)
    else:
        ids = [assignment]
    with private_matplotlib() as plt:
        sections = [
            assignment_section(
                plt, course, a, [r for r in rows if r.assignment == a], path.parent.resolve()
            )
            for a in ids
        ]
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = render({"sections": sections, "generated": now, "course": course.root.name})
    path.write_text(page, encoding="utf-8")
    return path.resolve()
