"""Helpers for the notebooks' test cells: one readable verdict, never a traceback.

A failing check raises :class:`GradingFailure`, an ``AssertionError`` that Jupyter
shows as its message alone (``_render_traceback_``), so a student reads which
quantity, which entry, their value, the expected value and the likely bug, without
library internals around it.  nbgrader still sees an error and scores the cell 0.

Checks never write to stderr: floating-point warnings raised by student code while a
check runs are silenced (stderr output would zero the cell in nbgrader).
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np

from .gradcheck import RTOL, TOLERANCE_POLICY, check_gradient, numerical_gradient

__all__ = [
    "GradingFailure",
    "call",
    "check_close",
    "check_gradient_of",
    "check_param_gradient",
    "check_shape",
    "passed",
    "quiet",
]


class GradingFailure(AssertionError):
    """A failed check, displayed by IPython as its message without a traceback."""

    def _render_traceback_(self):
        lines = str(self).splitlines() or ["check failed"]
        return ["✗ " + lines[0], *("  " + line for line in lines[1:])]


@contextlib.contextmanager
def quiet():
    """Silence numpy floating-point warnings and Python warnings inside a check."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def passed(text):
    """Print a one-line success note (stdout, which nbgrader ignores)."""
    print("✓ " + text)


def call(fn, *args, what=None, **kwargs):
    """Call a student's function; turn its exceptions into a clear GradingFailure.

    Parameters
    ----------
    fn : callable
    *args, **kwargs
        Passed to `fn`.
    what : str, optional
        How to name the call in messages (default: ``fn.__name__``).

    Returns
    -------
    Whatever `fn` returns.
    """
    name = what or getattr(fn, "__name__", "your function")
    try:
        with quiet():
            return fn(*args, **kwargs)
    except NotImplementedError:
        raise GradingFailure(
            f"{name} is not implemented yet (it raises NotImplementedError)."
        ) from None
    except GradingFailure:
        raise
    except Exception as exc:  # noqa: BLE001 - any student error becomes a message
        raise GradingFailure(f"{name} raised {type(exc).__name__}: {exc}") from None


def _as_array(name, value):
    if value is None:
        raise GradingFailure(f"{name} is None: assign your answer (a number or an array).")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise GradingFailure(
            f"{name} must be a number or an array of numbers, got {type(value).__name__}."
        ) from None
    return arr


def check_shape(name, value, shape):
    """Fail unless `value` is numeric with exactly `shape`."""
    arr = _as_array(name, value)
    if arr.shape != tuple(shape):
        hint = ""
        if arr.ndim == 2 and arr.shape == tuple(shape)[::-1]:
            hint = " (it looks transposed)"
        elif arr.ndim == 1 and len(shape) == 2 and arr.size == int(np.prod(shape)):
            hint = " (a column vector needs two dimensions: use keepdims=True or reshape)"
        raise GradingFailure(f"{name} has shape {arr.shape}, expected {tuple(shape)}{hint}.")
    return arr


def check_close(name, yours, expected, *, rtol=1e-6, atol=1e-9, reveal=True, hint=None):
    """Fail unless `yours` equals `expected` within rtol·|expected| + atol per entry.

    Parameters
    ----------
    name : str
        What the value is, as the student knows it (e.g. "dfdy").
    yours, expected : float or array_like
    rtol, atol : float
    reveal : bool
        Show the expected value in the message (False for hand numbers and hidden tests).
    hint : str, optional
        Added to the message on failure.
    """
    expected = np.asarray(expected, dtype=np.float64)
    arr = check_shape(name, yours, expected.shape)
    with quiet():
        bad = ~(np.abs(arr - expected) <= rtol * np.abs(expected) + atol)
    if not bad.any():
        return arr
    idx = np.unravel_index(int(np.argmax(bad)), bad.shape) if bad.ndim else ()
    where = f" at entry {list(map(int, idx))}" if bad.ndim else ""
    text = f"{name} is wrong{where}: yours {float(arr[idx]):.6g}"
    text += f", expected {float(expected[idx]):.6g}." if reveal else "."
    if bad.ndim and bad.sum() > 1:
        text += f" ({int(bad.sum())} of {bad.size} entries differ.)"
    if hint:
        text += "\n" + hint
    raise GradingFailure(text)


def check_gradient_of(name, f, x, grad, *, reveal=True, **kwargs):
    """Fail unless `grad` matches central differences of the scalar function `f` at `x`.

    Parameters
    ----------
    name : str
        E.g. "∂J/∂W2".
    f : callable
        ``f(x) -> float``; typically the student's own forward pass and loss.
    x : ndarray
        The point; a float64 copy is perturbed, never the caller's array.
    grad : array_like
        The student's gradient.
    reveal : bool
        Show the finite-difference value of the worst entry.
    **kwargs
        Passed to :func:`course.gradcheck.check_gradient` (activation_prime,
        batch_size, suspects).

    Returns
    -------
    GradientCheck
    """
    x = np.array(x, dtype=np.float64)
    _as_array(name, grad)

    def safe_f(point):
        try:
            with quiet():
                return f(point)
        except NotImplementedError:
            raise GradingFailure(
                "your forward pass is not implemented yet, so the gradient "
                "cannot be checked against it."
            ) from None
        except GradingFailure:
            raise
        except Exception as exc:  # noqa: BLE001
            raise GradingFailure(f"your forward pass raised {type(exc).__name__}: {exc}") from None

    with quiet():
        numeric = numerical_gradient(safe_f, x)
        result = check_gradient(safe_f, x, grad, numeric=numeric, **kwargs)
    if not np.all(np.isfinite(numeric)):
        raise GradingFailure(
            f"finite differences of your forward pass are not finite for {name}: fix the "
            "forward pass first (overflow or log of 0?)."
        )
    if not result.ok:
        raise GradingFailure(
            result.message(name, reveal=reveal)
            + f"\n(Checked against finite differences of your own "
            f"forward pass; policy: {TOLERANCE_POLICY}.)"
        )
    return result


def check_param_gradient(name, loss_of_params, params, grads, *, key=None, reveal=True, **kwargs):
    """Check one parameter's gradient of ``loss_of_params(params)``.

    Parameters
    ----------
    name : str
        Display name, e.g. "∂J/∂W2".
    loss_of_params : callable
        ``loss_of_params(params) -> float``, built on the student's forward pass.
    params : dict of str to ndarray
        Not modified: the check perturbs a private copy.
    grads : dict of str to array_like
        The student's gradients.
    key : str, optional
        Which parameter (default: `name` itself).
    reveal : bool
    **kwargs
        Passed to :func:`course.gradcheck.check_gradient`.

    Returns
    -------
    GradientCheck
    """
    key = name if key is None else key
    if not isinstance(grads, dict):
        raise GradingFailure(
            f"the gradients must be a dict keyed like the parameters, got {type(grads).__name__}."
        )
    if key not in grads:
        raise GradingFailure(f"no gradient for {key!r}: the dict holds {sorted(grads)}.")
    work = {k: np.array(v, dtype=np.float64) for k, v in params.items()}

    def f(x):
        work[key] = x
        return loss_of_params(work)

    return check_gradient_of(name, f, work[key], grads[key], reveal=reveal, **kwargs)


#: Quoted by notebooks when they explain what "matches" means.
POLICY = TOLERANCE_POLICY
DEFAULT_RTOL = RTOL
