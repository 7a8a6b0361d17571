"""The instructor's HTML report: one self-contained page, figures embedded as PNG.

The first screen answers four questions, with real counts:

- **how the class did**: per assignment the number of submissions, mean and median
  final score and one small histogram of the final scores (% of the points);
- **which items were hard**: the graded items with the lowest mean share of the points
  (named by their notebook's heading and question, :func:`feedback.question_titles`);
- **which bugs were common**: the "Likely bug: ..." diagnoses of failing test cells,
  counted in students (a student whose two cells say it counts once);
- **who needs a look**: flagged, not graded normally, late: one line per student and
  kind, naming the assignments; and what the last LMS exports left out
  (``reports/exports.json``, written by :func:`autograder.export.export_csv`).

Everything else (each item's scores, every diagnosis, every student's raw score, late
penalty, final score, status, run time and feedback links, the late, failed and flagged
tables) folds away in one ``<details>`` per assignment.  The page is a jinja2 template
with autoescaping (``templates/report.html.j2``); every figure has alt text; light and
dark follow ``prefers-color-scheme``; nothing is loaded from the network.

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

from . import safe_html
from .cells import is_graded
from .export import gradebook_rows, question_order, read_exports_log
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
    fig.savefig(buf, format="png", bbox_inches="tight", pil_kwargs={"optimize": True})
    plt.close(fig)
    return {"src": "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode(), "alt": alt}


def _diagnoses(nb):
    """The "Likely bug" diagnoses of a graded notebook's failing test cells."""
    found = []
    for cell in nb.cells:
        if not is_graded(cell) or cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            text = out.get("evalue", "") if out.get("output_type") == "error" else ""
            for m in LIKELY.finditer(ANSI.sub("", str(text))):
                found.append(m.group(1).strip().rstrip("."))
    return found


def diagnosed_bugs(course, assignment):
    """{diagnosis: set of students} over the failing test cells of all graded notebooks
    (a student counts once per diagnosis, however many cells said it)."""
    students = collections.defaultdict(set)
    for path in sorted(course.autograded.glob(f"*/{assignment}/*.ipynb")):
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception:  # noqa: BLE001 - an unreadable graded notebook has no diagnoses
            continue
        for text in _diagnoses(nb):
            students[text].add(path.parent.parent.name)
    return dict(students)


def _integer_axes(ax, x=True, y=True):
    from matplotlib.ticker import MaxNLocator

    if x:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if y:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def distribution_figure(plt, assignment, rows):
    """A small histogram of the final scores in % of the points (10 % bins)."""
    import numpy as np

    pct = np.array([r.percent for r in rows], dtype=float)
    fig, ax = plt.subplots(figsize=(3.4, 0.72))
    ax.hist(np.clip(pct, 0, 100), bins=np.linspace(0, 100, 11), color=COLORS["score"],
            edgecolor="white")  # fmt: skip
    _integer_axes(ax, x=False)
    ax.set_xlim(0, 100)
    ax.set_xticks([0, 50, 100], ["0 %", "50 %", "100 %"])
    ax.tick_params(labelsize=7, length=2)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    below = int((pct < 50).sum())
    alt = (
        f"Histogram of the final scores in {assignment} (n = {len(pct)}): median "
        f"{np.median(pct):.0f} %, {below} students below 50 %."
    )
    return _png(plt, fig, alt)


def _short(text, width):
    return textwrap.shorten(" ".join(str(text).split()), width, placeholder="…")


def difficulty_figure(plt, items):
    """Horizontal bars: the mean share of the points of the hardest items."""
    if not items:
        return None
    labels = [_short(f"{i['assignment'][:2]} · {i['label']}", 50) for i in items][::-1]
    means = [i["mean_pct"] for i in items][::-1]
    fig, ax = plt.subplots(figsize=(5.6, 0.3 * len(items) + 0.7))
    ax.barh(range(len(items)), means, color=COLORS["question"])
    ax.set_yticks(range(len(items)), labels, fontsize=9)
    ax.set_xlim(0, 100)
    ax.set_xlabel("mean share of the points (%)")
    for y, m in enumerate(means):
        ax.text(m + 1, y, f"{m:.0f} %", va="center", fontsize=7)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    alt = "Bar chart of the hardest items by mean share of the points: " + "; ".join(
        f"{i['assignment']} {i['label']}: {i['mean_pct']:.0f} %" for i in items
    )
    return _png(plt, fig, alt)


def bugs_figure(plt, bugs):
    """Horizontal bars: how many students each of the commonest diagnoses hit."""
    if not bugs:
        return None
    labels = [_short(f"{b['assignment'][:2]} · {b['text']}", 50) for b in bugs][::-1]
    counts = [b["count"] for b in bugs][::-1]
    fig, ax = plt.subplots(figsize=(5.6, 0.3 * len(bugs) + 0.7))
    ax.barh(range(len(bugs)), counts, color=COLORS["bug"])
    ax.set_yticks(range(len(bugs)), labels, fontsize=9)
    _integer_axes(ax, y=False)
    ax.set_xlabel("students")
    for y, n in enumerate(counts):
        ax.text(n, y, f" {n}", va="center", fontsize=7)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    alt = "Bar chart of the commonest diagnosed bugs by number of students: " + "; ".join(
        f"{b['assignment']}: {b['text']} ({b['count']})" for b in bugs
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
                "variant": getattr(rec, "variant", None) if rec else None,
                "review": r.needs_review,
                "review_items": _review_items(rec) if rec and r.needs_review else [],
                "flags": list(rec.flags) if rec else [],
                "submitted": _when(r.submitted),
                "due": _when(r.due),
                "late_by": _late_by(r.seconds_late),
                "late": r.late,
                "links": _feedback_links(course, assignment, r.student, report_dir),
            }
        )
    return out


def _item_titles(course, assignment):
    """{"<notebook>/<grade_id>": (title, what)} from the source notebooks."""
    from .feedback import question_titles

    out = {}
    for n in course.notebook_names(assignment):
        try:
            nb = nbformat.read(course.source / assignment / f"{n}.ipynb", as_version=4)
        except (OSError, ValueError):
            continue
        for i, t in question_titles(nb).items():
            gid = nb.cells[i].metadata.nbgrader.get("grade_id")
            out[f"{n}/{gid}"] = (t["title"], t["what"])
    return out


def item_stats(course, assignment, rows):
    """Each graded item of an assignment: its title, mean share of the points, how many
    students got all of it; in notebook order."""
    titles = _item_titles(course, assignment)
    items = []
    for key in question_order(course, assignment):
        vals = [r.questions[key] for r in rows if key in r.questions]
        points = max((m for _, m in vals), default=0.0)
        if not vals or not points:
            continue
        title, what = titles.get(key, (key.split("/", 1)[1], ""))
        items.append(
            {
                "assignment": assignment,
                "key": key,
                "title": title,
                "what": what,
                "label": what or title,
                "points": points,
                "mean_pct": 100.0 * sum(s for s, _ in vals) / (points * len(vals)),
                "full": sum(1 for s, m in vals if s >= m),
                "n": len(vals),
            }
        )
    return items


#: How much of a pair the report shows side by side: pairs, cells per pair, characters
#: and lines per cell (a huge answer is cut, and says so).
SIDE_BY_SIDE = {"pairs": 3, "cells": 3, "chars": 6000, "lines": 120}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def highlighted(source, lines=()):
    """`source` as pygments-highlighted HTML, `lines` (1-based) marked, cut to
    :data:`SIDE_BY_SIDE`; escaped by pygments and sanitized again (submissions are hostile)."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer

    from .safe_html import clean

    text = _CONTROL.sub("\ufffd", source[: SIDE_BY_SIDE["chars"]])
    kept = text.splitlines()[: SIDE_BY_SIDE["lines"]]
    cut = len(kept) < len(text.splitlines()) or len(source) > SIDE_BY_SIDE["chars"]
    text = "\n".join(kept) + ("\n# … (cut here: the answer is longer)" if cut else "")
    marked = [n for n in lines if n <= len(kept)]
    return clean(highlight(text, PythonLexer(), HtmlFormatter(hl_lines=marked)))


def _side_by_side(result, pair):
    from .similarity import matched_lines

    a, b = result.submissions[pair.student_a], result.submissions[pair.student_b]
    shared = result.remaining[pair.student_a] & result.remaining[pair.student_b]
    cells = []
    for key, score, n in pair.cells[: SIDE_BY_SIDE["cells"]]:
        hashes = {h for k, h in shared if k == key}
        cells.append(
            {
                "key": key,
                "score": score,
                "shared": n,
                "left": highlighted(a.answers[key], matched_lines(a, key, hashes)),
                "right": highlighted(b.answers[key], matched_lines(b, key, hashes)),
            }
        )
    return {"a": pair.student_a, "b": pair.student_b, "score": pair.score, "cells": cells}


def similarity_section(course, assignment):
    """The similar pairs of an assignment's submissions (:mod:`autograder.similarity`):
    the ranked pairs, the top ones side by side, the answers that copy the library."""
    from . import similarity

    try:
        result = similarity.compare(course, assignment)
    except (OSError, ValueError) as exc:
        return {"n": 0, "pairs": [], "shown": [], "library": [], "error": str(exc)[:200]}
    pairs = result.look_alike()
    return {
        "n": len(result.submissions),
        "error": "",
        "pairs": [
            {
                "a": p.student_a,
                "b": p.student_b,
                "score": p.score,
                "shared": p.shared,
                "cells": ", ".join(k for k, _, _ in p.cells[:4])
                + (" …" if len(p.cells) > 4 else ""),
            }
            for p in pairs[:10]
        ],  # fmt: skip
        "more": max(0, len(pairs) - 10),
        "shown": [_side_by_side(result, p) for p in pairs[: SIDE_BY_SIDE["pairs"]]],
        "library": [vars(c) for c in result.library],
    }


def assignment_section(plt, course, assignment, rows, report_dir):
    """Everything the template shows about one assignment."""
    import statistics

    records = [r for r in load_records(course, assignment) if r is not None]
    bugs = sorted(diagnosed_bugs(course, assignment).items(), key=lambda kv: (-len(kv[1]), kv[0]))
    students = _student_rows(course, assignment, rows, records, report_dir)
    scores = [r.score for r in rows]
    return {
        "id": assignment,
        "anchor": re.sub(r"[^A-Za-z0-9_-]", "-", assignment),
        "n": len(rows),
        "mean": sum(scores) / len(scores) if scores else 0.0,
        "median": statistics.median(scores) if scores else 0.0,
        "mean_pct": sum(r.percent for r in rows) / len(rows) if rows else 0.0,
        "max_score": max((r.max_score for r in rows), default=0.0),
        "due": _when(rows[0].due) if rows else "",
        "distribution": distribution_figure(plt, assignment, rows) if rows else None,
        "item_rows": item_stats(course, assignment, rows),
        "bugs": [
            {"assignment": assignment, "text": b, "count": len(who), "students": sorted(who)}
            for b, who in bugs
        ],
        "students": students,
        "late": [s for s in students if s["late"]],
        "failed": [s for s in students if s["status"] != "ok"],
        "flagged": [s for s in students if s["review"]],
        "sandboxes": sorted({s["sandbox"] for s in students if s["sandbox"]}),
        "variants": any(s["variant"] is not None for s in students),
        "similar": similarity_section(course, assignment),
    }


#: How much the first screen lists before "and N more" (the rest is in the details).
FIRST_SCREEN = {"items": 8, "bugs": 6, "flagged": 4, "failed": 3, "late": 2}


def _why(kind, s):
    if kind == "flagged":
        items = s["review_items"]
        why = items[0]["text"] if items else "flagged for review"
        return why + (f" (+{len(items) - 1} more)" if len(items) > 1 else "")
    if kind == "failed":
        why = s["why"] or s["status"]
        return why if why.startswith(s["status"]) else f"{s['status']}: {why}"
    return f"late by {s['late_by']} (−{s['penalty']:g} points)"


def needs_a_look(sections):
    """Who needs a look, most urgent first: flagged, then not graded normally, then late;
    one entry per student and kind, naming every assignment it happened in.

    Returns a list of {"student", "kind", "why", "where": [{"id", "anchor"}], "links"}
    (`why` and `links` from the first assignment).
    """
    out = {}
    for kind in ("flagged", "failed", "late"):
        for a in sections:
            for s in a[kind]:
                if kind == "flagged" and s["status"] != "ok" and not s["flags"]:
                    continue  # nbgrader's "needs a manual grade" of a failed run: one entry
                entry = out.setdefault(
                    (kind, s["student"]),
                    {"student": s["student"], "kind": kind, "why": _why(kind, s),
                     "where": [], "links": s["links"]},
                )  # fmt: skip
                entry["where"].append({"id": a["id"], "anchor": a["anchor"]})
    return list(out.values())


def _notes_name(csv_path):
    """The warnings file `export` writes next to a CSV (see ExportResult.notes_path)."""
    from .export import ExportResult

    return ExportResult(Path(csv_path), 0).notes_path.name if csv_path else ""


def overview(plt, sections, exports):
    """The first screen: the class's results, the hard items, common bugs, who to look at."""
    items = sorted(
        (i for a in sections for i in a["item_rows"]), key=lambda i: (i["mean_pct"], i["key"])
    )
    hard = [i for i in items if i["mean_pct"] < 100][: FIRST_SCREEN["items"]]
    bugs = sorted((b for a in sections for b in a["bugs"]), key=lambda b: (-b["count"], b["text"]))[
        : FIRST_SCREEN["bugs"]
    ]
    people = needs_a_look(sections)
    shown = [
        p
        for kind in ("flagged", "failed", "late")
        for p in [q for q in people if q["kind"] == kind][: FIRST_SCREEN[kind]]
    ]
    graded = [a for a in sections if a["n"]]
    students = {s["student"] for a in sections for s in a["students"]}
    similar = sorted(
        ({**p, "assignment": a["id"], "anchor": a["anchor"]} for a in sections
         for p in a["similar"]["pairs"]),
        key=lambda p: (-p["score"], -p["shared"]),
    )  # fmt: skip
    return {
        "students": len(students),
        "assignments": len(graded),
        "submissions": sum(a["n"] for a in graded),
        "mean_pct": (
            sum(a["mean_pct"] * a["n"] for a in graded) / sum(a["n"] for a in graded)
            if graded
            else 0.0
        ),
        "hard": hard,
        "hard_figure": difficulty_figure(plt, hard),
        "bugs": bugs,
        "bugs_figure": bugs_figure(plt, bugs),
        "people": shown,
        "more_people": len(people) - len(shown),
        "counts": collections.Counter(p["kind"] for p in people),
        "similar": similar[:1],
        "similar_pairs": len(similar),
        "library_copies": sum(len(a["similar"]["library"]) for a in sections),
        "exports": [
            {"format": fmt, "notes": _notes_name(info.get("path", "")), **info}
            for fmt, info in sorted(exports.items())
            if info.get("left_out") or info.get("warnings")
        ],
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
    env.filters["mean"] = lambda x: f"{float(x):.1f}".removesuffix(".0")
    env.filters["inline_math"] = safe_html.inline_math
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
        first = overview(plt, sections, read_exports_log(course))
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = render(
        {"sections": sections, "overview": first, "generated": now, "course": course.root.name}
    )
    path.write_text(page, encoding="utf-8")
    return path.resolve()
