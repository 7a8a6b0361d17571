"""How long the solutions notebooks take to run top to bottom, against their budgets.

The issues set two budgets on this machine: notebooks 01-04 together under 30 s, and
05 + 07 together under 30 s.  Each notebook runs in a fresh kernel, as a student's
"Restart and run all" does; the cost of starting an empty kernel is measured in the
same run and reported apart, so the ratios say how much of a budget the exercises use.

    python benchmarks/notebook_times.py [--repeat 2]

Prints a table of seconds per notebook (the best of ``--repeat`` runs) and, per budget,
the total and its ratio to the budget (< 1 meets it).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import nbformat
from nbclient import NotebookClient

from autograder.course_config import prepare_environment
from classroom.paths import REPO  # noqa: E402 - the repository this benchmark measures

BUDGETS = {
    "01-04 (chain rule to the recursion)": (
        ["01-chain-rule", "02-sigmoid-network", "03-softmax-layer", "04-backprop-recursion"],
        30.0,
    ),
    "05 + 07 (training, regularisation)": (["05-training", "07-regularization"], 30.0),
}


def run_once(nb, workdir):
    t0 = time.perf_counter()
    NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        # ipykernel warns on stderr about TCP transport: noise here
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
        resources={"metadata": {"path": str(workdir)}},
    ).execute()
    return time.perf_counter() - t0


def best_time(path, repeat):
    best = float("inf")
    for _ in range(repeat):
        nb = nbformat.read(path, as_version=4)
        best = min(best, run_once(nb, path.parent))
    return best


def best_time_of_empty(repeat):
    with tempfile.TemporaryDirectory() as tmp:
        best = float("inf")
        for _ in range(max(repeat, 2)):
            best = min(best, run_once(nbformat.v4.new_notebook(), tmp))
        return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs per notebook (best kept)")
    args = parser.parse_args(argv)
    # the exercises' own numbers, not BLAS threads fighting over 2 cores
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    os.environ.pop("NBGRADER_EXECUTION", None)
    prepare_environment()  # the venv's jupyter on PATH for the kernels

    empty = best_time_of_empty(args.repeat)
    print(f"kernel start + shutdown (empty notebook): {empty:.2f} s\n")
    print(f"{'notebook':<28} {'seconds':>8} {'minus start':>12}")
    times = {}
    for d in sorted(p for p in (REPO / "solutions").iterdir() if p.is_dir()):
        for path in sorted(d.glob("*.ipynb")):
            t = best_time(path, args.repeat)
            times[d.name] = times.get(d.name, 0.0) + t
            print(f"{d.name + '/' + path.name:<28.28} {t:8.2f} {max(t - empty, 0):12.2f}")
    print()
    status = 0
    for label, (ids, budget) in BUDGETS.items():
        present = [i for i in ids if i in times]
        total = sum(times[i] for i in present)
        ratio = total / budget
        verdict = "meets it" if ratio < 1 else "OVER BUDGET"
        print(
            f"{label}: {total:.1f} s of {budget:.0f} s -> ratio {ratio:.2f} ({verdict}); "
            f"without kernel starts {max(total - empty * len(present), 0):.1f} s"
        )
        status |= ratio >= 1
    return int(status)


if __name__ == "__main__":
    sys.exit(main())
