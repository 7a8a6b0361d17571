"""course.losses: values, gradients against finite differences, stability, the one 1/N."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from course import losses
from course.gradcheck import check_gradient
from course.losses import (
    LOSS_GRADIENTS,
    LOSSES,
    batch_mean,
    cross_entropy,
    l2_penalty,
    log_softmax,
    softmax,
    softmax_cross_entropy,
    square_loss,
)


def _assert_gradient(f, x, grad):
    # The course's own tolerance policy: relative for ordinary entries, absolute for
    # entries near zero, where finite differences carry only round-off.
    result = check_gradient(f, x, grad)
    assert result.ok, result.message()
    assert result.max_rel_error < 1e-6


def _one_hot(K, N, seed):
    labels = np.random.default_rng(seed).integers(0, K, N)
    return np.eye(K)[:, labels]


@pytest.mark.parametrize("K,N", [(1, 1), (3, 5), (10, 32)])
def test_square_loss_value_and_gradient(K, N):
    rng = np.random.default_rng(K * N)
    a, y = rng.normal(size=(K, N)), rng.normal(size=(K, N))
    J, dJ = square_loss(a, y)
    # J = (1/N) Σ_n ½‖a_n − y_n‖², written out column by column.
    expected = np.mean([0.5 * np.sum((a[:, n] - y[:, n]) ** 2) for n in range(N)])
    assert J == pytest.approx(expected, rel=1e-14)
    np.testing.assert_allclose(dJ, (a - y) / N, rtol=1e-15)
    _assert_gradient(lambda x: square_loss(x, y)[0], a, dJ)


@pytest.mark.parametrize("K,N", [(2, 1), (3, 5), (10, 32)])
def test_softmax_cross_entropy_fused_gradient(K, N):
    rng = np.random.default_rng(K + N)
    z, y = rng.normal(0, 3, size=(K, N)), _one_hot(K, N, seed=N)
    J, dJ = softmax_cross_entropy(z, y)
    # The fused gradient (ŷ − y)/N: the softmax Jacobian times −y/ŷ collapses to it.
    np.testing.assert_allclose(dJ, (softmax(z) - y) / N, rtol=1e-12, atol=1e-17)
    assert J == pytest.approx(cross_entropy(softmax(z), y), rel=1e-12)
    _assert_gradient(lambda x: softmax_cross_entropy(x, y)[0], z, dJ)


def test_softmax_cross_entropy_soft_targets_gradient():
    rng = np.random.default_rng(3)
    z = rng.normal(size=(4, 6))
    y = rng.random((4, 6))
    y /= y.sum(axis=0)  # columns sum to 1: still (ŷ − y)/N
    _, dJ = softmax_cross_entropy(z, y)
    _assert_gradient(lambda x: softmax_cross_entropy(x, y)[0], z, dJ)


def test_softmax_cross_entropy_known_value():
    # Uniform logits over K classes: J = log K, whatever the target.
    J, dJ = softmax_cross_entropy(np.zeros((4, 2)), _one_hot(4, 2, seed=0))
    assert J == pytest.approx(np.log(4.0), rel=1e-15)
    np.testing.assert_allclose(dJ.sum(axis=0), 0.0, atol=1e-16)


def test_log_softmax_gradient_and_values():
    rng = np.random.default_rng(4)
    z = rng.normal(size=(5, 3))
    np.testing.assert_allclose(np.exp(log_softmax(z)), softmax(z), rtol=1e-14)
    np.testing.assert_allclose(
        softmax(z), np.exp(z) / np.exp(z).sum(axis=0, keepdims=True), rtol=1e-14
    )
    # Gradient of Σ_k w_k log ŷ_k for the first column, checked numerically: w − ŷ Σw.
    w = rng.normal(size=5)
    expected = np.zeros_like(z)
    expected[:, 0] = w - softmax(z)[:, 0] * w.sum()
    _assert_gradient(lambda x: float(w @ log_softmax(x)[:, 0]), z, expected)


def test_softmax_and_log_softmax_stable_for_huge_logits():
    z = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, 1000.0], [999.0, 1000.0, -1000.0]])
    y = np.eye(3)
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        p = softmax(z)
        logp = log_softmax(z)
        J, dJ = softmax_cross_entropy(z, y)
    assert np.all(np.isfinite(p)) and np.all(np.isfinite(logp)) and np.all(np.isfinite(dJ))
    np.testing.assert_allclose(p.sum(axis=0), 1.0, rtol=1e-15)
    assert logp[0, 0] == pytest.approx(-np.log1p(np.exp(-1.0)), rel=1e-14)
    assert logp[1, 0] == pytest.approx(-2000.0 - np.log1p(np.exp(-1.0)), rel=1e-14)
    # Column 0 is nearly right (target logit 1000 against 999); columns 1 and 2 put
    # their target 2000 below the winning logit: 2000 nats each.
    assert J == pytest.approx((np.log1p(np.exp(-1.0)) + 4000.0) / 3, rel=1e-12)


def test_cross_entropy_zero_probabilities_without_warnings():
    y_hat = np.array([[1.0, 0.5], [0.0, 0.5]])
    y = np.array([[1.0, 1.0], [0.0, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        J = cross_entropy(y_hat, y)
    assert J == pytest.approx(np.log(2.0) / 2, rel=1e-15)
    # A zero probability on the true class costs +inf, honestly.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cross_entropy(np.array([[0.0], [1.0]]), np.array([[1.0], [0.0]])) == np.inf


def test_batch_mean_is_the_only_division_by_N(monkeypatch):
    """Doubling the batch by duplicating it keeps J and halves each column's gradient."""
    rng = np.random.default_rng(5)
    z, y = rng.normal(size=(3, 4)), _one_hot(3, 4, seed=1)
    for loss in (square_loss, softmax_cross_entropy):
        J1, g1 = loss(z, y)
        J2, g2 = loss(np.hstack([z, z]), np.hstack([y, y]))
        assert J2 == pytest.approx(J1, rel=1e-14)
        np.testing.assert_allclose(g2[:, :4], g1 / 2, rtol=1e-14)
    # With batch_mean disabled, neither J nor the gradient carries 1/N anywhere else.
    monkeypatch.setattr(losses, "batch_mean", lambda total, N: total)
    for loss in (square_loss, softmax_cross_entropy):
        J1, g1 = loss(z, y)
        J2, g2 = loss(np.hstack([z, z]), np.hstack([y, y]))
        assert J2 == pytest.approx(2 * J1, rel=1e-14)
        np.testing.assert_allclose(g2[:, :4], g1, rtol=1e-14)


def test_batch_mean_divides():
    assert batch_mean(6.0, 3) == 2.0
    np.testing.assert_array_equal(batch_mean(np.array([2.0, 4.0]), 2), [1.0, 2.0])


def test_l2_penalty_weights_only():
    rng = np.random.default_rng(6)
    params = {
        "W1": rng.normal(size=(3, 2)),
        "b1": rng.normal(size=(3, 1)),
        "W2": rng.normal(size=(1, 3)),
        "b2": rng.normal(size=(1, 1)),
    }
    lam = 0.3
    penalty, grads = l2_penalty(params, lam)
    assert set(grads) == {"W1", "W2"}
    expected = 0.5 * lam * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2))
    assert penalty == pytest.approx(expected, rel=1e-14)
    for k in ("W1", "W2"):
        _assert_gradient(
            lambda W, k=k: l2_penalty({**params, k: W}, lam)[0], params[k].copy(), grads[k]
        )
    # The biases do not move the penalty at all.
    moved = {**params, "b1": params["b1"] + 100.0, "b2": params["b2"] - 7.0}
    assert l2_penalty(moved, lam)[0] == penalty
    assert l2_penalty(params, 0.0)[0] == 0.0
    with pytest.raises(ValueError, match="≥ 0"):
        l2_penalty(params, -1.0)


def test_shape_mismatch_message():
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(2, 3\)"):
        square_loss(np.zeros((3, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="softmax_cross_entropy"):
        softmax_cross_entropy(np.zeros((3, 2)), np.zeros((3, 1)))


def test_vectors_are_one_example():
    J, dJ = square_loss(np.array([1.0, 2.0]), np.array([0.0, 0.0]))
    assert J == 2.5 and dJ.shape == (2, 1)


def test_registry():
    assert LOSSES["square"] is square_loss
    assert LOSSES["softmax_ce"] is softmax_cross_entropy


def test_inputs_not_modified():
    rng = np.random.default_rng(7)
    z, y = rng.normal(size=(3, 4)), _one_hot(3, 4, seed=2)
    z0, y0 = z.copy(), y.copy()
    for loss in (square_loss, softmax_cross_entropy):
        loss(z, y)
    softmax(z)
    log_softmax(z)
    np.testing.assert_array_equal(z, z0)
    np.testing.assert_array_equal(y, y0)


@settings(max_examples=40, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 6), st.integers(1, 6)),
        elements=st.floats(-1e4, 1e4, allow_nan=False),
    )
)
def test_softmax_columns_are_distributions(z):
    p = softmax(z)
    assert p.shape == z.shape
    assert np.all(p >= 0) and np.all(np.isfinite(p))
    np.testing.assert_allclose(p.sum(axis=0), 1.0, rtol=1e-12)
    assert np.all(log_softmax(z) <= 0)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_gradient_only_versions_are_bit_identical(name):
    rng = np.random.default_rng(8)
    z, y = rng.normal(0, 5, size=(6, 9)), _one_hot(6, 9, seed=3)
    np.testing.assert_array_equal(LOSS_GRADIENTS[name](z, y), LOSSES[name](z, y)[1])
    with pytest.raises(ValueError, match="shape"):
        LOSS_GRADIENTS[name](z, y[:, :2])
