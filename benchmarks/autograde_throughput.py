"""Throughput: plain sequential `nbgrader autograde` vs `backprop-grade grade`.

Both grade the same N submissions (default 40: correct, alternative, buggy, blank and
half-done notebooks of one assignment, made by classroom.samples) in copies of the
same course.  The script checks that every student's per-cell scores are identical in
the gradebooks, then prints, side by side in one run, the speed-up over sequential
nbgrader (its own Execute, kernels unsandboxed, tests in the kernel) of

- ``backprop-grade grade`` with kernels forked from each worker's warm template (the
  default; bubblewrap-equivalent sandbox, test cells run by the grader),
- the same with ``--cold-start`` (every kernel started from scratch under bubblewrap),
- the same with ``--no-sandbox``,

and for each where the time goes per notebook beyond the notebook's own cells: fork
(or cold start) to kernel ready, sandbox set-up, template start-up (amortised), the
trusted side, teardown, nbclient's messaging, and the parent's share per submission.

Usage::

    python benchmarks/autograde_throughput.py                 # fixture assignment, N=40
    python benchmarks/autograde_throughput.py -n 60 --jobs 2 --modes forked cold
    python benchmarks/autograde_throughput.py --assignment 04-backprop-recursion
    python benchmarks/autograde_throughput.py --class-size 200   # all seven notebooks
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder import collect, grade  # noqa: E402
from autograder.course_config import Course  # noqa: E402
from classroom import fixture, samples  # noqa: E402
from classroom.paths import REPO  # noqa: E402 - the repository this benchmark measures


def kernel_start_cost(repeats=3):
    from jupyter_client.manager import start_new_kernel

    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        km, kc = start_new_kernel(kernel_name="python3")
        kc.execute_interactive("pass", timeout=30)
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def scores(course, assignment):
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url) as gb:
        return {
            s.student.id: {g.name: g.score for nb in s.notebooks for g in nb.grades}
            for s in gb.find_assignment(assignment).submissions
        }


def make_class(base, assignment, n):
    """A course at base/<name> with n collected submissions; returns its root."""
    real = assignment != fixture.ASSIGNMENT
    root = fixture.make_course(
        base / "template", assignments=[assignment] if real else [], fixture=not real
    )
    course = Course.load(root)
    grade.generate_release(course, assignment)
    pool = base / "pool"
    samples.generate(course, pool, [assignment], seed=0, hostile=[])
    kinds = sorted(p for p in (pool / assignment).iterdir() if p.is_dir())
    inbox = base / "inbox"
    for i in range(n):
        shutil.copytree(kinds[i % len(kinds)], inbox / f"u{i:03d}-{kinds[i % len(kinds)].name}")
    rep = collect.collect(course, assignment, inbox)
    assert len(rep.students) == n, rep.lines()
    # drop generated state so both copies start from the same submitted/ files
    for d in ("notebooks", "gradebook.db"):
        p = root / d
        shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
    return root


MODES = {
    "forked": ([], "bubblewrap sandbox, kernels forked from a warm template"),
    "cold": (["--cold-start"], "bubblewrap sandbox, every kernel started cold"),
    "none": (["--no-sandbox"], "--no-sandbox"),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=40)
    ap.add_argument("--jobs", type=int, default=os.cpu_count(), help="workers (default: cores)")
    ap.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    ap.add_argument("--assignment", default=fixture.ASSIGNMENT)
    ap.add_argument(
        "--class-size",
        type=int,
        default=0,
        help="instead: a class of this many students handing in all seven notebooks, "
        "graded with the forked kernels; prints the wall time",
    )
    args = ap.parse_args()
    if args.class_size:
        return whole_class(args.class_size, args.jobs)
    env = _env()
    with tempfile.TemporaryDirectory(prefix="ag-bench-") as tmp:
        tmp = Path(tmp)
        template = make_class(tmp, args.assignment, args.n)
        seq = tmp / "seq"
        pars = {mode: tmp / f"par-{mode}" for mode in args.modes}
        for root in (seq, *pars.values()):
            shutil.copytree(template, root)
        with open(seq / "nbgrader_config.py", "a", encoding="utf-8") as f:
            # sequential nbgrader as the world runs it: its own Execute, tests in the kernel
            f.write(
                "\nfrom autograder.execution import stock_preprocessors\n"
                "c.Autograde.autograde_preprocessors = stock_preprocessors()\n"
            )
        for root in (seq, *pars.values()):
            _generate(root, args.assignment, env)
        k = kernel_start_cost()
        t0 = time.perf_counter()
        _run([sys.executable, "-m", "nbgrader", "autograde", args.assignment], seq, env)
        t_seq = time.perf_counter() - t0
        s_seq = scores(Course.load(seq), args.assignment)
        n = args.n
        print(f"{n} submissions of {args.assignment}, {os.cpu_count()} cores")
        print(f"one kernel start (jupyter_client, median of 3): {k:.2f} s")
        print(f"sequential nbgrader autograde : {t_seq:7.1f} s  ({t_seq / n:.2f} s per notebook)")
        for mode, par in pars.items():
            t0 = time.perf_counter()
            cmd = [sys.executable, "-m", "autograder", "grade", args.assignment]
            _run(cmd + ["--jobs", str(args.jobs), *MODES[mode][0]], par, env)
            t_par = time.perf_counter() - t0
            s_par = scores(Course.load(par), args.assignment)
            assert set(s_seq) == set(s_par) and len(s_seq) == n, (len(s_seq), len(s_par))
            diff = [s for s in s_seq if s_seq[s] != s_par[s]]
            assert not diff, f"scores differ for {diff[:5]}"
            _print_run(par, args.assignment, args.jobs, mode, t_par, t_seq, n, k)


def _env():
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def _run(cmd, cwd, env):
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return done.stdout


def _generate(root, assignment, env):
    """The gradebook: every copy gets it from nbgrader the same way."""
    _run([sys.executable, "-m", "nbgrader", "generate_assignment", assignment], root, env)


def _records(par, assignment):
    return [
        json.loads(p.read_text()) for p in (par / "grading-records" / assignment).glob("*.json")
    ]


def _mean(values):
    values = list(values)
    return statistics.mean(values) if values else 0.0


def _print_run(par, assignment, jobs, mode, t_par, t_seq, n, k):
    records = _records(par, assignment)
    nbs = [nb for r in records for nb in r["notebooks"].values()]
    timing = [nb.get("timing") or {} for nb in nbs]
    parent = _mean(r["parent_seconds"] for r in records)
    per_nb = {key: _mean(t.get(key, 0.0) for t in timing) for key in TIMING}
    beyond = sum(v for key, v in per_nb.items() if key != "cells") + parent / max(
        1, len(nbs) / max(1, len(records))
    )
    starts = sorted({nb.get("kernel_start", "") for nb in nbs})
    print(f"\nbackprop-grade grade --jobs {jobs} ({MODES[mode][1]})")
    print(f"  kernels   : {'; '.join(starts)}")
    print("  scores identical to sequential nbgrader: yes (every student, every cell)")
    print(f"  wall time : {t_par:7.1f} s  ({t_par / n:.3f} s per notebook)")
    print(f"  speed-up  : {t_seq / t_par:7.2f} x sequential nbgrader")
    print(
        f"  per notebook, beyond the notebook's own cells ({per_nb['cells']:.3f} s): "
        f"{beyond:.3f} s ="
    )
    for key, label in TIMING.items():
        if key != "cells":
            print(f"    {label:<38} {per_nb[key]:.3f} s")
    print(f"    {'the parent (sanitize, record)':<38} {parent:.3f} s per submission")
    print(
        f"  round trips into the kernel per notebook: {_mean(nb.get('requests', 0) for nb in nbs):.0f}"
    )


TIMING = {
    "kernel_start": "fork (or cold start) to kernel ready",
    "setup": "sandbox set-up (folder, control group)",
    "template": "template start-up (amortised)",
    "cells": "cells in the kernel",
    "trusted": "the trusted side (test cells here)",
    "teardown": "teardown (kill, control group, files)",
    "other": "nbclient messaging between cells",
}


def whole_class(size, jobs):
    """`size` students, each handing in all seven notebooks (correct, alternative, buggy,
    blank and half-done ones, from classroom.samples), graded with the forked kernels."""
    from autograder.course_config import Course as C

    env = _env()
    assignments = sorted(p.name for p in (REPO / "solutions").iterdir() if p.is_dir())
    with tempfile.TemporaryDirectory(prefix="ag-class-") as tmp:
        tmp = Path(tmp)
        root = fixture.make_course(tmp / "course", assignments=assignments, fixture=False)
        course = C.load(root)
        pool = tmp / "pool"
        for a in assignments:
            grade.generate_release(course, a)
        samples.generate(course, pool, assignments, seed=0, hostile=[])
        for a in assignments:
            kinds = sorted(p for p in (pool / a).iterdir() if p.is_dir())
            inbox = tmp / "inbox" / a
            for i in range(size):
                shutil.copytree(kinds[i % len(kinds)], inbox / f"u{i:03d}")
            collect.collect(course, a, inbox)
        total = 0.0
        print(f"a class of {size} students, {len(assignments)} notebooks each, --jobs {jobs}")
        for a in assignments:
            t0 = time.perf_counter()
            _run([sys.executable, "-m", "autograder", "grade", a, "--jobs", str(jobs)], root, env)
            dt = time.perf_counter() - t0
            total += dt
            print(f"  {a:<26} {dt:7.1f} s  ({dt / size:.2f} s per notebook)")
        print(
            f"the whole class: {total:.0f} s ({total / 60:.1f} min) for {size * len(assignments)} notebooks"
        )


if __name__ == "__main__":
    main()
