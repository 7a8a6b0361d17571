"""course.gradcheck: the checker is itself checked.

Every diagnosis must fire on the bug it names and stay silent on a correct gradient
(including entries that are exactly or nearly zero); planted errors as small as a
factor 1.001 must be caught (as HIPS/autograd's test_util insists).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from course import gradcheck
from course.activations import sigmoid, sigmoid_prime
from course.gradcheck import (
    ATOL,
    RTOL,
    TOLERANCE_POLICY,
    GradientCheck,
    H,
    check_gradient,
    check_gradients,
    diagnose,
    numerical_gradient,
    relative_error,
)

# ------------------------------------------------------------------ a small network
# J(W) = (1/N) Σ ½‖σ(W X) − Y‖² with known gradient; used to plant the usual bugs.


def _layer_problem(n=3, k=4, N=5, seed=0):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(n, k))
    X = rng.normal(size=(k, N))
    Y = rng.random((n, N))

    def J(W_):
        A = sigmoid(W_ @ X)
        return 0.5 * np.sum((A - Y) ** 2) / N

    Z = W @ X
    dJ_dA = (sigmoid(Z) - Y) / N
    dW = (dJ_dA * sigmoid_prime(Z)) @ X.T
    return J, W, dW, X, Y, Z


def _quadratic_problem(shape=(3, 4), seed=1):
    """J(x) = ½ xᵀ A x + bᵀ x on the flattened x, gradient A x + b (A symmetric)."""
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    B = rng.normal(size=(size, size))
    A = B + B.T
    b = rng.normal(size=size)
    x = rng.normal(size=shape)

    def J(x_):
        v = x_.reshape(-1)
        return 0.5 * v @ A @ v + b @ v

    return J, x, (A @ x.reshape(-1) + b).reshape(shape)


# ----------------------------------------------------------------- numerical_gradient


@pytest.mark.parametrize("shape", [(1,), (5,), (3, 4), (2, 3, 2)])
def test_numerical_gradient_exact_on_quadratics(shape):
    # Central differences have no truncation error on a quadratic: only round-off.
    J, x, grad = _quadratic_problem(shape)
    numeric = numerical_gradient(J, x)
    assert numeric.shape == x.shape and numeric.dtype == np.float64
    np.testing.assert_allclose(numeric, grad, rtol=1e-7, atol=1e-8)


def test_numerical_gradient_matches_known_derivatives():
    x = np.array([0.3, -1.2, 2.0])
    numeric = numerical_gradient(lambda v: np.sum(np.sin(v)), x)
    np.testing.assert_allclose(numeric, np.cos(x), rtol=1e-9)


def test_numerical_gradient_restores_x():
    J, x, _ = _quadratic_problem()
    before = x.copy()
    numerical_gradient(J, x)
    np.testing.assert_array_equal(x, before)


def test_numerical_gradient_restores_x_when_f_raises_midway():
    x = np.arange(6, dtype=np.float64).reshape(2, 3)
    before = x.copy()
    calls = []

    def f(v):
        calls.append(1)
        if len(calls) == 7:  # in the middle of entry 3, while x[1, 0] is perturbed
            raise RuntimeError("student code blew up")
        return float(np.sum(v**2))

    with pytest.raises(RuntimeError, match="blew up"):
        numerical_gradient(f, x)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize(
    "bad,what",
    [
        (np.arange(3), "int64"),
        (np.ones(3, dtype=np.float32), "float32"),
        ([1.0, 2.0], "list"),
        (1.5, "float"),
    ],
)
def test_numerical_gradient_rejects_non_float64(bad, what):
    with pytest.raises(TypeError, match=f"float64 numpy array.*{what}"):
        numerical_gradient(lambda v: 0.0, bad)


def test_numerical_gradient_rejects_non_contiguous_and_non_scalar():
    x = np.ones((3, 4)).T  # Fortran order: no flat view exists
    with pytest.raises(ValueError, match="contiguous"):
        numerical_gradient(lambda v: float(v.sum()), x)
    with pytest.raises(ValueError, match="scalar loss"):
        numerical_gradient(lambda v: v * 2, np.ones(3))


def test_numerical_gradient_accepts_numpy_scalars_and_1x1_arrays():
    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(numerical_gradient(lambda v: np.sum(v**2), x), 2 * x)
    np.testing.assert_allclose(numerical_gradient(lambda v: np.array([[v @ v]]), x), 2 * x)


@settings(max_examples=30, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 4), st.integers(1, 4)),
        elements=st.floats(-10, 10, allow_nan=False),
    )
)
def test_numerical_gradient_property_shape_and_restore(x):
    before = x.copy()
    numeric = numerical_gradient(lambda v: float(np.sum(v**2)), x)
    assert numeric.shape == x.shape
    np.testing.assert_array_equal(x, before)
    np.testing.assert_allclose(numeric, 2 * x, rtol=1e-6, atol=1e-6)


# --------------------------------------------------------------------- relative_error


def test_relative_error_definition():
    # |a − b| / max(|a| + |b|, tiny), maximum over entries.
    assert relative_error(1.0, 1.0) == 0.0
    assert relative_error(1.0, -1.0) == 1.0  # would be 2 with max(|a|, |b|) below
    assert relative_error(3.0, 1.0) == 0.5  # would be 2/3 with max(|a|, |b|)
    assert relative_error(1.0, 0.0) == 1.0
    assert relative_error(np.array([1.0, 2.0]), np.array([1.0, 2.2])) == pytest.approx(0.2 / 4.2)
    assert relative_error(np.array([[1e-20]]), np.array([[3e-20]])) == pytest.approx(0.5)


def test_relative_error_zeros_nan_and_shapes():
    assert relative_error(np.zeros((2, 2)), np.zeros((2, 2))) == 0.0
    assert relative_error(np.zeros(0), np.zeros(0)) == 0.0
    assert relative_error(np.array([1.0, np.nan]), np.array([1.0, 1.0])) == np.inf
    assert relative_error(np.array([np.inf]), np.array([1.0])) == np.inf
    # A floor turns near-zero comparisons absolute.
    assert relative_error(1e-12, 0.0, floor=1e-3) == pytest.approx(1e-9)
    with pytest.raises(ValueError, match="shapes differ"):
        relative_error(np.zeros(2), np.zeros(3))


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.float64, 5, elements=st.floats(-1e6, 1e6)),
    arrays(np.float64, 5, elements=st.floats(-1e6, 1e6)),
)
def test_relative_error_bounded_and_symmetric(a, b):
    e = relative_error(a, b)
    assert 0.0 <= e <= 1.0
    assert e == relative_error(b, a)


# ----------------------------------------------------------- check_gradient: verdicts


def test_tolerance_policy_written_once():
    assert (H, RTOL, ATOL) == (1e-5, 1e-5, 1e-8)
    for number in ("1e-05", "1e-08"):
        assert number in TOLERANCE_POLICY
    assert "float64" in TOLERANCE_POLICY


def test_correct_gradient_passes_silently():
    J, W, dW, *_ = _layer_problem()
    result = check_gradient(J, W, dW)
    assert result.ok and bool(result)
    assert result.diagnosis is None
    assert result.max_rel_error < 1e-7
    assert result.worst_index is not None and len(result.worst_index) == 2
    assert "matches finite differences" in result.message("∂J/∂W")


def test_correct_gradient_with_zero_and_tiny_partials():
    """Entries that are exactly 0 or ~1e-12 carry only round-off numerically: no false alarm."""
    rng = np.random.default_rng(2)
    c = rng.normal(size=3)

    def J(x):
        v = x.reshape(-1)
        # v[3] enters with slope 1e-12, v[4] not at all, v[5] at a flat point of v³.
        return float(0.5 * np.sum(c * v[:3] ** 2) + 1e-12 * v[3] + v[5] ** 3 + 1.0)

    x = np.array([[0.7, -1.3, 0.2], [5.0, 3.0, 0.0]])
    grad = np.array([[c[0] * 0.7, c[1] * -1.3, c[2] * 0.2], [1e-12, 0.0, 0.0]])
    result = check_gradient(J, x, grad)
    assert result.ok, result.message()
    assert result.diagnosis is None
    # Saying "0" for the tiny partial is also within the absolute part of the policy.
    grad_zeroed = grad.copy()
    grad_zeroed[1, 0] = 0.0
    assert check_gradient(J, x, grad_zeroed).ok


def test_all_zero_gradient_of_a_flat_function_passes():
    x = np.ones((2, 3))
    result = check_gradient(lambda v: 4.0, x, np.zeros_like(x))
    assert result.ok and result.diagnosis is None and result.max_rel_error == 0.0


def test_large_loss_scales_the_absolute_floor():
    # For |J| ~ 1e6, round-off in J is ~1e-10·|J|, so the absolute floor grows with |J|.
    rng = np.random.default_rng(3)
    x = rng.normal(size=4)

    def J(v):
        return 1e6 + float(np.sum(v**2)) + 1e-9 * v[0]

    assert check_gradient(J, x, 2 * x + np.array([1e-9, 0, 0, 0])).ok


@pytest.mark.parametrize("factor", [1.001, 1.0001, 0.999, 1.01])
def test_small_planted_scaling_is_caught(factor):
    J, W, dW, *_ = _layer_problem()
    result = check_gradient(J, W, factor * dW)
    assert not result.ok
    assert result.max_rel_error > RTOL
    assert "constant factor" in result.diagnosis
    assert f"{factor:g}" in result.diagnosis


def test_factor_close_to_2_is_still_called_2():
    J, W, dW, *_ = _layer_problem()
    result = check_gradient(J, W, 2.001 * dW)
    assert not result.ok and "factor 2 (twice too large)" in result.diagnosis


def test_scaling_below_the_tolerance_passes():
    J, W, dW, *_ = _layer_problem()
    assert check_gradient(J, W, (1 + 1e-7) * dW).ok


@pytest.mark.parametrize(
    "factor,batch_size,phrase",
    [
        (2.0, None, "factor 2 (twice too large)"),
        (0.5, None, "factor ½ (half the right value)"),
        (5.0, 5, "N = 5 times too large"),
        (1 / 5, 5, "N = 5 times too small"),
        (-1.0, None, "sign is flipped"),
        (-1.0, 5, "sign is flipped"),
        (4.0, None, "constant factor 4"),
        (-2.0, None, "constant factor −2"),
        (3.0, None, "constant factor ≈ 3"),
    ],
)
def test_scale_diagnoses(factor, batch_size, phrase):
    J, W, dW, X, *_ = _layer_problem()
    assert X.shape[1] == 5
    result = check_gradient(J, W, factor * dW, batch_size=batch_size)
    assert not result.ok
    assert phrase in result.diagnosis


def test_factor_N_without_batch_size_is_a_plain_factor():
    J, W, dW, *_ = _layer_problem()
    result = check_gradient(J, W, 5.0 * dW)
    assert "N =" not in result.diagnosis and "≈ 5" in result.diagnosis


def test_zero_gradient_diagnosis():
    J, W, dW, *_ = _layer_problem()
    result = check_gradient(J, W, np.zeros_like(dW))
    assert not result.ok
    assert "zero everywhere" in result.diagnosis


def test_transposed_square_gradient_diagnosis():
    J, W, dW, *_ = _layer_problem(n=4, k=4)
    assert not np.allclose(dW, dW.T)
    result = check_gradient(J, W, dW.T)
    assert not result.ok
    assert "transposed" in result.diagnosis


def test_transposed_non_square_gradient_diagnosis():
    J, W, dW, *_ = _layer_problem(n=3, k=4)
    result = check_gradient(J, W, dW.T)
    assert not result.ok and result.max_rel_error == np.inf and result.worst_index is None
    assert "transpose" in result.diagnosis and "(4, 3)" in result.diagnosis
    message = result.message("∂J/∂W")
    assert "shape (4, 3)" in message and "(3, 4)" in message


def test_bias_shape_diagnoses():
    rng = np.random.default_rng(4)
    b = rng.normal(size=(3, 1))

    def J(b_):
        return float(np.sum(b_**2))

    flat = check_gradient(J, b, 2 * b[:, 0])
    assert not flat.ok and "keepdims=True" in flat.diagnosis
    wrong_axis = check_gradient(J, b, np.ones((1, 5)))
    assert not wrong_axis.ok and "axis=1" in wrong_axis.diagnosis


def test_other_shape_mismatch():
    x = np.ones((2, 3))
    result = check_gradient(lambda v: float(v.sum()), x, np.ones((4,)))
    assert not result.ok
    assert "shape (4,)" in result.diagnosis and "(2, 3)" in result.diagnosis


@pytest.mark.parametrize("rows", [[1], [0, 2]])
def test_only_some_rows_wrong(rows):
    J, W, dW, *_ = _layer_problem(n=4, k=5)
    g = dW.copy()
    g[rows] += 1.0
    result = check_gradient(J, W, g)
    assert not result.ok
    assert f"wrong in rows {rows}" in result.diagnosis
    assert result.worst_index[0] in rows


def test_only_some_columns_wrong():
    J, W, dW, *_ = _layer_problem(n=4, k=5)
    g = dW.copy()
    g[:, 3] = 0.0  # e.g. a bias column treated as a weight
    result = check_gradient(J, W, g)
    assert not result.ok
    assert "wrong in columns [3]" in result.diagnosis


def test_missing_activation_derivative_on_delta():
    """δ = ∂J/∂z checked with the caller's f'(z): a forgotten σ'(z) is recognised."""
    _, _, _, X, Y, Z = _layer_problem()
    N = X.shape[1]
    z = Z.copy()

    def J_of_z(z_):
        return 0.5 * np.sum((sigmoid(z_) - Y) ** 2) / N

    dJ_da = (sigmoid(z) - Y) / N
    right = check_gradient(J_of_z, z, dJ_da * sigmoid_prime(z), activation_prime=sigmoid_prime(z))
    assert right.ok and right.diagnosis is None
    missing = check_gradient(J_of_z, z, dJ_da, activation_prime=sigmoid_prime(z))
    assert not missing.ok
    assert "missing the factor f'(z)" in missing.diagnosis
    extra = check_gradient(
        J_of_z, z, dJ_da * sigmoid_prime(z) ** 2, activation_prime=sigmoid_prime(z)
    )
    assert "one factor f'(z) too many" in extra.diagnosis
    # Without the activation's derivative the checker cannot tell; it does not guess.
    assert "f'(z)" not in (check_gradient(J_of_z, z, dJ_da).diagnosis or "")


def test_missing_activation_derivative_on_weights_single_example():
    # With N = 1, ∂J/∂W_ij = δ_i a_j: σ'(z_i) is one factor per row, broadcast over j.
    J, W, dW, X, Y, Z = _layer_problem(N=1)
    fp = sigmoid_prime(Z)  # (n, 1), broadcastable to W's (n, k)
    without = ((sigmoid(Z) - Y) / 1) @ X.T
    result = check_gradient(J, W, without, activation_prime=fp)
    assert not result.ok and "missing the factor f'(z)" in result.diagnosis
    assert check_gradient(J, W, dW, activation_prime=fp).diagnosis is None


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf(bad):
    J, W, dW, *_ = _layer_problem()
    g = dW.copy()
    g[1, 2] = bad
    result = check_gradient(J, W, g)
    assert not result.ok and result.max_rel_error == np.inf
    assert result.worst_index == (1, 2)
    assert "NaN or inf" in result.diagnosis


def test_not_an_array():
    J, W, *_ = _layer_problem()
    for junk in (None, "dW", {"W": 1}):
        result = check_gradient(J, W, junk)
        assert not result.ok and "not an array of numbers" in result.diagnosis


def test_suspects_name_the_bug():
    J, W, dW, X, Y, Z = _layer_problem()
    N = X.shape[1]
    # A bug no generic rule knows: (y − a) on half the units.
    planted = dW.copy()
    planted[:2] *= -1
    suspects = {"the sign of (a − y) is flipped for units 0 and 1": planted}
    result = check_gradient(J, W, planted, suspects=suspects)
    assert result.diagnosis == "the sign of (a − y) is flipped for units 0 and 1"
    # Suspects are tried first but only name a match.
    result = check_gradient(J, W, 2 * dW, suspects=suspects, batch_size=N)
    assert "factor 2" in result.diagnosis
    # A correct gradient never gets a suspect's name.
    assert check_gradient(J, W, dW, suspects={"anything": dW}).diagnosis is None


def test_unrecognised_bug_has_no_diagnosis_but_a_verdict():
    J, W, dW, *_ = _layer_problem()
    g = dW + np.random.default_rng(5).normal(size=dW.shape)
    result = check_gradient(J, W, g)
    assert not result.ok and result.diagnosis is None
    assert "is wrong, worst at entry" in result.message()


def test_message_reveal_and_entry():
    J, W, dW, *_ = _layer_problem()
    g = dW.copy()
    g[2, 1] = 7.0
    result = check_gradient(J, W, g)
    assert result.worst_index == (2, 1)
    shown = result.message("∂J/∂W2", reveal=True)
    hidden = result.message("∂J/∂W2", reveal=False)
    expected = f"{dW[2, 1]:.6g}"
    assert "∂J/∂W2" in shown and "[2, 1]" in shown and "yours 7" in shown
    assert expected in shown
    assert expected not in hidden and "finite differences give" not in hidden
    assert "Likely bug: it is right in some rows but wrong in rows [2]" in shown


def test_check_leaves_x_unchanged_and_reuses_numeric():
    J, W, dW, *_ = _layer_problem()
    W0 = W.copy()
    numeric = numerical_gradient(J, W)
    calls = []

    def counted(x):
        calls.append(1)
        return J(x)

    result = check_gradient(counted, W, dW, numeric=numeric)
    assert result.ok and len(calls) == 1  # only J(x) itself, for the floor
    np.testing.assert_array_equal(W, W0)
    assert result.numeric is numeric


def test_result_type_and_bool():
    J, W, dW, *_ = _layer_problem()
    result = check_gradient(J, W, dW)
    assert isinstance(result, GradientCheck) and result.tolerance == RTOL
    assert not bool(check_gradient(J, W, -dW))


def test_diagnose_directly():
    n = np.array([[1.0, -2.0], [3.0, 0.5]])
    assert "sign is flipped" in diagnose(-n, n)
    assert "zero everywhere" in diagnose(np.zeros_like(n), n)
    assert "transposed" in diagnose(n.T, n)
    assert "N = 4 times too large" in diagnose(4 * n, n, batch_size=4)


# ------------------------------------------------------------------- check_gradients


def test_check_gradients_on_a_dict_never_touches_the_caller():
    rng = np.random.default_rng(6)
    params = {"W1": rng.normal(size=(2, 3)), "b1": rng.normal(size=(2, 1))}
    saved = {k: v.copy() for k, v in params.items()}

    def loss(p):
        return float(np.sum(p["W1"] ** 2) + 3 * np.sum(p["b1"]))

    grads = {"W1": 2 * params["W1"], "b1": 3 * np.ones((2, 1))}
    results = check_gradients(loss, params, grads)
    assert set(results) == {"W1", "b1"} and all(r.ok for r in results.values())
    for k in params:
        np.testing.assert_array_equal(params[k], saved[k])

    bad = check_gradients(loss, params, {"W1": grads["W1"]})
    assert bad["W1"].ok and not bad["b1"].ok
    assert "no gradient was returned for 'b1'" in bad["b1"].diagnosis

    only = check_gradients(loss, params, {**grads, "b1": -grads["b1"]}, names=["b1"])
    assert list(only) == ["b1"] and "sign" in only["b1"].diagnosis

    named = check_gradients(
        loss,
        params,
        {**grads, "W1": params["W1"]},
        suspects={"W1": {"the 2 of d(w²)/dw is missing": params["W1"]}},
    )
    assert named["W1"].diagnosis == "the 2 of d(w²)/dw is missing"


def test_check_gradients_accepts_lists_float32_and_views():
    """Each parameter is checked in a private float64, contiguous copy."""
    W = np.arange(6.0).reshape(2, 3)
    params = {"W": W.T, "v": [1.0, -2.0], "u": np.array([0.5, 1.5], dtype=np.float32)}

    def loss(p):
        return float(np.sum(np.asarray(p["W"]) ** 2) + np.sum(np.asarray(p["v"]) ** 3))

    grads = {"W": 2 * W.T, "v": 3 * np.array([1.0, -2.0]) ** 2, "u": np.zeros(2)}
    results = check_gradients(loss, params, grads)
    assert all(r.ok for r in results.values()), {k: r.message(k) for k, r in results.items()}
    assert params["v"] == [1.0, -2.0] and params["u"].dtype == np.float32


# ------------------------------------------------------ the checker's own planted bugs


def test_planted_bug_in_relative_error_would_be_caught(monkeypatch):
    """If relative_error divided by max(|a|, |b|), test_relative_error_definition fails."""

    def wrong_entry_errors(a, b, floor):
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        return np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), floor)

    monkeypatch.setattr(gradcheck, "_entry_errors", wrong_entry_errors)
    with pytest.raises(AssertionError):
        test_relative_error_definition()


def test_planted_bug_in_numerical_gradient_would_be_caught(monkeypatch):
    """A forward difference is only O(h) accurate: the quadratic test notices."""

    def forward_difference(f, x, h=H):
        grad = np.zeros_like(x)
        flat, gflat = x.reshape(-1), grad.reshape(-1)
        f0 = f(x)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + h
            gflat[i] = (f(x) - f0) / h
            flat[i] = old
        return grad

    monkeypatch.setattr(gradcheck, "numerical_gradient", forward_difference)
    monkeypatch.setitem(globals(), "numerical_gradient", forward_difference)
    with pytest.raises(AssertionError):
        test_numerical_gradient_exact_on_quadratics((3, 4))
    # ... and so would check_gradient, which uses it: the forward difference's O(h)
    # error exceeds the tolerance on this problem.
    J, W, dW, *_ = _layer_problem()
    assert not gradcheck.check_gradient(J, W, dW).ok


# ------------------------------------------------------------------ kinks and tiny gradients


def test_a_kink_at_the_point_is_not_reported_as_a_bug():
    """The course's own relu network with a pre-activation exactly at 0: finite differences
    straddle the kink; the analytic gradient (relu'(0) = 0) is one of the one-sided slopes."""
    from course import network

    rng = np.random.default_rng(0)
    params = network.init_params([3, 4, 2], "he", rng)
    X = rng.normal(size=(3, 5))
    Y = np.eye(2)[:, rng.integers(0, 2, 5)]
    z1 = params["W1"] @ X + params["b1"]
    params["b1"][0, 0] -= z1[0, 2]  # unit 0 of example 2 sits exactly at relu's kink

    def loss(p):
        return network.loss_and_grads(p, X, Y, activation="relu")[0]

    _, grads, _ = network.loss_and_grads(params, X, Y, activation="relu")
    result = check_gradients(loss, params, grads)["b1"]
    assert result.ok, result.message("∂J/∂b1")
    assert result.kinks is not None and result.kinks[0, 0]
    assert "at a kink" in result.message("∂J/∂b1")
    # A value outside the one-sided slopes is still wrong there.
    bad = {**grads, "b1": grads["b1"] + 1.0}
    assert not check_gradients(loss, params, bad)["b1"].ok


def test_kink_mask_needs_a_real_jump():
    f0 = 1.0
    smooth = gradcheck.kink_mask([1.0 + 1e-5 + 1e-10], [1.0 - 1e-5 + 1e-10], f0)[0]
    kink = gradcheck.kink_mask([1.0 + 1e-5], [1.0], f0)[0]
    assert not smooth.any() and kink.all()


@pytest.mark.parametrize(
    "wrong",
    [lambda g: 3 * g, lambda g: 0 * g, lambda g: g.T, lambda g: g + 1e-7],
    ids=["x3", "zero", "transposed", "noise"],
)
def test_below_the_diagnosis_floor_no_bug_kind_is_named(wrong):
    """06's vanishing setting: every entry about 1e-8, far below the comparison floor."""
    J, W, dW, *_ = _layer_problem(n=4, k=4)
    scale = 1e-7 / np.max(np.abs(dW))
    result = check_gradient(lambda w: scale * J(w), W, wrong(scale * dW))
    assert not result.ok
    assert "too small" in result.diagnosis
    for kind in ("sign", "factor", "transposed", "zero everywhere", "rows", "columns"):
        assert kind not in result.diagnosis


@pytest.mark.parametrize("c, phrase", [(-2.8, "wrong sign"), (-1.0, "sign is flipped")])
def test_a_one_entry_gradient_with_the_wrong_sign_is_a_sign_error(c, phrase):
    x = np.array([0.7])
    result = check_gradient(lambda v: float(np.sin(v[0])), x, [c * np.cos(0.7)])
    assert phrase in result.diagnosis
    assert "direction is right" not in result.diagnosis


def test_a_one_entry_gradient_with_another_scale_is_not_called_a_direction():
    x = np.array([0.7])
    result = check_gradient(lambda v: float(np.sin(v[0])), x, [1.7 * np.cos(0.7)])
    assert not result.ok and result.diagnosis is None


def test_the_factor_2_sentence_does_not_assume_a_square_loss():
    J, W, dW, *_ = _layer_problem()
    sentence = check_gradient(J, W, 2 * dW).diagnosis
    assert "½(a − y)²" not in sentence and "factor 2" in sentence


def test_transpose_hint_in_the_notebook_s_layout():
    J, W, dW, *_ = _layer_problem(n=4, k=4)
    hint = "it looks transposed: row i is input xᵢ"
    assert check_gradient(J, W, dW.T, transpose_hint=hint).diagnosis == hint
    assert "δᵐ (aᵐ⁻¹)ᵀ" in check_gradient(J, W, dW.T).diagnosis
