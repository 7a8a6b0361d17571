"""Planted bugs and correct alternatives for 06-vanishing-gradients.

The norm function's bugs are the ones students write: a recursion without f', f' at
the wrong point, norms of the wrong thing, the wrong order, the wrong axis, no 1/N.
Bugs that spoil only δ's norms (the dW norms computed right) cost only the δ cell.
"""

from classroom.plants import Plant

NB = "vanishing_gradients"
NORMS = "vg-norms"
DELTA, DW = "vg-test-delta-norms", "vg-test-dW-norms"


def _norms(
    recursion='delta = f_prime(caches[m - 2]["z"]) * (cache["W"].T @ delta)',
    delta_norm="np.linalg.norm(delta)",
    start="_, delta = softmax_cross_entropy(out, Y)",
    ret="delta_norms, dW_norms",
):
    return f"""
def layer_gradient_norms(params, X, Y, activation="sigmoid"):
    out, caches = network.forward(params, X, activation)
    {start}
    f_prime = get_activation(activation).f_prime
    M = len(caches)
    delta_norms = np.zeros(M)
    dW_norms = np.zeros(M)
    for m in range(M, 0, -1):
        cache = caches[m - 1]
        delta_norms[m - 1] = {delta_norm}
        dW_norms[m - 1] = np.linalg.norm(delta @ cache["a_prev"].T)
        if m > 1:
            {recursion}
    return {ret}
"""


# A correct answer written differently: deltas collected top-down in a list, reversed,
# f' from the layer's output a = f(z), dW's norm without forming dW.
ALT_LIST = """
def layer_gradient_norms(params, X, Y, activation="sigmoid"):
    out, caches = network.forward(params, X, activation)
    J, delta = softmax_cross_entropy(out, Y)
    deltas = [delta]
    for m in range(len(caches) - 1, 0, -1):
        a = caches[m - 1]["h"]
        slope = a * (1 - a) if activation == "sigmoid" else get_activation(activation).f_prime(
            caches[m - 1]["z"]
        )
        deltas.append(slope * (caches[m]["W"].T @ deltas[-1]))
    deltas = deltas[::-1]
    delta_norms = [float(np.sqrt(np.sum(d**2))) for d in deltas]
    dW_norms = [
        float(np.sqrt(np.einsum("ij,kj,il,kl->", d, c["a_prev"], d, c["a_prev"])))
        for d, c in zip(deltas, caches)
    ]
    return delta_norms, dW_norms
"""

# Another: the library's backward for the weight gradients, own recursion for δ.
ALT_LIBRARY_DW = """
def layer_gradient_norms(params, X, Y, activation="sigmoid"):
    _, grads, caches = network.loss_and_grads(params, X, Y, "softmax_ce", activation)
    M = len(caches)
    _, delta = softmax_cross_entropy(caches[-1]["z"], Y)
    delta_norms = np.empty(M)
    for m in range(M, 0, -1):
        delta_norms[m - 1] = np.linalg.norm(delta)
        if m > 1:
            delta = get_activation(activation).f_prime(caches[m - 2]["z"]) * (
                caches[m - 1]["W"].T @ delta
            )
    dW_norms = np.array([np.linalg.norm(grads[f"W{m}"]) for m in range(1, M + 1)])
    return delta_norms, dW_norms
"""

PLANTS = [
    Plant(
        "the library's answer: course.flow.gradient_flow",
        NB,
        {
            NORMS: (
                'def layer_gradient_norms(params, X, Y, activation="sigmoid"):\n'
                "    result = flow.gradient_flow(params, X, Y, activation)\n"
                "    return result.delta_norms, result.dW_norms\n"
            )
        },
        failing=(DELTA, DW),
        says="calls course.flow.gradient_flow",
    ),
    Plant(
        "no f' in the recursion",
        NB,
        {NORMS: _norms(recursion='delta = cache["W"].T @ delta')},
        failing=(DELTA, DW),
        bug="06.norms.no-f-prime",
    ),
    Plant(
        "f' evaluated at a instead of z",
        NB,
        {NORMS: _norms(recursion='delta = f_prime(caches[m - 2]["h"]) * (cache["W"].T @ delta)')},
        failing=(DELTA, DW),
        bug="06.norms.f-prime-of-a",
    ),
    Plant(
        "norms of a instead of delta",
        NB,
        {NORMS: _norms(delta_norm='np.linalg.norm(cache["h"])')},
        failing=(DELTA,),
        bug="06.norms.of-a",
    ),
    Plant(
        "layers in reverse order",
        NB,
        {NORMS: _norms(ret="delta_norms[::-1], dW_norms[::-1]")},
        failing=(DELTA, DW),
        bug="06.norms.reversed",
    ),
    Plant(
        "delta summed over the batch",
        NB,
        {NORMS: _norms(delta_norm="np.linalg.norm(delta.sum(axis=1))")},
        failing=(DELTA,),
        bug="06.norms.batch-sum",
    ),
    Plant(
        "per-example norms (wrong axis)",
        NB,
        {NORMS: _norms(delta_norm="np.linalg.norm(delta, axis=0).mean()")},
        failing=(DELTA,),
        bug="06.norms.per-example",
    ),
    Plant(
        "missing 1/N",
        NB,
        {NORMS: _norms(start="delta = softmax_cross_entropy(out, Y)[1] * X.shape[1]")},
        failing=(DELTA, DW),
        bug="06.norms.no-1/N",
    ),
    Plant(
        "returns only delta norms",
        NB,
        {NORMS: _norms(ret="delta_norms")},
        failing=(DELTA, DW),
        bug="06.norms.two-arrays",
    ),
    Plant(
        "sigma(0) for the largest slope",
        NB,
        {"vg-sigma-answer": "sigma_prime_max = 0.5\nz_peak = 0.0\n"},
        failing=("vg-test-sigma-max",),
        bug="06.number.sigma-of-0",
    ),
    Plant(
        "wrong predictions",
        NB,
        {
            "vg-predict": 'slowest_layer = 11\nhe_relu_choice = "a"\n'
            'xavier_sigmoid_choice = "b"\nsigmoid_normal_choice = "a"\n'
        },
        failing=("vg-test-slowest", "vg-test-he", "vg-test-xavier", "vg-test-normal-init"),
        says="not right",
    ),
    Plant("alternative: list of deltas, einsum norms", NB, {NORMS: ALT_LIST}),
    Plant(
        "library gradients for dW (the δ norms its own)",
        NB,
        {NORMS: ALT_LIBRARY_DW},
        failing=(DW,),  # the δ norms are the student's work; ‖∂J/∂Wᵐ‖ is the library's
        says="calls course.network.loss_and_grads",
    ),
    Plant(
        "alternative: answers as fractions and capitals",
        NB,
        {
            "vg-sigma-answer": "sigma_prime_max = 1 / 4\nz_peak = 0\n",
            "vg-predict": 'slowest_layer = 1.0\nhe_relu_choice = "B"\n'
            'xavier_sigmoid_choice = " a "\nsigmoid_normal_choice = "C"\n',
        },
    ),
    # issue 12: every bug kind is named
    Plant(
        "f' of the layer above",
        NB,
        {NORMS: _norms(recursion='delta = f_prime(cache["z"]) * (cache["W"].T @ delta)')},
        failing=(DELTA, DW),
        bug="06.norms.f-prime-wrong-layer",
    ),
    Plant(
        "squared norms",
        NB,
        {
            NORMS: _norms(delta_norm="np.sum(delta ** 2)").replace(
                'np.linalg.norm(delta @ cache["a_prev"].T)',
                'np.sum((delta @ cache["a_prev"].T) ** 2)',
            )
        },
        failing=(DELTA, DW),
        bug="06.norms.squared",
    ),
    Plant(
        "dW with the layer's own output",
        NB,
        {
            NORMS: _norms().replace(
                'delta @ cache["a_prev"].T',
                'delta @ network.forward(params, X, activation)[1][m - 1]["h"].T',
            )
        },
        failing=(DW,),
        bug="06.norms.dW-of-a",
    ),
    Plant(
        "tanh's largest slope for sigma'",
        NB,
        {"vg-sigma-answer": "sigma_prime_max = 1.0\nz_peak = 0.0\n"},
        failing=("vg-test-sigma-max",),
        bug="06.number.tanh-slope",
    ),
]

# issue 21: the last unnamed bugs of the norm function
PLANTS += [
    Plant(
        "a factor 2 in delta^M",
        NB,
        {NORMS: _norms(start="_, delta = softmax_cross_entropy(out, Y)\n    delta = 2 * delta")},
        failing=(DELTA, DW),
        bug="06.norms.factor-2",
    ),
    Plant(
        "an extra 1/N",
        NB,
        {
            NORMS: _norms(
                start="_, delta = softmax_cross_entropy(out, Y)\n    delta = delta / X.shape[1]"
            )
        },
        failing=(DELTA, DW),
        bug="06.norms.extra-1/N",
    ),
    Plant(
        "f' at the output",
        NB,
        {
            NORMS: _norms(
                start="_, delta = softmax_cross_entropy(out, Y)\n"
                '    delta = get_activation(activation).f_prime(caches[-1]["z"]) * delta'
            )
        },
        failing=(DELTA, DW),
        bug="06.norms.f-prime-output",
    ),
    Plant(
        "W instead of W^T in the recursion",
        NB,
        {NORMS: _norms(recursion='delta = f_prime(caches[m - 2]["z"]) * (cache["W"] @ delta)')},
        failing=(DELTA, DW),
        bug="06.norms.W-not-transposed",
    ),
]
