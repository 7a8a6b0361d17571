"""Checkers for notebook 02 (the 2-2-1 sigmoid network by hand).

Parameters are kept in the lecture's notation: ``params["wh"]`` of shape (3, 2) holds
w^h_{i,j} at ``[i, j - 1]`` (row 0: the biases w^h_{0,j}), ``params["wo"]`` of shape (3,)
holds w^o_{i,1} at ``[i]`` (entry 0: the bias w^o_{0,1}).  An input is x = (x_1, x_2), a
target y* a number, and the loss L = ½(y − y*)².

Gradients are judged against central differences of the student's own ``forward``; the
forward is judged against a reference.  The suspects are the gradients of typical bugs
(the slide form without σ' at the output, a missing hidden σ', a wrong index), computed at
the same point, so a failing test names the bug.
"""

from __future__ import annotations

import numpy as np

from course.activations import sigmoid, sigmoid_prime
from course.grading import (
    GradingFailure,
    call,
    check_close,
    check_gradient_of,
    check_param_gradient,
    check_shape,
)

__all__ = [
    "EXAMPLE_X",
    "EXAMPLE_Y",
    "XOR_X",
    "XOR_Y",
    "check_course_params",
    "check_forward",
    "check_partials",
    "check_partials_loss",
    "check_single_partial",
    "check_sgd_shuffles",
    "check_sgd_steps",
    "check_sgd_xor",
    "example_params",
    "random_case",
    "reference_forward",
    "reference_loss_and_partials",
    "xor_init",
]

#: The worked example: x = (x_1, x_2) and its target y*.
EXAMPLE_X = (0.5, -1.0)
EXAMPLE_Y = 1.0
_EXAMPLE_WH = ((0.1, -0.2), (0.4, 0.6), (-0.3, 0.8))
_EXAMPLE_WO = (0.05, -0.7, 0.9)

#: The four XOR points as columns, and their targets.
XOR_X = np.array([[0.0, 0.0, 1.0, 1.0], [0.0, 1.0, 0.0, 1.0]])
XOR_Y = np.array([0.0, 1.0, 1.0, 0.0])

#: Which entry of which array each single partial of the notebook differentiates.
_SINGLE = {
    "dL_dwo01": ("wo", (0,), "∂L/∂w^o_{0,1}"),
    "dL_dwo11": ("wo", (1,), "∂L/∂w^o_{1,1}"),
    "dL_dwh22": ("wh", (2, 1), "∂L/∂w^h_{2,2}"),
}

SLIDE_FORM = (
    "the slide form: σ'(·) at the sigmoid output is missing. y = σ(s) with "
    "s = w^o_{0,1} + w^o_{1,1} z_1 + w^o_{2,1} z_2, so ∂L/∂s = (y − y*) · y(1 − y), not (y − y*)"
)


def example_params():
    """The notebook's weights, as fresh float64 arrays (dict with "wh" (3, 2), "wo" (3,))."""
    return {"wh": np.array(_EXAMPLE_WH), "wo": np.array(_EXAMPLE_WO)}


def random_case(seed):
    """Random weights, input and target for hidden tests.

    Returns
    -------
    params : dict
    x : ndarray, shape (2,)
    y_star : float
    """
    rng = np.random.default_rng(seed)
    params = {"wh": rng.normal(0.0, 1.0, (3, 2)), "wo": rng.normal(0.0, 1.0, 3)}
    return params, rng.normal(0.0, 1.0, 2), float(rng.uniform(0.0, 1.0))


def xor_init(seed):
    """Initial weights for XOR, drawn N(0, 1) from ``default_rng(seed)`` (wh first, then wo)."""
    rng = np.random.default_rng(seed)
    return {"wh": rng.normal(0.0, 1.0, (3, 2)), "wo": rng.normal(0.0, 1.0, 3)}


def _copy(params):
    return {k: np.array(v, dtype=np.float64) for k, v in params.items()}


def reference_forward(params, x):
    """z_j = σ(w^h_{0,j} + w^h_{1,j} x_1 + w^h_{2,j} x_2), y = σ(w^o_{0,1} + Σ_j w^o_{j,1} z_j).

    Returns
    -------
    y : float
    z : ndarray, shape (2,)
    """
    x = np.asarray(x, dtype=np.float64)
    wh, wo = np.asarray(params["wh"]), np.asarray(params["wo"])
    z = sigmoid(wh[0] + x @ wh[1:])
    return float(sigmoid(wo[0] + wo[1:] @ z)), z


def reference_loss_and_partials(params, x, y_star):
    """L = ½(y − y*)² and its nine partials through δ^o and δ^h_j.

    Returns
    -------
    L : float
    grads : dict
        "wh" (3, 2) and "wo" (3,), shaped like the parameters.
    """
    x = np.asarray(x, dtype=np.float64)
    y, z = reference_forward(params, x)
    delta_o = (y - y_star) * y * (1.0 - y)
    delta_h = delta_o * np.asarray(params["wo"])[1:] * z * (1.0 - z)
    grads = {
        "wo": delta_o * np.concatenate(([1.0], z)),
        "wh": np.outer(np.concatenate(([1.0], x)), delta_h),
    }
    return 0.5 * (y - y_star) ** 2, grads


# ---------------------------------------------------------------- forward


def check_forward(forward, params, x):
    """Check ``forward(params, x) -> (y, z)`` against the reference values."""
    result = call(forward, _copy(params), np.array(x, dtype=np.float64), what="forward")
    if not (isinstance(result, tuple) and len(result) == 2):
        raise GradingFailure("forward must return a pair (y, z): the output and the hidden z.")
    y, z = result
    y_ref, z_ref = reference_forward(params, x)
    check_close(
        "z = (z_1, z_2)",
        z,
        z_ref,
        hint="z_j = σ(w^h_{0,j} + w^h_{1,j} x_1 + w^h_{2,j} x_2), with w^h_{i,j} = wh[i, j - 1].",
    )
    check_close("y", y, y_ref, hint="y = σ(w^o_{0,1} + w^o_{1,1} z_1 + w^o_{2,1} z_2).")


def _student_loss(forward, x, y_star):
    """L(params) = ½(y − y*)² with y from the student's own forward."""
    x = np.array(x, dtype=np.float64)

    def loss_of_params(params):
        y = forward(params, x.copy())[0]
        return 0.5 * (float(np.asarray(y, dtype=np.float64).reshape(())) - y_star) ** 2

    return loss_of_params


# ---------------------------------------------------------------- three single partials


def _single_suspects(which, params, x, y_star):
    x1, x2 = (float(v) for v in x)
    y, z = reference_forward(params, x)
    wo = np.asarray(params["wo"], dtype=np.float64)
    e = y - y_star
    d_o = e * y * (1.0 - y)
    zp = z * (1.0 - z)
    if which == "dL_dwo01":
        return {SLIDE_FORM: [e]}
    if which == "dL_dwo11":
        return {
            SLIDE_FORM: [e * z[0]],
            "it uses z_2 where ∂s/∂w^o_{1,1} = z_1 (the weight w^o_{1,1} multiplies z_1)": [
                d_o * z[1]
            ],
        }
    return {
        SLIDE_FORM: [e * wo[2] * zp[1] * x2],
        "σ'(s_2) = z_2(1 − z_2) of hidden unit 2 is missing: z_2 = σ(s_2), so ∂z_2/∂w^h_{2,2} "
        "= z_2(1 − z_2) · x_2": [d_o * wo[2] * x2],
        "both σ' factors are missing (at the output and at hidden unit 2)": [e * wo[2] * x2],
        "it uses w^o_{1,1}: hidden unit 2 reaches y through w^o_{2,1}": [d_o * wo[1] * zp[1] * x2],
        "it uses x_1: w^h_{2,2} multiplies x_2, so ∂s_2/∂w^h_{2,2} = x_2": [
            d_o * wo[2] * zp[1] * x1
        ],
        "it uses z_1(1 − z_1): w^h_{2,2} feeds hidden unit 2, whose σ' is z_2(1 − z_2)": [
            d_o * wo[2] * zp[0] * x2
        ],
    }


def check_single_partial(which, fn, forward, params, x, y_star, reveal=False):
    """Check one of the three single partials against finite differences of `forward`.

    Parameters
    ----------
    which : {"dL_dwo01", "dL_dwo11", "dL_dwh22"}
    fn : callable
        The student's ``fn(params, x, y_star) -> float``.
    forward : callable
        The student's forward pass.
    params, x, y_star
        The point.
    reveal : bool
        Show the finite-difference value (False at the notebook's own weights).
    """
    key, index, label = _SINGLE[which]
    value = call(fn, _copy(params), np.array(x, dtype=np.float64), y_star, what=which)
    value = check_shape(label, value, ())
    loss = _student_loss(forward, x, y_star)
    work = _copy(params)

    def f(w):
        work[key][index] = w[0]
        return loss(work)

    y, _ = reference_forward(params, x)
    check_gradient_of(
        label,
        f,
        np.array([work[key][index]]),
        np.array([float(value)]),
        reveal=reveal,
        suspects=_single_suspects(which, params, x, y_star),
        activation_prime=[y * (1.0 - y)] if key == "wo" else None,
    )


# ---------------------------------------------------------------- all nine partials


def _result(loss_and_partials, params, x, y_star):
    result = call(
        loss_and_partials,
        _copy(params),
        np.array(x, dtype=np.float64),
        y_star,
        what="loss_and_partials",
    )
    if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict)):
        raise GradingFailure(
            'loss_and_partials must return a pair (L, grads) with grads = {"wh": ..., "wo": ...}.'
        )
    return result


def check_partials_loss(loss_and_partials, params, x, y_star):
    """Check the L returned by ``loss_and_partials`` against ½(y − y*)²."""
    L, _ = _result(loss_and_partials, params, x, y_star)
    y, _ = reference_forward(params, x)
    check_close("L", L, 0.5 * (y - y_star) ** 2, hint="L = ½(y − y*)².")


def _group_suspects(group, params, x, y_star):
    x = np.asarray(x, dtype=np.float64)
    y, z = reference_forward(params, x)
    wo = np.asarray(params["wo"], dtype=np.float64)
    e = y - y_star
    d_o = e * y * (1.0 - y)
    zp = z * (1.0 - z)
    xb = np.concatenate(([1.0], x))
    if group == "wo":
        return {
            SLIDE_FORM: e * np.concatenate(([1.0], z)),
            "it uses the pre-activations s_j where the hidden outputs z_j = σ(s_j) belong": d_o
            * np.concatenate(([1.0], _hidden_s(params, x))),
        }
    return {
        SLIDE_FORM: np.outer(xb, e * wo[1:] * zp),
        "the hidden σ'(s_j) = z_j(1 − z_j) is missing: δ^h_j = δ^o · w^o_{j,1} · z_j(1 − z_j)": (
            np.outer(xb, d_o * wo[1:])
        ),
        "it uses wo[j - 1]: hidden unit j reaches y through w^o_{j,1} = wo[j]; wo[0] is the "
        "output bias w^o_{0,1}": np.outer(xb, d_o * wo[:2] * zp),
        "σ' is evaluated at the hidden output z_j instead of at s_j: σ'(s_j) = z_j(1 − z_j)": (
            np.outer(xb, d_o * wo[1:] * sigmoid_prime(z))
        ),
    }


def _hidden_s(params, x):
    """Hidden pre-activations s_j = w^h_{0,j} + w^h_{1,j} x_1 + w^h_{2,j} x_2, shape (2,)."""
    wh = np.asarray(params["wh"], dtype=np.float64)
    return wh[0] + np.asarray(x, dtype=np.float64) @ wh[1:]


def check_partials(group, loss_and_partials, forward, params, x, y_star, reveal=True):
    """Check the "wo" (3 partials) or "wh" (6 partials) group of ``loss_and_partials``.

    Compared with central differences of the student's own forward pass.
    """
    _, grads = _result(loss_and_partials, params, x, y_star)
    label = {"wo": "∂L/∂wo (the 3 output partials)", "wh": "∂L/∂wh (the 6 hidden partials)"}
    check_param_gradient(
        label[group],
        _student_loss(forward, x, y_star),
        _copy(params),
        grads,
        key=group,
        reveal=reveal,
        suspects=_group_suspects(group, params, x, y_star),
    )


# ---------------------------------------------------------------- course notation


def check_course_params(to_course_params, params):
    """Check W1 (2, 2), b1 (2, 1), W2 (1, 2), b2 (1, 1) built from the lecture's weights."""
    out = call(to_course_params, _copy(params), what="to_course_params")
    if not isinstance(out, dict):
        raise GradingFailure('to_course_params must return a dict {"W1", "b1", "W2", "b2"}.')
    wh, wo = np.asarray(params["wh"]), np.asarray(params["wo"])
    expected = {
        "W1": wh[1:].T,
        "b1": wh[0].reshape(2, 1),
        "W2": wo[1:].reshape(1, 2),
        "b2": wo[:1].reshape(1, 1),
    }
    hints = {
        "W1": "W^1[j-1, i-1] = w^h_{i,j}: row j is hidden unit j, column i is input x_i.",
        "b1": "b^1 holds the hidden biases w^h_{0,j} as a column (2, 1).",
        "W2": "W^2 holds w^o_{1,1}, w^o_{2,1} as a row (1, 2).",
        "b2": "b^2 is the output bias w^o_{0,1} as a (1, 1) array.",
    }
    for key, value in expected.items():
        if key not in out:
            raise GradingFailure(f"to_course_params returned no {key!r}: it holds {sorted(out)}.")
        check_close(key, out[key], value, hint=hints[key])


# ---------------------------------------------------------------- SGD


class _Recorder:
    """A grad_fn that records each call (parameters, example) and answers correctly."""

    def __init__(self, X, Y):
        self.X, self.Y = X, Y
        self.calls = []

    def __call__(self, params, x, y_star):
        x = np.array(x, dtype=np.float64).reshape(-1)
        match = [
            i
            for i in range(self.X.shape[1])
            if np.array_equal(self.X[:, i], x) and float(self.Y[i]) == float(y_star)
        ]
        if not match:
            raise GradingFailure(
                f"sgd called grad_fn with x = {x}, y* = {y_star}, which is not an example of "
                "the training set: pass one column X[:, i] and its target Y[i]."
            )
        L, grads = reference_loss_and_partials(params, x, float(y_star))
        self.calls.append((_copy(params), match[0], L, grads))
        return L, {k: v.copy() for k, v in grads.items()}


def _run_sgd(sgd, params, X, Y, epochs, gamma0, T, seed, grad_fn):
    result = call(
        sgd,
        _copy(params),
        X.copy(),
        Y.copy(),
        epochs=epochs,
        gamma0=gamma0,
        T=T,
        rng=np.random.default_rng(seed),
        grad_fn=grad_fn,
        what="sgd",
    )
    if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], dict)):
        raise GradingFailure("sgd must return a pair (params, history).")
    return result


def _orders(recorder, epochs, n):
    calls = recorder.calls
    if len(calls) != epochs * n:
        raise GradingFailure(
            f"sgd computed {len(calls)} gradients in {epochs} epochs of {n} examples; "
            f"per-example SGD takes one step per example per epoch ({epochs * n})."
        )
    orders = [[c[1] for c in calls[e * n : (e + 1) * n]] for e in range(epochs)]
    for e, order in enumerate(orders):
        if sorted(order) != list(range(n)):
            raise GradingFailure(
                f"epoch {e} visited the examples {order}: each epoch visits every example "
                "exactly once, in a shuffled order (rng.permutation(n))."
            )
    return orders


def _step_sizes(calls, states, params):
    """The step size γ of each update, or NaN where a step is not −γ · (the gradient)."""
    used = np.full(len(calls), np.nan)
    for t, (_, _, _, grads) in enumerate(calls):
        steps = {
            k: np.asarray(states[t + 1].get(k), dtype=np.float64) - states[t][k] for k in params
        }
        g = np.concatenate([grads[k].ravel() for k in params])
        d = np.concatenate([steps[k].ravel() for k in params])
        if g @ g == 0:
            continue
        gamma = -float(d @ g / (g @ g))
        if np.allclose(d, -gamma * g, rtol=1e-6, atol=1e-12):
            used[t] = gamma
    return used


def check_sgd_steps(sgd, params, epochs, gamma0, T, seed):
    """Every step is w ← w − γ_t ∇L(x_i) with γ_t = γ_0 / (1 + t/T), t = 0, 1, ...

    Also checks that each epoch visits every example once and that history[e] is the mean
    of the per-example losses of epoch e.
    """
    X, Y = XOR_X.copy(), XOR_Y.copy()
    n = X.shape[1]
    recorder = _Recorder(X, Y)
    final, history = _run_sgd(sgd, params, X, Y, epochs, gamma0, T, seed, recorder)
    _orders(recorder, epochs, n)
    states = [c[0] for c in recorder.calls] + [_copy(final)]
    for key in params:
        check_close(
            f"{key} at the first gradient",
            states[0].get(key),
            params[key],
            hint="The first gradient is taken at the initial parameters.",
        )
    used = _step_sizes(recorder.calls, states, params)
    for t in range(len(recorder.calls)):
        gamma_t = gamma0 / (1.0 + t / T)
        if np.isclose(used[t], gamma_t, rtol=1e-7, atol=0.0):
            continue
        text = (
            f"update t = {t} (epoch {t // n}) is not w ← w − γ_t ∇L(x_i) with "
            f"γ_t = γ_0 / (1 + t/T) = {gamma_t:.6g}"
        )
        if np.isnan(used[t]):
            text += ": the parameters did not move along the gradient of the example just drawn."
            raise GradingFailure(text)
        text += f"; yours used γ = {used[t]:.6g}."
        steps = np.arange(len(used))
        if np.isclose(used[t], -gamma_t):
            text += " The sign is flipped: step against the gradient, w ← w − γ_t ∇L."
        elif np.allclose(used, gamma0 / (1.0 + (steps // n) / T)):
            text += " t counts updates (examples seen), not epochs."
        elif np.allclose(used, gamma0):
            text += " The step size must decay: γ_t = γ_0 / (1 + t/T)."
        raise GradingFailure(text)
    if len(history) != epochs:
        raise GradingFailure(f"history has {len(history)} entries, expected one per epoch.")
    means = [np.mean([c[2] for c in recorder.calls[e * n : (e + 1) * n]]) for e in range(epochs)]
    check_close(
        "history",
        np.asarray(history, dtype=np.float64),
        means,
        hint="history[e] is the mean of the losses L returned by grad_fn during epoch e.",
    )


def check_sgd_shuffles(sgd, params, epochs, seeds):
    """Each epoch draws a new order from the rng passed in (reproducible, seed-dependent)."""
    X, Y = XOR_X.copy(), XOR_Y.copy()
    n = X.shape[1]
    runs = []
    for seed in (seeds[0], seeds[0], seeds[1]):
        recorder = _Recorder(X, Y)
        _run_sgd(sgd, params, X, Y, epochs, 0.1, 100.0, seed, recorder)
        runs.append(_orders(recorder, epochs, n))
    first = runs[0]
    if all(order == first[0] for order in first):
        raise GradingFailure(
            f"every epoch visits the examples in the same order {first[0]}: shuffle at the "
            "start of each epoch (order = rng.permutation(n) inside the epoch loop)."
        )
    if runs[0] != runs[1]:
        raise GradingFailure(
            "two runs with the same seed visited the examples in different orders: draw "
            "the shuffles from the rng passed to sgd, not from np.random."
        )
    if runs[0] == runs[2]:
        raise GradingFailure(
            "runs with different seeds visited the examples in the same orders: draw the "
            "shuffles from the rng passed to sgd."
        )


def check_sgd_xor(sgd, init_seed, seed, epochs=1000, gamma0=2.0, T=2000.0):
    """SGD from xor_init(init_seed) must classify the four XOR points (y > ½ for label 1)."""
    X, Y = XOR_X.copy(), XOR_Y.copy()
    final, history = _run_sgd(
        sgd, xor_init(init_seed), X, Y, epochs, gamma0, T, seed, reference_loss_and_partials
    )
    history = check_shape("history", history, (epochs,))
    outputs = np.array([reference_forward(final, X[:, i])[0] for i in range(X.shape[1])])
    correct = int(np.sum((outputs > 0.5) == (Y > 0.5)))
    if not history[-1] < history[0]:
        raise GradingFailure(
            f"the mean loss did not decrease: {history[0]:.4g} in the first epoch, "
            f"{history[-1]:.4g} in the last. Check the update w ← w − γ_t ∇L(x_i)."
        )
    if correct != X.shape[1]:
        raise GradingFailure(
            f"after {epochs} epochs the network classifies {correct} of 4 XOR points "
            f"correctly (outputs {np.round(outputs, 3).tolist()}, targets {Y.tolist()}). "
            "Check the update w ← w − γ_t ∇L(x_i) and the step sizes γ_t."
        )
