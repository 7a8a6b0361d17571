"""The execution step of nbgrader's autograde, as every grading path of the course runs it.

nbgrader's ``Autograde`` converter runs a configurable list of preprocessors; in stock
nbgrader its ``Execute`` step runs the notebook, test cells included, in an ordinary
kernel, so a submission can forge its own verdict.  The course's ``nbgrader_config.py``
lists :class:`GradedExecution` in its place, and :class:`SaveTrustedGrades` in place of
``SaveAutoGrades``, so that every way of grading takes the trusted path:

- ``backprop-grade grade`` executes the notebooks in parallel workers first and hands the
  converter their outputs (:data:`EXECUTED`);
- ``nbgrader autograde`` and formgrader's Autograde button run the notebook right there,
  the same way: its kernel in a bubblewrap sandbox with the grader's limits, its test
  cells run by the grader (:func:`autograder.sandbox.execute_notebook`).

Whatever asks for the instructor's review (the checks' flags, repaired structure, a
trick the source scan recognises) marks the notebook flagged and its tests "needs manual
grade"; a regrade never clears a flag or a review it did not set.
"""

from __future__ import annotations

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor, SaveAutoGrades
from traitlets import Float, Integer, Unicode

from . import integrity, limits

#: (student, assignment, notebook) -> (executed notebook, review flags), or None when the
#: worker gave no result: what ``backprop-grade grade``'s workers produced, taken by
#: :class:`GradedExecution` (which then never executes anything itself).
EXECUTED = {}

#: (student, assignment, notebook) -> the notebook as nbgrader's sanitize steps left it
#: when ``backprop-grade grade`` prepared it (the notebook its worker ran), taken by
#: :class:`TakeSanitized`.
SANITIZED = {}

#: Default memory limit of a grading kernel, in MB.
DEFAULT_MEMORY_MB = limits.MEMORY_MB


def copy_outputs(nb, executed, key):
    """Put the outputs of `executed` (the same cells) into `nb`."""
    if len(executed.cells) != len(nb.cells):
        raise RuntimeError(f"executed notebook {key} does not match the sanitized one")
    for cell, done in zip(nb.cells, executed.cells, strict=True):
        if done.source != cell.source:
            raise RuntimeError(f"executed notebook {key} has a different cell source")
        if cell.cell_type == "code":
            cell.outputs = done.get("outputs", [])
            cell.execution_count = done.get("execution_count")
    if "language_info" in executed.metadata:
        nb.metadata["language_info"] = executed.metadata["language_info"]


class TakeSanitized(NbGraderPreprocessor):
    """nbgrader's sanitize pass for a notebook ``backprop-grade grade`` already sanitized
    with the same steps (before its worker ran it): the result of those steps, not the
    same work again.  A notebook it did not prepare is an error: the converter lists this
    step only when every notebook of the submission was prepared."""

    def preprocess(self, nb, resources):
        import copy

        info = resources["nbgrader"]
        key = (info["student"], info["assignment"], info["notebook"])
        if key not in SANITIZED:
            raise RuntimeError(f"{key} was not prepared for grading")
        return copy.deepcopy(SANITIZED[key]), resources


class GradedExecution(NbGraderPreprocessor):
    """nbgrader's Execute step, the trusted way: the kernel sandboxed, the tests the grader's.

    The per-cell time limit is nbgrader's own ``Execute.timeout``.
    """

    memory_mb = Integer(DEFAULT_MEMORY_MB, help="memory limit of the grading kernel (MB)").tag(
        config=True
    )
    notebook_timeout = Float(0.0, help="whole-notebook limit in seconds (0: 5 x the cell's)").tag(
        config=True
    )
    sandbox = Unicode("bubblewrap", help="'bubblewrap', or 'none (--no-sandbox)'").tag(config=True)

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        key = (info["student"], info["assignment"], info["notebook"])
        if key in EXECUTED:  # backprop-grade grade ran it (None: its worker gave no result)
            done = EXECUTED.pop(key)
            if done is None:
                raise RuntimeError(f"no execution result for {key}")
            executed, flags = done
        else:
            executed, flags = self._execute_now(nb, resources)
        copy_outputs(nb, executed, key)
        info["review"] = list(flags)
        return nb, resources

    def _cell_timeout(self):
        execute = self.config.get("Execute", {})
        return int(execute.get("timeout", limits.CELL_TIMEOUT) or limits.CELL_TIMEOUT)

    def _variants(self, info):
        """The submission's variants, from the instructor's table in the course's source
        folder (course.variant_tables), never from the submission's files."""
        from pathlib import Path

        from nbgrader.coursedir import CourseDirectory

        from course import variant_tables

        coursedir = CourseDirectory(config=self.config)
        folder = Path(coursedir.root) / coursedir.source_directory / info["assignment"]
        return variant_tables.for_submission(folder, info["assignment"], info["student"])

    def _execute_now(self, nb, resources):
        """Run `nb` now, as a grading worker would (one notebook, this process)."""
        from pathlib import Path

        from .sandbox import execute_notebook, require_sandbox

        require_sandbox(self.sandbox)
        cell_timeout = self._cell_timeout()
        variants = self._variants(resources["nbgrader"])
        for item in variants.values():  # SaveTrustedGrades records it in the gradebook
            resources["nbgrader"]["variant"] = item["index"]
        folder = Path(resources.get("metadata", {}).get("path") or ".")
        files = {
            str(p.relative_to(folder)): p.read_bytes()
            for p in folder.rglob("*")
            if p.is_file() and p.suffix != ".ipynb" and ".ipynb_checkpoints" not in p.parts
        }
        result = execute_notebook(
            {
                "key": [resources["nbgrader"]["student"], resources["nbgrader"]["notebook"]],
                "notebook": nbformat.writes(nb),
                "files": files,
                "cell_timeout": cell_timeout,
                "notebook_timeout": self.notebook_timeout or max(60, 5 * cell_timeout),
                "memory_mb": self.memory_mb,
                "sandbox": self.sandbox,
                "variants": variants,
            }
        )
        flags = list(result.get("flags") or [])
        flags += resources["nbgrader"].get("repairs", [])
        flags += integrity.scan_source(nb)
        if result["status"] != "ok":
            self.log.warning("%s: %s", result["status"], result["reason"])
        return nbformat.reads(result["notebook"], as_version=4), flags


class SaveTrustedGrades(SaveAutoGrades):
    """nbgrader's SaveAutoGrades, except that a review is never cleared by a regrade.

    A test cell that needed a manual grade (flagged by an earlier grading, or by the
    instructor) still does; one this run's flags (``resources["nbgrader"]["review"]``)
    ask about does too, and its notebook is marked flagged (formgrader's "Flagged?").
    """

    def preprocess(self, nb, resources):
        self._review = bool(resources["nbgrader"].get("review"))
        nb, resources = super().preprocess(nb, resources)
        info = resources["nbgrader"]
        if info.get("variant") is not None:
            from .grade import record_variant

            record_variant(info["db_url"], info["assignment"], info["student"], info["variant"])
        if self._review:
            from nbgrader.api import Gradebook

            info = resources["nbgrader"]
            with Gradebook(info["db_url"]) as gb:
                sub_nb = gb.find_submission_notebook(
                    info["notebook"], info["assignment"], info["student"]
                )
                sub_nb.flagged = True
                gb.db.commit()
        return nb, resources

    def _add_score(self, cell, resources):
        grade = self.gradebook.find_grade(
            cell.metadata["nbgrader"]["grade_id"],
            self.notebook_id,
            self.assignment_id,
            self.student_id,
        )
        kept = grade.auto_score is not None and grade.needs_manual_grade
        super()._add_score(cell, resources)
        if kept or self._review:
            grade.needs_manual_grade = True
            self.gradebook.db.commit()


def check_config(conv):
    """Raise when `conv` (an Autograde converter) would run the test cells in the kernel."""
    from nbgrader.preprocessors import Execute

    steps = list(conv.autograde_preprocessors)
    if any(p is Execute or (isinstance(p, type) and issubclass(p, Execute)) for p in steps):
        raise RuntimeError(
            "nbgrader_config.py lists nbgrader's Execute in Autograde.autograde_preprocessors: "
            "it runs the test cells in the student's kernel. List "
            "autograder.execution.GradedExecution in its place (and "
            "autograder.execution.SaveTrustedGrades in place of SaveAutoGrades), as the "
            "course's nbgrader_config.py does."
        )
    if GradedExecution not in steps:
        raise RuntimeError(
            "nbgrader_config.py does not list autograder.execution.GradedExecution in "
            "Autograde.autograde_preprocessors: see the course's nbgrader_config.py."
        )


def stock_preprocessors():
    """nbgrader's own autograde steps, as a course without this package runs them (test
    cells in the student's kernel), with the two fairness fixes of ours that nbgrader
    users add anyway: stderr of a test cell moved to stdout, a comment row on test cells.

    For comparisons only: the benchmarks' and tests' "sequential nbgrader".
    """
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute

    from .nbgrader_hooks import OpenTestComments
    from .repair import StderrToStdout

    steps = list(Autograde.autograde_preprocessors.default())
    steps.insert(steps.index(Execute) + 1, StderrToStdout)
    return [*steps, OpenTestComments]
