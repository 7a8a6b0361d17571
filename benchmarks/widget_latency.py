"""How fast does the gradient-flow explorer answer a slider move?

Setting of issue 6: depth 30 (hidden layers), width 64, a batch of 256 digits, sigmoid.
Prints the median and 95th percentile of

(a) forward + backward + per-layer norms (``course.flow.gradient_flow``), next to a
    floor measured side by side: the same 92 matrix products alone (31 forward W a,
    30 backward Wᵀ δ, 31 weight gradients δ aᵀ), in float64.  Goal: under 10 ms.
(b) the whole callback of a depth-slider move, including the redraw of the figure
    into PNG bytes (``GradientFlowExplorer.update``).  Goal: median under 100 ms.

Measurements are interleaved (one of each per round) so that load from other processes
hits all of them alike.  Run: ``.venv/bin/python benchmarks/widget_latency.py``.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from course import flow, widgets

DEPTH, WIDTH, BATCH = 30, 64, 256


def _stats(samples):
    a = np.asarray(samples) * 1e3
    return float(np.median(a)), float(np.percentile(a, 95))


def matmul_floor(params, X, deltas):
    """The matrix products of one forward/backward pass, nothing else."""
    a = X
    acts = []
    M = len(deltas)
    for m in range(1, M + 1):
        acts.append(a)
        a = params[f"W{m}"] @ a
    for m in range(M, 1, -1):
        params[f"W{m}"].T @ deltas[m - 1]
    for m in range(1, M + 1):
        deltas[m - 1] @ acts[m - 1].T


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args(argv)

    X, Y = flow.make_batch("digits", BATCH, seed=0)
    params = flow.build_params(DEPTH, WIDTH, X.shape[0], Y.shape[0], "lecun", seed=0)
    M = DEPTH + 1
    rng = np.random.default_rng(0)
    deltas = [rng.normal(size=(params[f"W{m}"].shape[0], BATCH)) for m in range(1, M + 1)]

    explorer = widgets.GradientFlowExplorer(
        depth=DEPTH, width=WIDTH, activation="sigmoid", init="lecun", batch=BATCH
    )
    depth = explorer.controls["depth"]

    t_flow, t_floor, t_floor1, t_render, t_callback = [], [], [], [], []
    cpu_flow, cpu_callback = [], []  # CPU time of this process: less sensitive to load
    for r in range(args.rounds + 3):
        t0 = time.perf_counter()
        flow.gradient_flow(params, X, Y, "sigmoid")
        t1 = time.perf_counter()
        with flow.single_threaded_blas():
            matmul_floor(params, X, deltas)
        t2 = time.perf_counter()
        widgets.render_png(explorer.figure)
        t3 = time.perf_counter()
        c3 = time.process_time()
        depth.value = DEPTH - 1 if depth.value == DEPTH else DEPTH  # the slider callback
        t4 = time.perf_counter()
        c4 = time.process_time()
        flow.gradient_flow(params, X, Y, "sigmoid")
        c5 = time.process_time()
        # Last: a multi-threaded OpenBLAS keeps its threads spinning for a while after a
        # product, which would slow down whatever is measured next.
        t5 = time.perf_counter()
        matmul_floor(params, X, deltas)
        t6 = time.perf_counter()
        if r >= 3:  # warm-up rounds: caches, first layout
            t_flow.append(t1 - t0)
            t_floor1.append(t2 - t1)
            t_render.append(t3 - t2)
            t_callback.append(t4 - t3)
            cpu_callback.append(c4 - c3)
            cpu_flow.append(c5 - c4)
            t_floor.append(t6 - t5)

    rows = [
        ("(a) forward + backward + norms", t_flow, 10.0),
        ("    floor: the 92 matmuls, default BLAS threads", t_floor, None),
        ("    floor: the 92 matmuls, one BLAS thread", t_floor1, None),
        ("(b) whole slider callback incl. redraw", t_callback, 100.0),
        ("    of which: redraw to PNG alone", t_render, None),
    ]
    print(f"gradient-flow explorer: depth {DEPTH}, width {WIDTH}, batch {BATCH}, float64,")
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"{args.rounds} rounds, interleaved; load average {load} on {os.cpu_count()} CPUs\n")
    print(f"{'':52} {'median ms':>10} {'p95 ms':>8}  goal")
    for name, samples, goal in rows:
        med, p95 = _stats(samples)
        verdict = ""
        if goal is not None:
            verdict = f"< {goal:g} ms median: {'met' if med < goal else 'MISSED'}"
        print(f"{name:52} {med:10.2f} {p95:8.2f}  {verdict}")
    flow_med = _stats(t_flow)[0]
    print()
    print("CPU time of this process (what an idle machine would take, roughly):")
    print(f"  (a) median {_stats(cpu_flow)[0]:.2f} ms, p95 {_stats(cpu_flow)[1]:.2f} ms")
    print(f"  (b) median {_stats(cpu_callback)[0]:.2f} ms, p95 {_stats(cpu_callback)[1]:.2f} ms")
    print()
    print(f"(a) / matmul floor (default threads): {flow_med / _stats(t_floor)[0]:.2f}x")
    print(f"(a) / matmul floor (one thread):      {flow_med / _stats(t_floor1)[0]:.2f}x")
    print(f"(b) / (a): {_stats(t_callback)[0] / flow_med:.1f}x (the redraw dominates)")


if __name__ == "__main__":
    main()
