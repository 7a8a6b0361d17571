"""`backprop-grade`: the instructor's command line, from release to grade report.

nbgrader is the engine and its gradebook the record (formgrader and manual grading keep
working); this adds parallel grading with limits, integrity checks, feedback that does
not leak hidden tests, CSV export and an HTML report.  Configured by the course's
nbgrader_config.py (course root: ``--root``, else the current directory or the nearest
folder above it with an nbgrader_config.py).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import textwrap

from . import limits


def _examples(text):
    return "examples:\n" + textwrap.indent(textwrap.dedent(text).strip(), "  ")


def _course(args):
    from .course_config import Course

    return Course.load(args.root, db_url=args.db, cell_timeout=getattr(args, "timeout", None))


def _set_due_dates(course, args, ids):
    from .late import due_dates, set_due

    for a, when in sorted(due_dates(args.due, ids, args.tz).items()):
        utc = set_due(course, a, when)
        print(f"due: {a} {when:%Y-%m-%d %H:%M %Z} ({utc:%Y-%m-%d %H:%M} UTC) in the gradebook")


def _write_variant_tables(course, args):
    """Each released assignment with variants gets (or keeps) its table in its source
    folder, with the instructor's ``--variant STUDENT=K`` added (course.variant_tables).
    Every ``--variant`` is checked against every table before any is written."""
    from backprop_hub.student_id import valid
    from course import variant_tables

    overrides = {}
    for item in args.variant or []:
        student, sep, k = item.partition("=")
        if not sep or not valid(student.strip()) or not k.strip().isdigit():
            raise SystemExit(f"--variant {item!r}: write STUDENT=K, e.g. --variant alice=3")
        overrides[student.strip()] = int(k)
    ids = args.assignments or course.assignments()
    with_variants = [a for a in ids if a in variant_tables.SPECS]
    if overrides and not with_variants:
        raise SystemExit("--variant: none of " + ", ".join(ids) + " has variants")
    course_id = course.config.CourseDirectory.get("course_id", "") or course.root.name
    try:
        for a in with_variants:
            doc = variant_tables.read_table(course.source / a, a) or variant_tables.read_table(
                course.release / a, a
            )
            count = len(doc["variants"]) if doc else variant_tables.SPECS[a].count
            for student, k in overrides.items():
                if k >= count:
                    raise variant_tables.VariantError(
                        f"variant {k} for {student}: {a} has variants 0 to {count - 1}"
                    )
        for a in with_variants:
            doc = variant_tables.write_table(
                course.source / a, a, course_id, overrides, released=course.release / a
            )
            given = ", ".join(f"{s}={k}" for s, k in sorted(doc["overrides"].items()))
            print(
                f"variants: {a} has {len(doc['variants'])}"
                + (f" (given: {given})" if given else "")
            )
    except variant_tables.VariantError as exc:
        raise SystemExit(f"variants: {exc}") from None


def cmd_release(args):
    from . import release
    from .course_config import Course

    course = Course.load(args.root, db_url=args.db)
    if not args.check:
        _write_variant_tables(course, args)
    ids = args.assignments or course.assignments()
    if not args.check:
        written = release.generate(ids, course=course)
        print(f"generated {course.release.name}/ for: " + ", ".join(written))
        _set_due_dates(course, args, written)
    problems = release.check(args.assignments or None, course=course)
    for p in problems:
        print("out of sync: " + p, file=sys.stderr)
    return 1 if problems else 0


def _roster(args):
    from .roster import Roster

    return Roster.read(args.roster) if getattr(args, "roster", None) else None


def cmd_collect(args):
    from .collect import collect

    course = _course(args)
    report = collect(
        course,
        args.assignment,
        args.path,
        pattern=args.pattern,
        tz=args.tz,
        layout=args.layout,
        roster=_roster(args),
    )
    for line in report.lines():
        print(line)
    return 1 if report.conflicts else 0


def cmd_grade(args):
    from course.variant_tables import VariantError

    from .grade import FAILURES, grade
    from .sandbox import SandboxUnavailable, sandbox_kind

    course = _course(args)
    kind = sandbox_kind(no_sandbox=args.no_sandbox)
    try:
        results = grade(
            course,
            args.assignment,
            students=args.student,
            jobs=args.jobs,
            cell_timeout=args.timeout,
            notebook_timeout=args.notebook_timeout,
            memory_mb=args.memory,
            force=args.force,
            scheduler=args.scheduler,
            sandbox=kind,
            fork=not args.cold_start,
        )
    except (SandboxUnavailable, VariantError) as exc:
        print(f"backprop-grade grade: {exc}", file=sys.stderr)
        return 2
    print(f"sandbox: {kind} (memory limit {args.memory} MB per kernel)")
    failed = [r for r in results if r.status in FAILURES]
    return 3 if failed and args.strict else 0


def cmd_feedback(args):
    from .feedback import write_feedback

    course = _course(args)
    paths = write_feedback(course, args.assignment, students=args.student)
    print(f"wrote {len(paths)} feedback pages under {course.feedback}")
    return 0


def cmd_export(args):
    from .export import export_csv

    course = _course(args)
    _sync_flags(course, args.assignment)
    canvas = {}
    for spec in args.canvas_assignment or ():
        name, sep, cid = spec.partition("=")
        if not sep or not cid.strip().isdigit():
            print(f"backprop-grade export: --canvas-assignment {spec!r}: NAME=ID", file=sys.stderr)
            return 2
        canvas[name.strip()] = cid.strip()
    result = export_csv(
        course,
        args.assignment,
        args.output,
        fmt=args.format,
        roster=args.roster,
        moodle_id=args.moodle_id,
        canvas_assignments=canvas,
    )
    print(f"wrote {result.rows} rows ({args.format}) to {result.path}")
    if result.left_out or result.warnings:
        print(f"what the import needs to know: {result.notes_path}")
    return 0


def _sync_flags(course, assignment):
    """Flagged submissions marked where formgrader shows them ("Flagged?")."""
    from .nbgrader_hooks import sync_flags

    ids = [assignment] if assignment else sorted(p.name for p in course.records.glob("*/"))
    for a in ids:
        sync_flags(course, a)


def cmd_report(args):
    from .report import write_report

    course = _course(args)
    _sync_flags(course, args.assignment)
    path = write_report(course, args.assignment, args.output)
    print(f"report: {path}")
    return 0


def cmd_similarity(args):
    from . import similarity

    course = _course(args)
    if not (course.source / args.assignment).is_dir():
        print(f"backprop-grade similarity: no assignment {args.assignment!r}", file=sys.stderr)
        return 2
    result = similarity.compare(course, args.assignment)
    out = args.out or course.root / "reports" / f"similarity-{args.assignment}.csv"
    path = similarity.write_csv(result, out)
    alike = result.look_alike()
    print(f"{len(result.submissions)} submissions, {len(alike)} pairs look alike")
    for p in alike[:5]:
        cells = ", ".join(k for k, _, _ in p.cells[:3])
        print(f"  {p.score:4.0%}  {p.student_a} and {p.student_b}: {cells}")
    for c in result.library:
        print(f"  library: {c.student} {c.cell}: {c.how}")
    print(f"wrote {len(result.pairs)} ranked pairs to {path}")
    return 0


def _release_parser(add):
    p = add(
        "release",
        "generate the student release (notebooks/) from solutions/ and check it",
        """
        backprop-grade release                  # all assignments
        backprop-grade release 01-chain-rule
        backprop-grade release --check          # only check notebooks/ is in sync (CI)
        backprop-grade release 01-chain-rule --due "2026-12-01 23:59" --tz Europe/Berlin
        backprop-grade release --due 01-chain-rule=2026-12-01T23:59 --due 02-sigmoid-network=2026-12-08T23:59
        backprop-grade release 01-chain-rule --variant alice=3   # alice gets variant 3
        """,
        cmd_release,
    )
    p.add_argument("assignments", nargs="*", metavar="ASSIGNMENT")
    p.add_argument("--check", action="store_true", help="only check that notebooks/ is in sync")
    p.add_argument(
        "--due",
        action="append",
        metavar="[ASSIGNMENT=]WHEN",
        help="due date into nbgrader's gradebook (late penalties), e.g. '2026-12-01 23:59'",
    )
    p.add_argument("--tz", help="IANA time zone of --due (default: the machine's)")
    p.add_argument(
        "--variant",
        action="append",
        metavar="STUDENT=K",
        help="give STUDENT variant K of the assignments' numbers (repeatable; kept in "
        "their variants.json; the student sees it once they fetch the release again)",
    )


def _collect_parser(add):
    p = add(
        "collect",
        "import submissions (a folder <student>/<notebook>.ipynb or an LMS zip) into submitted/",
        r"""
        backprop-grade collect 01-chain-rule downloads/01/         # <student>/<nb>.ipynb
        backprop-grade collect 01-chain-rule submissions.zip       # Canvas, Moodle, ...
        backprop-grade collect 01-chain-rule canvas.zip --roster roster.csv --tz Europe/Berlin
        backprop-grade collect 01-chain-rule odd.zip \
            --pattern '^(?P<student>[^_/]+)_\d+_(?P<notebook>.+)\.ipynb$'
        """,
        cmd_collect,
    )
    p.add_argument("assignment", metavar="ASSIGNMENT")
    p.add_argument("path", metavar="PATH", help="a folder or a .zip file")
    p.add_argument(
        "--layout",
        choices=["folders", "canvas", "moodle", "blackboard", "gradescope"],
        help="the download's layout (default: recognised from the file names)",
    )
    p.add_argument(
        "--pattern",
        help="regex for file names with groups 'student' and optionally 'notebook'",
    )
    p.add_argument(
        "--tz", help="IANA time zone of zip times, e.g. Europe/Berlin (default: the machine's)"
    )
    p.add_argument("--roster", help="roster CSV (id, name, email, sis_id, section, lms_id)")


def _grade_parser(add):
    p = add(
        "grade",
        "autograde submissions in parallel, each kernel in a bubblewrap sandbox, the test "
        "cells run by the grader; results go to the nbgrader gradebook",
        """
        backprop-grade grade 01-chain-rule                  # all cores, skip graded
        backprop-grade grade 01-chain-rule --student s01 --force
        backprop-grade grade 05-training --timeout 120 --memory 4096 --jobs 8
        backprop-grade grade 01-chain-rule --scheduler tcp://10.0.0.5:8786   # dask cluster
        """,
        cmd_grade,
    )
    p.add_argument("assignment", metavar="ASSIGNMENT")
    p.add_argument("--student", action="append", help="only this student (repeatable)")
    p.add_argument("--jobs", "-j", type=int, help="parallel kernels (default: all cores)")
    p.add_argument("--timeout", type=int, help="per-cell limit in s (default: the config's)")
    p.add_argument(
        "--notebook-timeout", type=float, help="whole-notebook limit in s (default: 5 x cell)"
    )
    p.add_argument("--memory", type=int, default=limits.MEMORY_MB, help="memory per kernel in MB")
    p.add_argument("--force", action="store_true", help="regrade already graded submissions")
    p.add_argument("--scheduler", help="dask.distributed scheduler address")
    p.add_argument(
        "--no-sandbox",
        action="store_true",
        help="run kernels without bubblewrap (student code then runs with your uid and can "
        "read and change your files; the summary, CSV and report say so)",
    )
    p.add_argument(
        "--cold-start",
        action="store_true",
        help="start every kernel from scratch under bubblewrap instead of forking it from "
        "the worker's warm template (same sandbox, slower: for comparison)",
    )
    p.add_argument("--strict", action="store_true", help="exit with status 3 on any failure")


def _feedback_parser(add):
    p = add(
        "feedback",
        "per-student HTML feedback: points and diagnosis per test, hidden tests never shown",
        """
        backprop-grade feedback 01-chain-rule
        backprop-grade feedback 01-chain-rule --student s01
        """,
        cmd_feedback,
    )
    p.add_argument("assignment", metavar="ASSIGNMENT")
    p.add_argument("--student", action="append")


def _export_parser(add):
    p = add(
        "export",
        "grades as CSV for the instructor or an LMS gradebook import (raw score, late "
        "penalty, final score)",
        """
        backprop-grade export                       # every assignment -> grades.csv
        backprop-grade export 01-chain-rule -o 01.csv
        backprop-grade export --format canvas --roster roster.csv -o canvas.csv
        backprop-grade export --format moodle --roster roster.csv --moodle-id email
        backprop-grade export --format canvas --roster r.csv --canvas-assignment 01-chain-rule=4711
        backprop-grade export --format long         # one row per student and question
        """,
        cmd_export,
    )
    p.add_argument("assignment", nargs="?", metavar="ASSIGNMENT")
    p.add_argument("-o", "--output", help="CSV file (default: <root>/grades[-FORMAT].csv)")
    p.add_argument(
        "--format",
        choices=["summary", "wide", "long", "canvas", "moodle"],
        default="summary",
        help="summary: a row per student and assignment; wide: a row per student; "
        "long: a row per student and question; canvas / moodle: their gradebook imports",
    )
    p.add_argument(
        "--roster",
        help="roster CSV (id, name, email, sis_id, sis_login, username, lms_id, section)",
    )
    p.add_argument(
        "--moodle-id",
        choices=["idnumber", "email", "username"],
        default="idnumber",
        help="moodle: the identifier column, mapped in Moodle to the user field of that name "
        "(idnumber: the roster's sis_id); students without one are left out and listed",
    )
    p.add_argument(
        "--canvas-assignment",
        action="append",
        metavar="NAME=ID",
        help="canvas: the Canvas id of an assignment, so its column updates that assignment",
    )


def _report_parser(add):
    p = add(
        "report",
        "HTML report: score distributions, hard questions, frequent bugs, run times, failures",
        """
        backprop-grade report                       # all assignments -> reports/report.html
        backprop-grade report 03-softmax-layer -o softmax.html
        """,
        cmd_report,
    )
    p.add_argument("assignment", nargs="?", metavar="ASSIGNMENT")
    p.add_argument("-o", "--output", help="HTML file (default: <root>/reports/report.html)")


def _similarity_parser(add):
    p = add(
        "similarity",
        "rank pairs of submissions by how alike their answer cells are (names, comments, "
        "layout, release text and solution set aside); a CSV, never a score",
        """
        backprop-grade similarity 01-chain-rule     # -> reports/similarity-01-chain-rule.csv
        backprop-grade similarity 03-softmax-layer --out pairs.csv
        """,
        cmd_similarity,
    )
    p.add_argument("assignment", metavar="ASSIGNMENT")
    p.add_argument("--out", "-o", help="CSV file (default: <root>/reports/similarity-<A>.csv)")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="backprop-grade",
        description=__doc__.replace("`", ""),  # plain text in a terminal
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_examples(
            """
            backprop-grade release                         # notebooks/ from solutions/
            backprop-grade collect 01-chain-rule canvas.zip
            backprop-grade grade 01-chain-rule --jobs 2
            backprop-grade feedback 01-chain-rule
            backprop-grade export -o grades.csv
            backprop-grade report
            backprop-grade similarity 01-chain-rule
            """
        ),
    )
    parser.add_argument(
        "--root",
        help="course root (default: . or the nearest folder above with nbgrader_config.py)",
    )
    parser.add_argument("--db", help="gradebook URL (default: sqlite:///<root>/gradebook.db)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name, help_, examples, func):
        p = sub.add_parser(
            name,
            help=help_,
            description=help_,
            epilog=_examples(examples),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.set_defaults(func=func)
        return p

    _release_parser(add)
    _collect_parser(add)
    _grade_parser(add)
    _feedback_parser(add)
    _export_parser(add)
    _report_parser(add)
    _similarity_parser(add)
    from .hub import add_parser as hub_parser

    hub_parser(sub, add)
    return parser


def _utf8_everywhere(argv):
    """Under a C/POSIX locale with UTF-8 mode off, re-run in UTF-8 mode (names of
    students and files are UTF-8); console output never fails on a character."""
    import codecs

    if argv is None and not sys.flags.utf8_mode:
        if codecs.lookup(sys.getfilesystemencoding()).name == "ascii":
            os.execv(
                sys.executable, [sys.executable, "-X", "utf8", "-m", "autograder", *sys.argv[1:]]
            )
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def _exit_on_terminate():
    """SIGTERM ends the command like an interrupt: its temporary folders are removed."""
    import signal

    def terminate(signum, frame):
        raise SystemExit(128 + signum)

    with contextlib.suppress(ValueError):  # not the main thread (a test calling main)
        signal.signal(signal.SIGTERM, terminate)


def main(argv=None):
    _utf8_everywhere(argv)
    _exit_on_terminate()
    args = build_parser().parse_args(argv)
    os.environ.setdefault("PYTHONWARNINGS", "ignore::DeprecationWarning")
    from .course_config import CourseNotFound

    try:
        return args.func(args)
    except CourseNotFound as exc:
        print(f"backprop-grade: {exc}", file=sys.stderr)
        return 2
