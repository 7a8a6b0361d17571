"""Throughput: plain sequential `nbgrader autograde` vs `backprop-grade grade`.

Both grade the same N submissions (default 40: correct, alternative, buggy, blank and
half-done notebooks of one assignment, made by classroom.samples) in copies of the
same course.  The script checks that every student's per-cell scores are identical in
the gradebooks, then prints the speed-up and where the time goes per notebook:

- the cost of starting one kernel (median of a few plain jupyter_client starts),
- sequential nbgrader: wall time per notebook (kernel unsandboxed, tests in the kernel),
- backprop-grade (every kernel in bubblewrap, test cells run by the grader): wall time
  per notebook (throughput), and in the worker: kernel start-up + teardown (worker
  time minus time running cells), the trusted path (time running test cells on the
  grader's side, round trips into the kernel), and parent-side bookkeeping;
- the sandbox's cost per notebook: the same grading with ``--no-sandbox``, side by side.

Usage::

    python benchmarks/autograde_throughput.py                 # fixture assignment, N=40
    python benchmarks/autograde_throughput.py -n 60 --jobs 2
    python benchmarks/autograde_throughput.py --assignment 01-chain-rule
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

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from autograder import collect, grade  # noqa: E402
from autograder.course_config import Course  # noqa: E402
from classroom import fixture, samples  # noqa: E402


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


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=40)
    ap.add_argument(
        "--jobs",
        type=int,
        nargs="+",
        default=[os.cpu_count(), os.cpu_count() + 1],
        help="worker counts to try (default: all cores, and one more: kernel start-up "
        "waits on I/O, so one extra kernel keeps the cores busy)",
    )
    ap.add_argument("--assignment", default=fixture.ASSIGNMENT)
    args = ap.parse_args()
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    with tempfile.TemporaryDirectory(prefix="ag-bench-") as tmp:
        tmp = Path(tmp)
        template = make_class(tmp, args.assignment, args.n)
        seq = tmp / "seq"
        pars = {(j, "bwrap"): tmp / f"par{j}" for j in args.jobs}
        pars[(os.cpu_count(), "none")] = tmp / "nosandbox"
        for root in (seq, *pars.values()):
            shutil.copytree(template, root)
        with open(seq / "nbgrader_config.py", "a", encoding="utf-8") as f:
            # sequential nbgrader as the world runs it: its own Execute, tests in the kernel
            f.write(
                "\nfrom autograder.execution import stock_preprocessors\n"
                "c.Autograde.autograde_preprocessors = stock_preprocessors()\n"
            )
        for root in (seq, *pars.values()):
            # the gradebook: every copy gets it from nbgrader the same way
            subprocess.run(
                [sys.executable, "-m", "nbgrader", "generate_assignment", args.assignment],
                cwd=root,
                env=env,
                check=True,
                capture_output=True,
            )
        k = kernel_start_cost()

        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "nbgrader", "autograde", args.assignment],
            cwd=seq,
            env=env,
            check=True,
            capture_output=True,
        )
        t_seq = time.perf_counter() - t0
        s_seq = scores(Course.load(seq), args.assignment)
        n = args.n
        print(f"{n} submissions of {args.assignment}, {os.cpu_count()} cores")
        print(f"one kernel start (jupyter_client, median of 3): {k:.2f} s")
        print(f"sequential nbgrader autograde : {t_seq:7.1f} s  ({t_seq / n:.2f} s per notebook)")
        walls = {}
        for (jobs, mode), par in pars.items():
            t0 = time.perf_counter()
            extra = ["--no-sandbox"] if mode == "none" else []
            subprocess.run(
                [sys.executable, "-m", "autograder", "grade", args.assignment]
                + ["--jobs", str(jobs), *extra],
                cwd=par,
                env=env,
                check=True,
                capture_output=True,
            )
            t_par = walls[(jobs, mode)] = time.perf_counter() - t0
            s_par = scores(Course.load(par), args.assignment)
            assert set(s_seq) == set(s_par) and len(s_seq) == n, (len(s_seq), len(s_par))
            diff = [s for s in s_seq if s_seq[s] != s_par[s]]
            assert not diff, f"scores differ for {diff[:5]}"
            _print_run(par, args.assignment, jobs, mode, t_par, t_seq, n, k)
        cores = os.cpu_count()
        if (cores, "none") in walls and (cores, "bwrap") in walls:
            cost = (walls[(cores, "bwrap")] - walls[(cores, "none")]) / n * cores
            print(
                f"\nsandbox cost per notebook (bubblewrap - --no-sandbox, {cores} jobs, in "
                f"worker time): {cost:+.3f} s"
            )


def _print_run(par, assignment, jobs, mode, t_par, t_seq, n, k):
    records = [
        json.loads(p.read_text()) for p in (par / "grading-records" / assignment).glob("*.json")
    ]
    nbs = [nb for r in records for nb in r["notebooks"].values()]
    worker = [nb["seconds"] for nb in nbs]
    cells = [nb["exec_seconds"] or 0.0 for nb in nbs]
    trusted = [nb.get("trusted_seconds", 0.0) for nb in nbs]
    requests = [nb.get("requests", 0) for nb in nbs]
    parent = [r["parent_seconds"] for r in records]
    overhead = statistics.mean(w - c - t for w, c, t in zip(worker, cells, trusted, strict=True))
    label = "bubblewrap" if mode == "bwrap" else "--no-sandbox"
    print(f"\nbackprop-grade grade --jobs {jobs} ({label})")
    print("  scores identical to sequential nbgrader: yes (every student, every cell)")
    print(f"  wall time : {t_par:7.1f} s  ({t_par / n:.2f} s per notebook)")
    print(f"  speed-up  : {t_seq / t_par:7.2f} x")
    print(
        f"  per notebook in a worker: {statistics.mean(worker):.2f} s, of which running "
        f"cells in the kernel {statistics.mean(cells):.2f} s, test cells on the grader's "
        f"side {statistics.mean(trusted):.2f} s ({statistics.mean(requests):.0f} round "
        f"trips), kernel start/sandbox/teardown {overhead:.2f} s ({overhead / k:.2f} x one "
        "kernel start)"
    )
    print(
        "  parent bookkeeping per submission (sanitize + nbgrader record): "
        f"{statistics.mean(parent):.2f} s"
    )


if __name__ == "__main__":
    main()
