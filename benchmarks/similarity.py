"""Cost of the similarity report (autograder/similarity.py) for a class of 200.

The submissions are synthetic, from the course's own notebooks (solutions/ and the
release in notebooks/, as ``make demo`` uses them): each student is the solution, a plant
of classroom.plants (bug or alternative), the blank release or a half-done notebook,
written in their own words (locals renamed with a student prefix, one line of their own
in every answer), and a few copy another student (verbatim, renamed, reformatted).  The
script prints where the time goes (reading, fingerprinting, ranking, library) and checks
nothing about time; it does say whether the copies came first.

Usage::

    python benchmarks/similarity.py                          # 02-sigmoid-network, 200
    python benchmarks/similarity.py -n 400 --assignment 05-training
"""

from __future__ import annotations

import argparse
import re
import shutil
import tempfile
import time
from pathlib import Path

import nbformat  # noqa: E402

from autograder import similarity  # noqa: E402
from autograder.course_config import Course  # noqa: E402
from classroom import fixture, samples  # noqa: E402
from classroom.paths import REPO  # noqa: E402 - the repository this benchmark measures
from classroom.plants import plants_for  # noqa: E402


def _own_words(nb, k):
    """Student k's version: locals renamed with their own prefix, a line of their own."""
    for cell in nb.cells:
        if cell.cell_type != "code" or not samples._meta(cell).get("solution"):
            continue
        try:
            text = samples.renamed(cell.source).replace("my_", f"s{k}_")
        except (SyntaxError, ValueError):
            continue
        cell.source = re.sub(r"^(def .*:\n)", rf"\1    _note_{k} = {k} * {k + 1} + {k}\n",
                             text, count=1, flags=re.M)  # fmt: skip
    return nb


def make_class(course, assignment, n):
    """Write `n` submissions of `assignment` under course.submitted; returns the copies."""
    plants = plants_for(assignment)
    copies = {}
    for k in range(n):
        student = f"st{k:03d}"
        for name in course.notebook_names(assignment):
            release = nbformat.read(course.release / assignment / f"{name}.ipynb", as_version=4)
            source = nbformat.read(course.source / assignment / f"{name}.ipynb", as_version=4)
            kind = k % (len(plants) + 3)
            if kind == len(plants):
                nb = nbformat.from_dict(release)
            elif kind == len(plants) + 1:
                nb = samples.filled(release, source, set(samples._answer_ids(release)[:2]))
            else:
                nb = samples.filled(release, source)
                if kind < len(plants) and plants[kind].notebook == name:
                    nb = plants[kind].apply(nb)
            data = nbformat.writes(_own_words(nb, k)).encode()
            if k % 40 == 39:  # one in forty copies the student before, three ways
                how = ("copy-verbatim", "copy-renamed", "copy-reformatted")[(k // 40) % 3]
                original = course.submitted / f"st{k - 1:03d}" / assignment / f"{name}.ipynb"
                data = samples._copied(how, original.read_bytes())
                copies[student] = f"st{k - 1:03d}"
            path = course.submitted / student / assignment / f"{name}.ipynb"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    return copies


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=200, help="submissions (default 200)")
    ap.add_argument("--assignment", default="02-sigmoid-network")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-similarity-"))
    try:
        root = fixture.make_course(work / "course", [args.assignment], fixture=False)
        shutil.copytree(REPO / "notebooks" / args.assignment, root / "notebooks" / args.assignment)
        course = Course.load(root)
        t0 = time.perf_counter()
        copies = make_class(course, args.assignment, args.n)
        print(
            f"{args.n} submissions of {args.assignment} written in {time.perf_counter() - t0:.1f} s"
        )
        t = {}
        t0 = time.perf_counter()
        a = similarity.Assignment.load(course, args.assignment)
        folders = sorted(course.submitted.glob(f"*/{args.assignment}"))
        subs = [a.submission(f.parent.name, f) for f in folders]
        t["read and fingerprint the submissions"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        discount = a.discounted()
        remaining = similarity._remaining(subs, discount)
        t["discount release, solution, common"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        pairs = similarity.rank_pairs(remaining)
        t["rank the pairs"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        library = similarity.library_copies(a, subs, discount)
        t["compare with the course library"] = time.perf_counter() - t0
        for what, s in t.items():
            print(f"  {what:<40} {s:7.2f} s")
        print(f"  {'total':<40} {sum(t.values()):7.2f} s")
        cells = sum(len(s.answers) for s in subs)
        print(f"{cells} answer cells, {len(pairs)} pairs sharing a fingerprint, "
              f"{len(library)} library matches")  # fmt: skip
        top = {frozenset((p.student_a, p.student_b)) for p in pairs[: len(copies)]}
        planted = {frozenset(kv) for kv in copies.items()}
        print(
            f"the {len(planted)} planted copies are the top {len(planted)} pairs: {top == planted}"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
