"""course.grading: the one call layer between checks and student code."""

import logging
import sys
import time

import numpy as np
import pytest

from course import grading
from course.grading import GradingFailure, StudentError, call, call_each, call_timed


def test_call_returns_and_student_errors_become_failures():
    assert call(lambda x: 2 * x, 3) == 6

    def broken(x):
        y = x + 1
        return y / np.array([])[0]  # IndexError on this line

    with pytest.raises(GradingFailure) as err:
        call(broken, 1.0, what="broken")
    text = str(err.value)
    assert text.startswith("broken raised IndexError")
    assert "return y / np.array([])[0]" in text and "in broken" in text
    assert "Traceback" not in text and "in run" not in text  # no library frame
    assert err.value.student_error.type_name == "IndexError"


def test_not_implemented_is_said_plainly():
    def blank():
        raise NotImplementedError()

    with pytest.raises(GradingFailure, match="not implemented yet"):
        call(blank, what="forward")


def test_describe_names_the_cell_line_and_code():
    err = StudentError(
        "ValueError", "shapes (2,3) (4,)", [("In [7]", 6, "forward", "  z = W @ a  ")]
    )
    text = err.describe("forward")
    assert (
        text
        == "forward raised ValueError: shapes (2,3) (4,)\n  at line 6 of In [7], in forward:\n      z = W @ a"
    )


def test_stderr_of_student_code_is_captured_and_shown_on_stdout(capsys):
    """A correct answer that prints to stderr, logs a warning or draws a progress bar must
    not write to the notebook's stderr: nbgrader would score the test cell 0."""
    handler = logging.StreamHandler(sys.stderr)  # as logging.basicConfig() would set up
    logging.getLogger().addHandler(handler)
    try:

        def noisy(x):
            print("progress 50%", file=sys.stderr)
            logging.getLogger("student").warning("almost there")
            sys.stderr.write("\r[=====     ]")
            return x + 1

        assert call(noisy, 1) == 2
    finally:
        logging.getLogger().removeHandler(handler)
    out, err = capsys.readouterr()
    assert err == ""
    assert "progress 50%" in out and "almost there" in out and "[=====" in out


def test_warnings_of_student_code_are_silenced(capsys):
    def overflow(x):
        return np.exp(np.array([1000.0])) * x

    call(overflow, 1.0)
    assert capsys.readouterr().err == ""


def test_call_each_echoes_once_per_batch(capsys):
    def chatty(x):
        print("computing", x > 0)
        return x

    assert call_each(chatty, [((i,), {}) for i in range(5)]) == [0, 1, 2, 3, 4]
    out = capsys.readouterr().out
    assert out.count("computing") == 1 and "printed 4 more times" in out


def test_call_timed_measures_and_stops_an_over_budget_call():
    value, seconds = call_timed(lambda: 3, budget=1.0)
    assert value == 3 and 0 <= seconds < 1.0

    def forever():
        total = 0
        try:
            while True:
                total += 1
        except Exception:  # noqa: BLE001 - a student's blanket except must not swallow it
            return total

    start = time.perf_counter()
    with pytest.raises(grading.TimeBudgetExceeded, match="stopped after"):
        call_timed(forever, budget=0.2, what="backward")
    assert time.perf_counter() - start < 2.0


def test_check_close_calls_a_scalar_sign_error_by_its_name():
    with pytest.raises(GradingFailure, match="the sign is wrong"):
        grading.check_close("dfdy", 12.0, -12.0, reveal=False)
    with pytest.raises(GradingFailure) as err:
        grading.check_close("dfdy", 6.0, -12.0, reveal=False)
    assert "sign" not in str(err.value) and "-12" not in str(err.value)


def test_failure_renders_without_traceback():
    failure = GradingFailure("dW is wrong\nLikely bug: transposed")
    assert failure._render_traceback_() == ["✗ dW is wrong", "  Likely bug: transposed"]
