"""A cell that kills the student's kernel costs only itself.

When a student's cell ends the kernel (``sys.exit``, ``os._exit``, a segmentation fault,
the memory limit), the grading worker starts a fresh kernel, runs the student's earlier
cells again (their outputs stay as they were), skips the cell that killed it and grades
the rest (:class:`autograder.sandbox` does the restarting).  This module says what
happened, in the words the feedback page shows:

- :func:`cause` names how the kernel ended from its exit status (and the job's memory
  limit);
- :func:`crash_output` is the error output the cell that killed the kernel gets;
- :func:`note_costs` adds to it, once the notebook is done, which later tests scored
  nothing because they needed a name that cell defines.

A notebook that kills its kernel again and again is stopped by its own time limit, and
after :data:`MAX_RESTARTS` fresh kernels.
"""

from __future__ import annotations

import signal

import nbformat

#: Fresh kernels one notebook may have (then the rest of it is not run).
MAX_RESTARTS = 8
ENAME = "KernelDied"


def cause(returncode, memory_mb=None, oom=False):
    """How the kernel ended, as a phrase ("it was killed by signal 11 (SIGSEGV)")."""
    if oom:
        return f"it used more than the memory limit ({memory_mb} MB)"
    if returncode is None:
        return "it stopped"
    code = int(returncode)
    if code < 0:
        code = 128 - code
    if code > 128:
        num = code - 128
        try:
            name = signal.Signals(num).name
        except ValueError:
            name = f"signal {num}"
        what = {
            "SIGSEGV": "a segmentation fault",
            "SIGKILL": "SIGKILL",
            "SIGABRT": "an abort",
            "SIGBUS": "a bus error",
            "SIGFPE": "a floating-point exception",
        }.get(name, name)
        if name == "SIGKILL" and memory_mb:
            return f"it was killed (SIGKILL: perhaps over the memory limit of {memory_mb} MB)"
        return f"it was killed by {what} (signal {num})"
    return f"it exited with status {code} (sys.exit, os._exit or exit())"


def crash_output(what, during_test=False):
    """The error output of the cell that ended the kernel; `what` from :func:`cause`."""
    if during_test:
        text = (
            f"The kernel stopped while this test ran your code: {what}. The grader started "
            "a fresh kernel and ran your earlier cells again; the tests after this one "
            "were graded in it."
        )
    else:
        text = (
            f"This cell stopped the kernel: {what}. The grader started a fresh kernel, ran "
            "your earlier cells again and skipped this one; the rest of the notebook was "
            "graded without what this cell would have defined."
        )
    return nbformat.v4.new_output("error", ename=ENAME, evalue=text, traceback=[f"✗ {text}"])


def _points(cell):
    return float(cell.get("metadata", {}).get("nbgrader", {}).get("points", 0) or 0)


def note_costs(nb, crashes, is_test_cell):
    """Add to each crash's output which later tests failed for want of its names.

    `crashes`: list of dicts with ``index`` (the cell that ended the kernel).  A later
    test cell counts when its error is a NameError of a name the crashed cell binds."""
    from .cells import grade_id
    from .trusted import _parse, global_names

    for crash in crashes:
        index = crash["index"]
        tree = _parse(nb.cells[index].get("source", ""))
        names = global_names(tree) if tree is not None else set()
        lost = []
        for later in nb.cells[index + 1 :]:
            if later.get("cell_type") != "code" or not is_test_cell(later):
                continue
            for out in later.get("outputs", []):
                if out.get("output_type") != "error" or out.get("ename") != "NameError":
                    continue
                name = next(
                    (n for n in names if f"{n} is not defined" in out.get("evalue", "")), None
                )
                if name:
                    lost.append((grade_id(later) or "a test", _points(later), name))
                    break
        crash["cost"] = [{"test": t, "points": p, "needs": n} for t, p, n in lost]
        if not lost:
            continue
        parts = [f"{t} ({p:g} point{'s' if p != 1 else ''}, needs {n})" for t, p, n in lost]
        extra = " It cost: " + "; ".join(parts) + "."
        for out in nb.cells[index].get("outputs", []):
            if out.get("output_type") == "error" and out.get("ename") == ENAME:
                out["evalue"] += extra
                out["traceback"] = [f"✗ {out['evalue']}"]
