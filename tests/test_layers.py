"""course.layers: dense and dropout forward/backward pairs."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course.gradcheck import check_gradient
from course.layers import dense_backward, dense_forward, dropout_backward, dropout_forward


def _assert_gradient(f, x, grad):
    result = check_gradient(f, x, grad)
    assert result.ok, result.message()


@pytest.mark.parametrize("n_prev,n,N", [(1, 1, 1), (3, 2, 5), (4, 6, 1), (7, 3, 8)])
def test_dense_backward_matches_finite_differences(n_prev, n, N):
    rng = np.random.default_rng(n_prev * 100 + n * 10 + N)
    a_prev = rng.normal(size=(n_prev, N))
    W = rng.normal(size=(n, n_prev))
    b = rng.normal(size=(n, 1))
    # A scalar J = Σ G ∘ z with a random G, so that ∂J/∂z = G.
    G = rng.normal(size=(n, N))
    z, cache = dense_forward(a_prev, W, b)
    np.testing.assert_allclose(z, W @ a_prev + b, rtol=1e-15)
    da_prev, dW, db = dense_backward(G, cache)
    assert (da_prev.shape, dW.shape, db.shape) == (a_prev.shape, W.shape, b.shape)
    _assert_gradient(lambda x: np.sum(G * dense_forward(x, W, b)[0]), a_prev, da_prev)
    _assert_gradient(lambda x: np.sum(G * dense_forward(a_prev, x, b)[0]), W, dW)
    _assert_gradient(lambda x: np.sum(G * dense_forward(a_prev, W, x)[0]), b, db)


def test_dense_known_values():
    a_prev = np.array([[1.0, 2.0], [3.0, 4.0]])
    W = np.array([[1.0, -1.0]])
    b = np.array([[0.5]])
    z, cache = dense_forward(a_prev, W, b)
    np.testing.assert_array_equal(z, [[-1.5, -1.5]])
    da_prev, dW, db = dense_backward(np.array([[1.0, 2.0]]), cache)
    np.testing.assert_array_equal(dW, [[5.0, 11.0]])  # Σ_n δ_n a_n
    np.testing.assert_array_equal(db, [[3.0]])
    np.testing.assert_array_equal(da_prev, [[1.0, 2.0], [-1.0, -2.0]])


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_backward_matches_finite_differences_with_fixed_mask(p):
    rng = np.random.default_rng(1)
    a = rng.normal(size=(5, 6))
    G = rng.normal(size=(5, 6))
    out, mask = dropout_forward(a, p, np.random.default_rng(2))
    # With the mask held fixed the layer is linear: out = a ∘ mask.
    np.testing.assert_array_equal(out, a * mask)
    _assert_gradient(
        lambda x: np.sum(G * dropout_forward(x, p, mask=mask)[0]), a, dropout_backward(G, mask)
    )


def test_dropout_mask_values_and_rate():
    p = 0.25
    a = np.ones((200, 500))
    out, mask = dropout_forward(a, p, np.random.default_rng(3))
    assert set(np.unique(mask)) == {0.0, 1.0 / (1.0 - p)}
    assert np.mean(mask == 0) == pytest.approx(p, abs=0.005)


def test_inverted_dropout_keeps_the_expectation():
    # E[mask] = (1 − p) · 1/(1 − p) = 1: averaged over many masks, the output is a.
    p = 0.4
    rng = np.random.default_rng(4)
    a = rng.normal(size=(3, 4))
    outs = [dropout_forward(a, p, rng)[0] for _ in range(20000)]
    np.testing.assert_allclose(np.mean(outs, axis=0), a, atol=0.04)
    masks = [dropout_forward(a, p, rng)[1] for _ in range(20000)]
    assert np.mean(masks) == pytest.approx(1.0, abs=0.01)


def test_p_zero_is_the_identity():
    a = np.random.default_rng(5).normal(size=(3, 4))
    out, mask = dropout_forward(a, 0.0)  # no rng needed
    np.testing.assert_array_equal(out, a)
    np.testing.assert_array_equal(mask, np.ones_like(a))
    np.testing.assert_array_equal(dropout_backward(a, mask), a)


def test_mask_reuse_reproduces_the_forward():
    rng = np.random.default_rng(6)
    a = rng.normal(size=(4, 5))
    out, mask = dropout_forward(a, 0.5, np.random.default_rng(7))
    out2, mask2 = dropout_forward(a, 0.5, mask=mask)
    assert mask2 is mask
    np.testing.assert_array_equal(out2, out)
    # The same seed gives the same mask; another seed (almost surely) another one.
    assert np.array_equal(dropout_forward(a, 0.5, np.random.default_rng(7))[1], mask)
    assert not np.array_equal(dropout_forward(a, 0.5, np.random.default_rng(8))[1], mask)


def test_dropout_errors():
    a = np.ones((2, 3))
    with pytest.raises(ValueError, match="0 <= p < 1"):
        dropout_forward(a, 1.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="0 <= p < 1"):
        dropout_forward(a, -0.1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="rng"):
        dropout_forward(a, 0.5)
    with pytest.raises(ValueError, match="mask has shape"):
        dropout_forward(a, 0.5, mask=np.ones((3, 2)))


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 8), st.integers(1, 8), st.integers(1, 8), st.integers(0, 2**32 - 1))
def test_dense_shapes(n_prev, n, N, seed):
    rng = np.random.default_rng(seed)
    a_prev, W, b = rng.normal(size=(n_prev, N)), rng.normal(size=(n, n_prev)), np.zeros((n, 1))
    z, cache = dense_forward(a_prev, W, b)
    assert z.shape == (n, N)
    da_prev, dW, db = dense_backward(np.ones_like(z), cache)
    assert (da_prev.shape, dW.shape, db.shape) == ((n_prev, N), (n, n_prev), (n, 1))
    # With δ = 1 the bias gradient counts the examples.
    np.testing.assert_array_equal(db, np.full((n, 1), float(N)))
