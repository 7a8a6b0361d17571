"""Planted bugs and correct alternatives for 06-vanishing-gradients.

The norm function's bugs are the ones students write: a recursion without f', f' at
the wrong point, norms of the wrong thing, the wrong order, the wrong axis, no 1/N.
Bugs that spoil only δ's norms (the dW norms computed right) cost only the δ cell.
"""

from classroom.plants import BODY, Plant, bug

NB = "vanishing_gradients"
NORMS = "layer-gradient-norms"
DELTA, DW = "test-layer-gradient-norms-delta", "test-layer-gradient-norms-dW"

RECURSION = 'delta = f_prime(caches[m - 2]["z"]) * (cache["W"].T @ delta)'
DELTA_NORM = "delta_norms[m - 1] = np.linalg.norm(delta)"
START = "_, delta = softmax_cross_entropy(out, Y)"
RETURN = "return delta_norms, dW_norms"
DW_OF = 'delta @ cache["a_prev"].T'


def _norms(key, name, failing, *edits):
    return bug(key, name, NB, {NORMS: edits}, failing)


# A correct answer written differently: deltas collected top-down in a list, reversed,
# f' from the layer's output a = f(z), dW's norm without forming dW.
ALT_LIST = """
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

PLANTS = [
    Plant(
        "the library's answer: course.flow.gradient_flow",
        NB,
        {
            NORMS: (
                (
                    BODY,
                    "result = flow.gradient_flow(params, X, Y, activation)\n"
                    "return result.delta_norms, result.dW_norms",
                ),
            )
        },
        failing=(DELTA, DW),
        bug="kit.library-call",
        says="calls course.flow.gradient_flow",
    ),
    _norms(
        "06.norms.no-f-prime",
        "no f' in the recursion",
        (DELTA, DW),
        (RECURSION, 'delta = cache["W"].T @ delta'),
    ),
    _norms(
        "06.norms.f-prime-of-a",
        "f' evaluated at a instead of z",
        (DELTA, DW),
        (RECURSION, 'delta = f_prime(caches[m - 2]["h"]) * (cache["W"].T @ delta)'),
    ),
    _norms(
        "06.norms.of-a",
        "norms of a instead of delta",
        (DELTA,),
        (DELTA_NORM, 'delta_norms[m - 1] = np.linalg.norm(cache["h"])'),
    ),
    _norms(
        "06.norms.reversed",
        "layers in reverse order",
        (DELTA, DW),
        (RETURN, "return delta_norms[::-1], dW_norms[::-1]"),
    ),
    _norms(
        "06.norms.batch-sum",
        "delta summed over the batch",
        (DELTA,),
        (DELTA_NORM, "delta_norms[m - 1] = np.linalg.norm(delta.sum(axis=1))"),
    ),
    _norms(
        "06.norms.per-example",
        "per-example norms (wrong axis)",
        (DELTA,),
        (DELTA_NORM, "delta_norms[m - 1] = np.linalg.norm(delta, axis=0).mean()"),
    ),
    _norms(
        "06.norms.no-1/N",
        "missing 1/N",
        (DELTA, DW),
        (START, "delta = softmax_cross_entropy(out, Y)[1] * X.shape[1]"),
    ),
    _norms(
        "06.norms.two-arrays",
        "returns only delta norms",
        (DELTA, DW),
        (RETURN, "return delta_norms"),
    ),
    bug(
        "06.number.sigma-of-0",
        "sigma(0) for the largest slope",
        NB,
        {"sigma-peak": (("sigma_prime_max = 0.25", "sigma_prime_max = 0.5"),)},
        ("test-sigma-prime-max",),
    ),
    bug(
        "06.number.predictions",
        "wrong predictions",
        NB,
        {
            "predictions": (
                ("slowest_layer = 1", "slowest_layer = 11"),
                ('he_relu_choice = "b"', 'he_relu_choice = "a"'),
                ('xavier_sigmoid_choice = "a"', 'xavier_sigmoid_choice = "b"'),
                ('sigmoid_normal_choice = "c"', 'sigmoid_normal_choice = "a"'),
            )
        },
        (
            "test-slowest-layer",
            "test-he-relu-choice",
            "test-xavier-sigmoid-choice",
            "test-sigmoid-normal-choice",
        ),
    ),
    Plant("alternative: list of deltas, einsum norms", NB, {NORMS: ((BODY, ALT_LIST),)}),
    # Another: the library's backward for the weight gradients, own recursion for δ.
    Plant(
        "library gradients for dW (the δ norms its own)",
        NB,
        {
            NORMS: (
                (
                    "out, caches = network.forward(params, X, activation)\n"
                    "    _, delta = softmax_cross_entropy(out, Y)",
                    '_, grads, caches = network.loss_and_grads(params, X, Y, "softmax_ce", activation)\n'
                    '    _, delta = softmax_cross_entropy(caches[-1]["z"], Y)',
                ),
                ('        dW_norms[m - 1] = np.linalg.norm(delta @ cache["a_prev"].T)\n', ""),
                (
                    RETURN,
                    'dW_norms = np.array([np.linalg.norm(grads[f"W{m}"]) for m in range(1, M + 1)])\n'
                    "    " + RETURN,
                ),
            )
        },
        failing=(DW,),  # the δ norms are the student's work; ‖∂J/∂Wᵐ‖ is the library's
        bug="kit.library-call",
        says="calls course.network.loss_and_grads",
    ),
    Plant(
        "alternative: answers as fractions and capitals",
        NB,
        {
            "sigma-peak": (
                ("sigma_prime_max = 0.25", "sigma_prime_max = 1 / 4"),
                ("z_peak = 0.0", "z_peak = 0"),
            ),
            "predictions": (
                ("slowest_layer = 1", "slowest_layer = 1.0"),
                ('he_relu_choice = "b"', 'he_relu_choice = "B"'),
                ('xavier_sigmoid_choice = "a"', 'xavier_sigmoid_choice = " a "'),
                ('sigmoid_normal_choice = "c"', 'sigmoid_normal_choice = "C"'),
            ),
        },
    ),
    # issue 12: every bug kind is named
    _norms(
        "06.norms.f-prime-wrong-layer",
        "f' of the layer above",
        (DELTA, DW),
        (RECURSION, 'delta = f_prime(cache["z"]) * (cache["W"].T @ delta)'),
    ),
    _norms(
        "06.norms.squared",
        "squared norms",
        (DELTA, DW),
        (DELTA_NORM, "delta_norms[m - 1] = np.sum(delta ** 2)"),
        (f"np.linalg.norm({DW_OF})", f"np.sum(({DW_OF}) ** 2)"),
    ),
    _norms(
        "06.norms.dW-of-a",
        "dW with the layer's own output",
        (DW,),
        (DW_OF, 'delta @ network.forward(params, X, activation)[1][m - 1]["h"].T'),
    ),
    bug(
        "06.number.tanh-slope",
        "tanh's largest slope for sigma'",
        NB,
        {"sigma-peak": (("sigma_prime_max = 0.25", "sigma_prime_max = 1.0"),)},
        ("test-sigma-prime-max",),
    ),
    # issue 21: the last unnamed bugs of the norm function
    _norms(
        "06.norms.factor-2",
        "a factor 2 in delta^M",
        (DELTA, DW),
        (START, START + "\n    delta = 2 * delta"),
    ),
    _norms(
        "06.norms.extra-1/N",
        "an extra 1/N",
        (DELTA, DW),
        (START, START + "\n    delta = delta / X.shape[1]"),
    ),
    _norms(
        "06.norms.f-prime-output",
        "f' at the output",
        (DELTA, DW),
        (
            START,
            START + '\n    delta = get_activation(activation).f_prime(caches[-1]["z"]) * delta',
        ),
    ),
    _norms(
        "06.norms.W-not-transposed",
        "W instead of W^T in the recursion",
        (DELTA, DW),
        (RECURSION, 'delta = f_prime(caches[m - 2]["z"]) * (cache["W"] @ delta)'),
    ),
]
