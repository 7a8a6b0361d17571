"""course.network: initialisation, forward values, backward against finite differences."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course import activations
from course.activations import Activation, get_activation
from course.gradcheck import check_gradients
from course.losses import LOSSES
from course.network import (
    INIT_SCHEMES,
    accuracy,
    backward,
    forward,
    init_params,
    layer_sizes_of,
    loss_and_grads,
    n_layers,
    predict,
)

ACTIVATIONS = ["sigmoid", "tanh", "relu", "identity"]
# (loss, output activation): softmax-CE takes logits, square loss any output.
HEADS = [("softmax_ce", "identity"), ("square", "sigmoid"), ("square", "identity")]
SIZES = {1: [4, 3], 2: [4, 5, 3], 3: [3, 6, 2, 4], 4: [5, 4, 3, 4, 2]}


def _problem(sizes, N, seed, scheme="xavier"):
    rng = np.random.default_rng(seed)
    params = init_params(sizes, scheme, rng)
    # Nonzero biases, so that a gradient that ignores them cannot pass by accident.
    for m in range(1, len(sizes)):
        params[f"b{m}"] = rng.normal(0.0, 0.5, size=params[f"b{m}"].shape)
    X = rng.normal(size=(sizes[0], N))
    Y = np.eye(sizes[-1])[:, rng.integers(0, sizes[-1], N)]
    return params, X, Y


def _assert_all_ok(results):
    bad = {k: r.message(k) for k, r in results.items() if not r.ok}
    assert not bad, "\n".join(bad.values())


# ----------------------------------------------------------------------- init_params


@pytest.mark.parametrize("scheme", INIT_SCHEMES)
def test_init_shapes_and_zero_biases(scheme):
    sizes = [5, 4, 3, 2]
    params = init_params(sizes, scheme, np.random.default_rng(0))
    assert list(params) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    for m in range(1, 4):
        assert params[f"W{m}"].shape == (sizes[m], sizes[m - 1])
        assert params[f"b{m}"].shape == (sizes[m], 1)
        assert params[f"W{m}"].dtype == np.float64
        np.testing.assert_array_equal(params[f"b{m}"], 0.0)
    assert layer_sizes_of(params) == sizes
    assert n_layers(params) == 3


@pytest.mark.parametrize(
    "scheme,variance",
    [
        ("xavier", lambda n_in, n_out: 2.0 / (n_in + n_out)),
        ("glorot", lambda n_in, n_out: 2.0 / (n_in + n_out)),
        ("lecun", lambda n_in, n_out: 1.0 / n_in),
        ("he", lambda n_in, n_out: 2.0 / n_in),
        ("normal", lambda n_in, n_out: 0.01**2),
    ],
)
def test_init_variances_on_large_layers(scheme, variance):
    # 300·500 = 150,000 draws: the sample variance is within ±1.2% (3 sd) of the truth.
    sizes = [500, 300, 200]
    params = init_params(sizes, scheme, np.random.default_rng(1))
    for m in (1, 2):
        W = params[f"W{m}"]
        expected = variance(sizes[m - 1], sizes[m])
        assert W.var() == pytest.approx(expected, rel=0.03)
        assert abs(W.mean()) < 0.05 * np.sqrt(expected)


def test_init_normal_and_uniform_scale():
    W = init_params([400, 300], "normal", np.random.default_rng(2), scale=0.5)["W1"]
    assert W.std() == pytest.approx(0.5, rel=0.02)
    W = init_params([400, 300], "uniform", np.random.default_rng(3), scale=0.2)["W1"]
    assert W.min() >= -0.2 and W.max() < 0.2
    assert W.min() < -0.199 and W.max() > 0.199
    # U(−r, r) has variance r²/3.
    assert W.var() == pytest.approx(0.2**2 / 3, rel=0.02)
    W = init_params([400, 300], "uniform", np.random.default_rng(3))["W1"]
    assert np.abs(W).max() <= 0.05


def test_init_zeros_and_constant_need_no_rng():
    params = init_params([3, 2, 1], "zeros")
    assert all(np.all(v == 0) for v in params.values())
    params = init_params([3, 2, 1], "constant")
    np.testing.assert_array_equal(params["W1"], np.full((2, 3), 0.5))
    params = init_params([3, 2, 1], "constant", scale=-0.25)
    np.testing.assert_array_equal(params["W2"], np.full((1, 2), -0.25))


def test_init_same_seed_same_weights_and_glorot_is_xavier():
    a = init_params([6, 5, 4], "xavier", np.random.default_rng(7))
    b = init_params([6, 5, 4], "glorot", np.random.default_rng(7))
    c = init_params([6, 5, 4], "xavier", np.random.default_rng(8))
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["W1"], c["W1"])


@pytest.mark.parametrize("scheme", ["normal", "uniform", "xavier", "glorot", "lecun", "he"])
def test_init_random_schemes_need_rng(scheme):
    with pytest.raises(ValueError, match="rng=np.random.default_rng"):
        init_params([3, 2], scheme)


def test_init_bad_arguments():
    with pytest.raises(ValueError, match="unknown init scheme 'kaiming'"):
        init_params([3, 2], "kaiming", np.random.default_rng(0))
    with pytest.raises(ValueError, match="at least two positive sizes"):
        init_params([3], "zeros")
    with pytest.raises(ValueError, match="at least two positive sizes"):
        init_params([3, 0, 2], "zeros")


def test_n_layers_reports_missing_keys():
    params = init_params([3, 2, 2], "zeros")
    del params["b2"]
    with pytest.raises(KeyError, match="b2"):
        n_layers(params)


# --------------------------------------------------------------------------- forward


def test_forward_known_values_and_caches():
    params, X, _ = _problem([3, 4, 2], N=5, seed=3)
    out, caches = forward(params, X, "tanh", "sigmoid")
    a1 = np.tanh(params["W1"] @ X + params["b1"])
    z2 = params["W2"] @ a1 + params["b2"]
    np.testing.assert_allclose(out, 1 / (1 + np.exp(-z2)), rtol=1e-14)
    assert len(caches) == 2
    assert caches[0]["a_prev"] is not None and np.array_equal(caches[0]["a_prev"], X)
    np.testing.assert_allclose(caches[1]["a_prev"], a1, rtol=1e-14)
    np.testing.assert_allclose(caches[1]["z"], z2, rtol=1e-14)
    assert caches[0]["mask"] is None and caches[1]["act"].name == "sigmoid"
    np.testing.assert_array_equal(predict(params, X, "tanh", "sigmoid"), out)


def test_forward_per_layer_activations():
    params, X, _ = _problem([3, 4, 4, 2], N=3, seed=4)
    out, caches = forward(params, X, ["relu", "tanh"], "identity")
    assert [c["act"].name for c in caches] == ["relu", "tanh", "identity"]
    a = np.maximum(params["W1"] @ X + params["b1"], 0)
    a = np.tanh(params["W2"] @ a + params["b2"])
    np.testing.assert_allclose(out, params["W3"] @ a + params["b3"], rtol=1e-14)
    with pytest.raises(ValueError, match="2 hidden activations needed, got 1"):
        forward(params, X, ["relu"])


def test_forward_rejects_badly_shaped_X():
    params = init_params([3, 2], "zeros")
    for X in (np.zeros((2, 3)), np.zeros(3), np.zeros((4, 3, 1))):
        with pytest.raises(ValueError, match=r"X must have shape \(n_0, N\) = \(3, N\)"):
            forward(params, X)


def test_forward_does_not_modify_inputs():
    params, X, Y = _problem([3, 4, 2], N=5, seed=5)
    saved = {k: v.copy() for k, v in params.items()}
    X0 = X.copy()
    loss_and_grads(params, X, Y, l2=0.1, dropout=0.3, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(X, X0)
    for k in params:
        np.testing.assert_array_equal(params[k], saved[k])


# -------------------------------------------------------------------------- backward


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("loss,output_activation", HEADS)
def test_backward_matches_finite_differences(depth, activation, loss, output_activation):
    sizes = SIZES[depth]
    params, X, Y = _problem(sizes, N=4, seed=10 * depth + len(activation))
    J, grads, _ = loss_and_grads(params, X, Y, loss, activation, output_activation)
    assert list(grads) == list(params)
    for k in params:
        assert grads[k].shape == params[k].shape

    def J_of(p):
        return loss_and_grads(p, X, Y, loss, activation, output_activation)[0]

    assert J_of(params) == J
    _assert_all_ok(check_gradients(J_of, params, grads, batch_size=X.shape[1]))


@pytest.mark.parametrize("sizes", [[1, 1], [2, 7, 1], [8, 1, 3], [3, 10, 10, 2]])
@pytest.mark.parametrize("N", [1, 3])
def test_backward_widths_and_batch_sizes(sizes, N):
    params, X, Y = _problem(sizes, N=N, seed=sum(sizes) + N)
    loss = "softmax_ce" if sizes[-1] > 1 else "square"
    _, grads, _ = loss_and_grads(params, X, Y, loss, "tanh")
    _assert_all_ok(
        check_gradients(lambda p: loss_and_grads(p, X, Y, loss, "tanh")[0], params, grads)
    )


@pytest.mark.parametrize("depth", [2, 3, 4])
@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_backward_with_dropout_fixed_masks(depth, activation):
    sizes = SIZES[depth]
    params, X, Y = _problem(sizes, N=5, seed=depth)
    p = 0.4
    # Draw the masks once (seeded), then hold them fixed so that J is a function of
    # the parameters only.
    _, grads, caches = loss_and_grads(
        params, X, Y, "softmax_ce", activation, dropout=p, rng=np.random.default_rng(9)
    )
    masks = {m: caches[m - 1]["mask"] for m in range(1, depth)}
    assert all(mask is not None for mask in masks.values()) and caches[-1]["mask"] is None
    assert any(np.any(mask == 0) for mask in masks.values())

    def J_of(q):
        return loss_and_grads(q, X, Y, "softmax_ce", activation, dropout=p, masks=masks)[0]

    _, grads_again, _ = loss_and_grads(
        params, X, Y, "softmax_ce", activation, dropout=p, masks=masks
    )
    for k in grads:
        np.testing.assert_array_equal(grads_again[k], grads[k])
    _assert_all_ok(check_gradients(J_of, params, grads))
    # Dropout did something: without it the gradient differs.
    _, plain, _ = loss_and_grads(params, X, Y, "softmax_ce", activation)
    assert not np.allclose(plain["W1"], grads["W1"])


def test_dropout_same_seed_same_gradients():
    params, X, Y = _problem([4, 5, 3], N=6, seed=0)
    g1 = loss_and_grads(params, X, Y, dropout=0.5, rng=np.random.default_rng(1))[1]
    g2 = loss_and_grads(params, X, Y, dropout=0.5, rng=np.random.default_rng(1))[1]
    for k in g1:
        np.testing.assert_array_equal(g1[k], g2[k])


@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("loss,output_activation", HEADS[:2])
def test_backward_with_l2(depth, loss, output_activation):
    sizes = SIZES[depth]
    params, X, Y = _problem(sizes, N=4, seed=20 + depth)
    lam = 0.3
    J, grads, _ = loss_and_grads(params, X, Y, loss, "sigmoid", output_activation, l2=lam)
    J0, grads0, _ = loss_and_grads(params, X, Y, loss, "sigmoid", output_activation)
    weights = sum(np.sum(params[f"W{m}"] ** 2) for m in range(1, depth + 1))
    assert J == pytest.approx(J0 + 0.5 * lam * weights, rel=1e-14)
    for m in range(1, depth + 1):
        np.testing.assert_allclose(grads[f"W{m}"], grads0[f"W{m}"] + lam * params[f"W{m}"])
        # Biases are not decayed.
        np.testing.assert_array_equal(grads[f"b{m}"], grads0[f"b{m}"])

    def J_of(p):
        return loss_and_grads(p, X, Y, loss, "sigmoid", output_activation, l2=lam)[0]

    _assert_all_ok(check_gradients(J_of, params, grads))


def test_backward_from_caches_directly():
    # backward(caches, ∂J/∂a^M) is the δ recursion on its own, for any upstream gradient.
    params, X, _ = _problem([3, 4, 2], N=3, seed=6)
    G = np.random.default_rng(7).normal(size=(2, 3))
    _, caches = forward(params, X, "tanh", "sigmoid")
    grads = backward(caches, G)

    def J_of(p):
        return float(np.sum(G * forward(p, X, "tanh", "sigmoid")[0]))

    _assert_all_ok(check_gradients(J_of, params, grads))


def test_unknown_loss_message():
    params, X, Y = _problem([3, 2], N=2, seed=0)
    with pytest.raises(ValueError, match="unknown loss 'hinge'.*softmax_ce"):
        loss_and_grads(params, X, Y, loss="hinge")


def test_accuracy_with_labels_or_one_hot():
    out = np.array([[0.9, 0.1, 0.3], [0.1, 0.8, 0.7]])
    assert accuracy(out, np.array([0, 1, 0])) == pytest.approx(2 / 3)
    assert accuracy(out, np.eye(2)[:, [0, 1, 1]]) == 1.0


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.integers(1, 6), min_size=2, max_size=5),
    st.integers(1, 7),
    st.sampled_from(ACTIVATIONS),
    st.integers(0, 2**32 - 1),
)
def test_forward_backward_shapes(sizes, N, activation, seed):
    rng = np.random.default_rng(seed)
    params = init_params(sizes, "he", rng)
    X = rng.normal(size=(sizes[0], N))
    Y = rng.normal(size=(sizes[-1], N))
    out, caches = forward(params, X, activation)
    assert out.shape == (sizes[-1], N) and len(caches) == len(sizes) - 1
    for m, c in enumerate(caches, start=1):
        assert c["a_prev"].shape == (sizes[m - 1], N)
        assert c["z"].shape == (sizes[m], N)
    J, dJ = LOSSES["square"](out, Y)
    grads = backward(caches, dJ)
    assert list(grads) == list(params)
    assert all(grads[k].shape == params[k].shape for k in params)
    assert np.isfinite(J)


def test_activation_objects_accepted():
    params, X, _ = _problem([3, 4, 2], N=2, seed=1)
    a, _ = forward(params, X, get_activation("tanh"), get_activation("identity"))
    b, _ = forward(params, X, "tanh", "identity")
    np.testing.assert_array_equal(a, b)


def test_reference_backward_is_not_fooled_by_a_planted_bug(monkeypatch):
    """The finite-difference tests above would catch a broken δ recursion."""
    params, X, Y = _problem([3, 4, 2], N=3, seed=2)
    sigmoid = get_activation("sigmoid")
    # σ' forgotten in the hidden layer's δ: f'(z) taken as 1.
    broken = Activation("sigmoid", sigmoid.f, sigmoid.f_prime, lambda a: np.ones_like(a))
    monkeypatch.setitem(activations.ACTIVATIONS, "sigmoid", broken)
    _, grads, _ = loss_and_grads(params, X, Y)
    monkeypatch.undo()
    results = check_gradients(lambda p: loss_and_grads(p, X, Y)[0], params, grads)
    assert not results["W1"].ok and results["W2"].ok


def test_dead_relu_units_give_exact_zero_rows_that_pass():
    """Near-zero and exactly-zero gradient entries do not trip the checker."""
    params, X, Y = _problem([3, 5, 2], N=4, seed=11, scheme="he")
    params["b1"][[1, 3]] = -50.0  # units 1 and 3 never fire
    _, grads, _ = loss_and_grads(params, X, Y, "softmax_ce", "relu")
    np.testing.assert_array_equal(grads["W1"][[1, 3]], 0.0)
    np.testing.assert_array_equal(grads["W2"][:, [1, 3]], 0.0)
    results = check_gradients(
        lambda p: loss_and_grads(p, X, Y, "softmax_ce", "relu")[0], params, grads
    )
    _assert_all_ok(results)
    assert all(r.diagnosis is None for r in results.values())
