"""Gradient checking by central differences, with a diagnosis of what went wrong.

Tolerance policy (the one place it is written; notebooks quote it):

- float64 throughout; central differences with step ``H = 1e-5``, whose error is
  O(h²) truncation plus about 1e-11·|f| of round-off;
- an entry passes when ``|g − n| / max(|g| + |n|, FLOOR) ≤ RTOL`` with ``RTOL = 1e-5``
  and ``FLOOR = ATOL / RTOL · max(1, |f(x)|)``, ``ATOL = 1e-8``: a relative test for
  ordinary entries and an absolute one (|g − n| ≤ 1e-8 for a loss of order 1) for
  entries that are zero or nearly so, where finite differences carry only noise;
- a gradient passes when every entry passes; ``max_rel_error`` is the largest entry
  error under that measure, so ``ok`` is exactly ``max_rel_error <= RTOL``.

Bugs of the usual kinds move entries by O(1) relative amounts, five orders of magnitude
above the tolerance, so a wrong gradient cannot slip through on noise.

Two cases where central differences cannot judge an entry:

- **a kink** (relu at 0, max at a tie) within h of the point: the one-sided differences
  (f(x + h) − f(x))/h and (f(x) − f(x − h))/h disagree by more than ``KINK_GAP``
  (relative to the larger, and absolutely); any value between them (a subgradient) is
  accepted there and the entry is reported as "at a kink", never as a bug;
- **a gradient too small to diagnose**: below ``DIAGNOSIS_FLOOR · max(1, |f(x)|)`` the
  comparison floor dominates every relative error, so the verdict stands but no bug kind
  is named.

Each diagnosis is an entry ``gradcheck.<slug>`` of the bug catalogue
(:mod:`course.checks.catalogue`), filled with the numbers of the case.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .checks.catalogue import get as _bug

__all__ = [
    "ATOL",
    "DIAGNOSIS_FLOOR",
    "H",
    "KINK_GAP",
    "RTOL",
    "TOLERANCE_POLICY",
    "GradientCheck",
    "check_gradient",
    "check_gradients",
    "diagnose",
    "kink_mask",
    "numerical_gradient",
    "relative_error",
]

H = 1e-5
RTOL = 1e-5
ATOL = 1e-8
TOLERANCE_POLICY = (
    f"float64 central differences with h = {H:g}; an entry passes when "
    f"|yours − numeric| / max(|yours| + |numeric|, {ATOL:g}/{RTOL:g}·max(1, |J|)) ≤ {RTOL:g}"
)
# Diagnoses compare the student's gradient with a *model* of a bug built from the
# numerical gradient, so they allow for the numerical gradient's own error.
_DIAG_RTOL = 1e-3


#: Below this largest |gradient entry| (times max(1, |f|)) no bug kind is named: model
#: matches are then within the comparison floor, so every model would "match".
DIAGNOSIS_FLOOR = 10 * ATOL / RTOL * _DIAG_RTOL
#: One-sided slopes that differ by more than this (relative to the larger one, and
#: absolutely, times max(1, |f|)) mark a kink; a smooth f differs by h·|f''| ≈ 1e-5·|f''|.
KINK_GAP = 1e-3


def numerical_gradient(f, x, h=H):
    """Central differences (f(x + h e_i) − f(x − h e_i)) / 2h for every entry i of x.

    `x` is perturbed in place, one entry at a time, and restored afterwards, also when
    `f` raises.

    Parameters
    ----------
    f : callable
        ``f(x) -> float``, a scalar function of the array `x`.
    x : ndarray of float64
        The point; any shape.
    h : float
        Step.

    Returns
    -------
    ndarray
        Same shape as `x`.

    Raises
    ------
    TypeError
        If `x` is not a float64 array (an int array cannot hold x ± h, a float32
        one loses the difference to round-off).
    """
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        raise TypeError(
            "numerical_gradient needs x as a float64 numpy array, got "
            f"{type(x).__name__}{'' if not isinstance(x, np.ndarray) else ' of ' + str(x.dtype)}"
        )
    grad = np.zeros_like(x)
    flat = x.reshape(-1)  # a view when x is contiguous
    if not np.shares_memory(flat, x):
        raise ValueError("numerical_gradient needs a contiguous x (use np.ascontiguousarray)")
    gflat = grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        try:
            flat[i] = old + h
            f_plus = _scalar(f(x))
            flat[i] = old - h
            f_minus = _scalar(f(x))
        finally:
            flat[i] = old
        gflat[i] = (f_plus - f_minus) / (2.0 * h)
    return grad


def _scalar(value):
    arr = np.asarray(value, dtype=np.float64)
    if arr.size != 1:
        raise ValueError(f"the function must return a scalar loss, got shape {arr.shape}")
    return float(arr.reshape(()))


def _entry_errors(a, b, floor):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        err = np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), floor)
    return np.where(np.isnan(err), np.inf, err)


TINY = float(np.finfo(np.float64).tiny)


def relative_error(a, b, floor=TINY):
    """max over entries of |a − b| / max(|a| + |b|, floor).

    Parameters
    ----------
    a, b : array_like
        Same shape.
    floor : float
        Lower bound of the denominator (the default only avoids 0/0).

    Returns
    -------
    float
        In [0, 1] for finite inputs; inf if an entry is NaN or inf.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(_entry_errors(a, b, floor)))


def kink_mask(f_plus, f_minus, f0, h=H):
    """Entries where the one-sided differences disagree: a kink within h of the point.

    Parameters
    ----------
    f_plus, f_minus : array_like
        f(x + h e_i) and f(x − h e_i) for every entry i (any shape, same for both).
    f0 : float
        f(x).
    h : float

    Returns
    -------
    kinks : ndarray of bool
        Same shape as `f_plus`.
    low, high : ndarray
        The smaller and the larger one-sided slope of each entry.
    """
    f_plus = np.asarray(f_plus, dtype=np.float64)
    f_minus = np.asarray(f_minus, dtype=np.float64)
    right = (f_plus - f0) / h
    left = (f0 - f_minus) / h
    gap = np.abs(right - left)
    size = np.maximum(np.abs(right), np.abs(left))
    scale = max(1.0, abs(float(f0))) if np.isfinite(f0) else 1.0
    kinks = (gap > KINK_GAP * size) & (gap > KINK_GAP * scale) & np.isfinite(gap)
    return kinks, np.minimum(left, right), np.maximum(left, right)


def _said(slug, **values):
    """The diagnosis ``gradcheck.<slug>`` of the catalogue with its fields filled."""
    return _bug(f"gradcheck.{slug}").text(**values)


@dataclass
class GradientCheck:
    """The outcome of :func:`check_gradient`.

    Attributes
    ----------
    ok : bool
        Every entry within the tolerance policy (entries at a kink: between the
        one-sided slopes).
    max_rel_error : float
        Largest entry error of the entries not at a kink (see the module docstring);
        inf on a shape mismatch.
    worst_index : tuple of int or None
        Index of the worst entry.
    diagnosis : str or None
        The likely bug in one sentence; None when the gradient is right, or when it
        is wrong in no recognisable way.
    analytic, numeric : ndarray
        The gradient checked and the finite-difference estimate.
    tolerance : float
        The RTOL used.
    kinks : ndarray of bool or None
        Entries within h of a kink (None when they were not looked for).
    """

    ok: bool
    max_rel_error: float
    worst_index: tuple | None
    diagnosis: str | None
    analytic: np.ndarray = field(repr=False)
    numeric: np.ndarray = field(repr=False)
    tolerance: float = RTOL
    kinks: np.ndarray | None = field(default=None, repr=False)

    def kink_note(self):
        """One sentence about entries at a kink, or "" when there are none."""
        if self.kinks is None or not np.any(self.kinks):
            return ""
        where = [list(map(int, i)) for i in np.argwhere(self.kinks)[:4]]
        more = " …" if int(np.sum(self.kinks)) > 4 else ""
        return (
            f"Entries {where}{more} are at a kink (the one-sided finite differences "
            "disagree there): any value between them counts as right."
        )

    def message(self, name="the gradient", reveal=True):
        """A readable verdict, e.g. for an assertion.

        Parameters
        ----------
        name : str
            What was checked, e.g. "∂J/∂W2".
        reveal : bool
            Whether to show the expected (finite-difference) value.
        """
        if self.ok:
            text = (
                f"{name} matches finite differences (max relative error {self.max_rel_error:.1e})."
            )
            note = self.kink_note()
            return f"{text}\n{note}" if note else text
        if self.worst_index is None:
            text = f"{name} has shape {np.shape(self.analytic)}"
            if np.shape(self.numeric):
                text += f", but it must have shape {np.shape(self.numeric)}"
            text += "."
        else:
            idx = list(self.worst_index)
            yours = float(np.asarray(self.analytic)[self.worst_index])
            # one number (a partial, a scalar's grad) has no entries to point at
            where = "" if np.size(self.numeric) == 1 else f", worst at entry {idx}"
            text = f"{name} is wrong{where}: yours {yours:.6g}"
            if reveal:
                expected = float(self.numeric[self.worst_index])
                text += f", finite differences give {expected:.6g}"
            text += f" (relative error {self.max_rel_error:.1e} > {self.tolerance:g})."
        if self.diagnosis:  # a catalogue diagnosis (or the caller's suspect), one full stop
            text += f"\nLikely bug: {self.diagnosis.rstrip('.')}."
        note = self.kink_note()
        return f"{text}\n{note}" if note else text

    def __bool__(self):
        return bool(self.ok)


def check_gradient(
    f,
    x,
    grad,
    *,
    h=H,
    rtol=RTOL,
    atol=ATOL,
    activation_prime=None,
    batch_size=None,
    suspects=None,
    numeric=None,
    sides=None,
    f0=None,
    transpose_hint=None,
):
    """Compare an analytic gradient with central differences of `f` at `x`.

    Parameters
    ----------
    f : callable or None
        ``f(x) -> float``; may be None when `numeric`, `sides` and `f0` are given.
    x : ndarray of float64
        The point (perturbed in place during the check and restored).
    grad : array_like
        The analytic gradient to check; should have the shape of `x`.
    h, rtol, atol : float
        The tolerance policy (module docstring); leave the defaults.
    activation_prime, batch_size, suspects
        Help the diagnosis: f'(z) broadcastable to `x` (a missing or extra f'(z)), the
        minibatch's N (a missing or doubled 1/N), named gradients that known bugs give
        (a match names the bug).
    numeric : ndarray, optional
        A finite-difference gradient already computed (skips recomputing it).
    sides : (ndarray, ndarray), optional
        f(x + h e_i) and f(x − h e_i) already computed (for the kink test); without
        them the failing entries are re-evaluated when `f` is given.
    f0 : float, optional
        f(x) already computed.
    transpose_hint : str, optional
        The sentence for a transposed gradient, in the notebook's own layout.

    Returns
    -------
    GradientCheck
    """
    if numeric is None:
        numeric = (
            numerical_gradient(f, x, h)
            if sides is None
            else (np.asarray(sides[0]) - np.asarray(sides[1])) / (2.0 * h)
        )
    f0 = _scalar(f(x)) if f0 is None else float(f0)
    floor = atol / rtol * max(1.0, abs(f0) if np.isfinite(f0) else 1.0)
    unusable = _unusable(grad, x, numeric, rtol, transpose_hint)
    if unusable is not None:
        return unusable
    g = np.asarray(grad, dtype=np.float64)
    errors = _entry_errors(g, numeric, floor)
    kinks = None
    if np.any(errors > rtol) and (sides is not None or f is not None):
        kinks, errors = _excuse_kinks(f, x, g, errors, floor, rtol, h, f0, sides)
    worst = np.unravel_index(int(np.argmax(errors)), errors.shape) if errors.size else ()
    max_err = float(errors[worst]) if errors.size else 0.0
    ok = bool(max_err <= rtol)
    hints = {"activation_prime": activation_prime, "batch_size": batch_size}
    hints.update(suspects=suspects, transpose_hint=transpose_hint)
    diagnosis = None if ok else diagnose(g, numeric, floor=floor, entry_ok=errors <= rtol, **hints)
    return GradientCheck(
        ok, max_err, tuple(int(i) for i in worst), diagnosis, g, numeric, rtol, kinks
    )


def _unusable(grad, x, numeric, rtol, transpose_hint):
    """The GradientCheck of a gradient that is not numbers or has the wrong shape, else None."""
    if not _is_numeric(grad):
        return GradientCheck(
            False,
            np.inf,
            None,
            _said("not-array", got=type(grad).__name__, shape=np.shape(x)),
            np.asarray([]),
            numeric,
            rtol,
        )
    g = np.asarray(grad, dtype=np.float64)
    if g.shape != numeric.shape:
        return GradientCheck(
            False, np.inf, None, _shape_diagnosis(g, numeric, transpose_hint), g, numeric, rtol
        )
    return None


def _excuse_kinks(f, x, g, errors, floor, rtol, h, f0, sides):
    """(kinks, errors with the entries at a kink whose value is a subgradient set to 0)."""
    if sides is None:
        f_plus, f_minus = np.full(x.shape, np.nan), np.full(x.shape, np.nan)
        flat = x.reshape(-1)
        for i in np.flatnonzero(errors.reshape(-1) > rtol):
            old = flat[i]
            try:
                flat[i] = old + h
                f_plus.reshape(-1)[i] = _scalar(f(x))
                flat[i] = old - h
                f_minus.reshape(-1)[i] = _scalar(f(x))
            finally:
                flat[i] = old
    else:
        f_plus, f_minus = (np.asarray(s, dtype=np.float64) for s in sides)
    kinks, low, high = kink_mask(f_plus, f_minus, f0, h)
    slack = rtol * np.maximum(np.abs(low), np.abs(high)) + rtol * floor
    between = (g >= low - slack) & (g <= high + slack)
    errors = np.where(kinks & between, 0.0, errors)
    return kinks, errors


def _is_numeric(value):
    try:
        arr = np.asarray(value)
    except Exception:  # noqa: BLE001 - anything unconvertible is simply not numeric
        return False
    return arr.dtype.kind in "biuf"


#: The course's layout (Wᵐ is (nₘ, nₘ₋₁)), for notebooks that do not pass their own.
COURSE_TRANSPOSE_HINT = _said("transposed")


def _shape_diagnosis(g, n, transpose_hint=None):
    if g.ndim == 2 and g.shape == n.T.shape:
        hint = transpose_hint or COURSE_TRANSPOSE_HINT
        return _said("transposed-shape", shape=g.shape, expected=n.shape, layout=hint)
    if g.size == n.size and n.ndim == 2 and n.shape[1] == 1:
        return _said("keepdims", shape=g.shape, expected=n.shape)
    if n.ndim == 2 and n.shape[1] == 1 and g.ndim >= 1 and g.shape[0] != n.shape[0]:
        return _said("axis", shape=g.shape)
    return _said("shape", shape=g.shape, expected=n.shape)


def _matches(u, v, floor):
    u = np.asarray(u, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    if u.shape != v.shape or not np.all(np.isfinite(v)):
        return False
    return bool(np.max(_entry_errors(u, v, floor), initial=0.0) <= _DIAG_RTOL)


def _fraction_name(c):
    for value, name in (
        (2.0, "2"),
        (0.5, "½"),
        (4.0, "4"),
        (0.25, "¼"),
        (-2.0, "−2"),
        (-0.5, "−½"),
    ):
        if abs(c - value) <= _DIAG_RTOL * abs(value):
            return name
    return None


def diagnose(
    g,
    n,
    *,
    floor=ATOL / RTOL,
    entry_ok=None,
    activation_prime=None,
    batch_size=None,
    suspects=None,
    transpose_hint=None,
):
    """Name the likely bug that turns the true gradient `n` into `g`, or None.

    Tried in order: non-finite values; a gradient too small to diagnose; all zero; the
    caller's `suspects`; sign; a missing or extra f'(z); transposition; a constant
    factor (2, ½, N, 1/N, other); right on some rows or columns only.

    Parameters
    ----------
    g : ndarray
        The wrong gradient (same shape as `n`).
    n : ndarray
        The finite-difference gradient.
    floor : float
        Denominator floor for comparing entries (ATOL/RTOL · max(1, |f|)).
    entry_ok : ndarray of bool, optional
        Which entries passed the check.
    activation_prime, batch_size, suspects
        As in :func:`check_gradient`.
    transpose_hint : str, optional
        The sentence for a transposed gradient in the notebook's layout.

    Returns
    -------
    str or None
    """
    g = np.asarray(g, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    if not np.all(np.isfinite(g)):
        return _said("nan")
    n_scale = float(np.max(np.abs(n), initial=0.0))
    scale = floor * RTOL / ATOL  # max(1, |f|)
    if n_scale < DIAGNOSIS_FLOOR * scale:
        return _said("tiny", largest=n_scale)
    if not np.any(np.abs(g) > floor * _DIAG_RTOL):
        return _said("zero")
    for name, model in (suspects or {}).items():
        # A tuple holds several forms of the same bug (e.g. σ' written three wrong ways).
        if any(_matches(g, m, floor) for m in (model if isinstance(model, tuple) else (model,))):
            return name
    if _matches(g, -n, floor):
        return _said("sign")
    return _fprime_sentence(g, n, floor, activation_prime) or _pattern_sentence(
        g, n, floor, entry_ok, batch_size, transpose_hint
    )


def _pattern_sentence(g, n, floor, entry_ok, batch_size, transpose_hint):
    """Transposed, a constant factor, or right on some rows or columns only; else None."""
    if n.ndim == 2 and n.shape[0] == n.shape[1] and n.shape[0] > 1 and _matches(g, n.T, floor):
        return transpose_hint or COURSE_TRANSPOSE_HINT
    denom = float(np.sum(n * n))
    if denom > 0:
        c = float(np.sum(g * n) / denom)
        if c != 0 and _matches(g, c * n, floor):
            return _scale_sentence(c, batch_size, n.size)
    if entry_ok is not None and n.ndim == 2 and n.size > 1:
        sentence = _partial_sentence(np.asarray(entry_ok, dtype=bool))
        if sentence:
            return sentence
    return _entries_sentence(g, n, floor, entry_ok)


def _entries_sentence(g, n, floor, entry_ok):
    """The wrong entries are all zero, or all of the wrong sign (the rest right)."""
    if entry_ok is None or n.size < 2:
        return None
    bad = ~np.asarray(entry_ok, dtype=bool)
    where = [list(map(int, i)) if n.ndim > 1 else int(i[0]) for i in np.argwhere(bad)[:4]]
    if not bad.any() or bad.all():
        return None
    if not np.any(np.abs(g[bad]) > floor * _DIAG_RTOL):
        return _said("entries-zero", entries=where)
    if _matches(g[bad], -n[bad], floor):
        return _said("entries-sign", entries=where)
    denom = float(np.sum(n[bad] * n[bad]))
    c = float(np.sum(g[bad] * n[bad]) / denom) if denom > 0 else 0.0
    if c != 0 and _matches(g[bad], c * n[bad], floor):
        return _said("entries-scale", entries=where, factor=c)
    return None


def _fprime_sentence(g, n, floor, activation_prime):
    if activation_prime is None:
        return None
    fp = np.broadcast_to(np.asarray(activation_prime, dtype=np.float64), n.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        missing = np.where(fp != 0, n / fp, 0.0)
    if _matches(g, missing, floor):
        return _said("fprime-missing")
    if _matches(g, n * fp, floor):
        return _said("fprime-extra")
    return None


def _scale_sentence(c, batch_size, size=2):
    if batch_size and batch_size > 1:
        N = batch_size
        if abs(c - N) <= _DIAG_RTOL * N:
            return _said("N-large", N=N)
        if abs(c - 1.0 / N) <= _DIAG_RTOL / N:
            return _said("N-small", N=N)
    name = _fraction_name(c)
    if name == "2":
        return _said("factor-2")
    if name == "½":
        return _said("factor-half")
    if name is not None:
        return _said("factor-simple", factor=name)
    # Enough digits that a factor near 1 (say 1.0001) does not print as "≈ 1".
    digits = 4 if abs(c - 1.0) >= 1e-3 else 8
    if size == 1:
        # One number is always a multiple of the right one: only the sign says more.
        if c < 0:
            return _said("wrong-sign-scale", size=f"{abs(c):.{digits}g}")
        return None
    if c < 0:
        return _said("opposite", factor=f"{c:.{digits}g}")
    return _said("factor", factor=f"{c:.{digits}g}")


def _partial_sentence(entry_ok):
    rows_ok = entry_ok.all(axis=1)
    cols_ok = entry_ok.all(axis=0)
    if rows_ok.any() and not rows_ok.all():
        return _said("rows", rows=np.flatnonzero(~rows_ok).tolist())
    if cols_ok.any() and not cols_ok.all():
        return _said("columns", columns=np.flatnonzero(~cols_ok).tolist())
    return None


def check_gradients(loss, params, grads, names=None, **kwargs):
    """Check several parameters' gradients of ``loss(params)``, one result per name.

    Each parameter is perturbed in a private copy of `params`, so the caller's arrays
    are never touched.

    Parameters
    ----------
    loss : callable
        ``loss(params) -> float``.
    params : dict of str to ndarray
    grads : dict of str to array_like
        Analytic gradients keyed like `params`.
    names : iterable of str, optional
        Which parameters to check (default: all of `params`).
    **kwargs
        Passed to :func:`check_gradient`; `suspects` may be a dict of name to dict.

    Returns
    -------
    dict of str to GradientCheck
    """
    results = {}
    suspects = kwargs.pop("suspects", None) or {}
    for name in names if names is not None else list(params):
        work = {k: np.array(v, dtype=np.float64, order="C") for k, v in params.items()}

        def f(x, name=name, work=work):
            work[name] = x
            return loss(work)

        x = work[name]
        if name not in grads:
            results[name] = GradientCheck(
                False,
                np.inf,
                None,
                _said("no-gradient", name=name),
                np.asarray([]),
                numerical_gradient(f, x),
                kwargs.get("rtol", RTOL),
            )
            continue
        results[name] = check_gradient(f, x, grads[name], suspects=suspects.get(name), **kwargs)
    return results
