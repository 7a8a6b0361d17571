"""Planted bugs and correct alternatives for 06-vanishing-gradients.

The norm function's bugs are the ones students write: a recursion without f', f' at
the wrong point, norms of the wrong thing, the wrong order, the wrong axis, no 1/N.
Bugs that spoil only δ's norms (the dW norms computed right) cost only the δ cell.
"""

from classroom.plants import BODY, Plant, calls, on, sub

NB = "vanishing_gradients"
NORMS = "layer-gradient-norms"
norms, peak, predictions = on(NB, NORMS), on(NB, "sigma-peak"), on(NB, "predictions")

# the test cells that lose points
DELTA, DW = ("test-layer-gradient-norms-delta",), ("test-layer-gradient-norms-dW",)
BOTH, PEAK = DELTA + DW, ("test-sigma-prime-max",)
PREDICTIONS = (
    "test-slowest-layer",
    "test-he-relu-choice",
    "test-xavier-sigmoid-choice",
    "test-sigmoid-normal-choice",
)

# lines of the solution that the plants edit
RECURSION = 'delta = f_prime(caches[m - 2]["z"]) * (cache["W"].T @ delta)'
DELTA_NORM = "delta_norms[m - 1] = np.linalg.norm(delta)"
START = "_, delta = softmax_cross_entropy(out, Y)"
RETURN = "return delta_norms, dW_norms"
DW_OF = 'delta @ cache["a_prev"].T'
F_PRIME_OUTPUT = '\n    delta = get_activation(activation).f_prime(caches[-1]["z"]) * delta'
SIGMA_PEAK = "sigma_prime_max = 0.25"

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
#: the library's backward for the weight gradients, its own recursion for δ
LIBRARY_DW = (
    (
        "out, caches = network.forward(params, X, activation)\n"
        "    _, delta = softmax_cross_entropy(out, Y)",
        '_, grads, caches = network.loss_and_grads(params, X, Y, "softmax_ce", activation)\n'
        '    _, delta = softmax_cross_entropy(caches[-1]["z"], Y)',
    ),
    ('        dW_norms[m - 1] = np.linalg.norm(delta @ cache["a_prev"].T)\n', ""),
    (
        RETURN,
        'dW_norms = np.array([np.linalg.norm(grads[f"W{m}"]) for m in range(1, M + 1)])\n    '
        + RETURN,
    ),
)
GRADIENT_FLOW = (
    "result = flow.gradient_flow(params, X, Y, activation)\n"
    "return result.delta_norms, result.dW_norms"
)

PLANTS = [
    norms(calls("flow.gradient_flow"), BOTH, (BODY, GRADIENT_FLOW), which="gradient_flow"),
    norms("06.norms.no-f-prime", BOTH, (RECURSION, 'delta = cache["W"].T @ delta')),
    norms("06.norms.f-prime-of-a", BOTH, sub(RECURSION, '["z"]', '["h"]')),
    norms("06.norms.of-a", DELTA, sub(DELTA_NORM, "norm(delta)", 'norm(cache["h"])')),
    norms("06.norms.reversed", BOTH, (RETURN, "return delta_norms[::-1], dW_norms[::-1]")),
    norms("06.norms.batch-sum", DELTA, sub(DELTA_NORM, "norm(delta)", "norm(delta.sum(axis=1))")),
    norms(
        "06.norms.per-example", DELTA, sub(DELTA_NORM, "norm(delta)", "norm(delta, axis=0).mean()")
    ),
    norms(
        "06.norms.no-1/N", BOTH, (START, "delta = softmax_cross_entropy(out, Y)[1] * X.shape[1]")
    ),
    norms("06.norms.two-arrays", BOTH, (RETURN, "return delta_norms")),
    peak("06.number.sigma-of-0", PEAK, sub(SIGMA_PEAK, "0.25", "0.5")),
    predictions(
        "06.number.predictions",
        PREDICTIONS,
        ("slowest_layer = 1", "slowest_layer = 11"),
        ('he_relu_choice = "b"', 'he_relu_choice = "a"'),
        ('xavier_sigmoid_choice = "a"', 'xavier_sigmoid_choice = "b"'),
        ('sigmoid_normal_choice = "c"', 'sigmoid_normal_choice = "a"'),
    ),
    norms.alternative("alternative: list of deltas, einsum norms", (BODY, ALT_LIST)),
    # the δ norms are the student's work; ‖∂J/∂Wᵐ‖ is the library's
    norms(calls("network.loss_and_grads"), DW, *LIBRARY_DW, which="dW by loss_and_grads"),
    Plant(
        "alternative: answers as fractions and capitals",
        NB,
        {
            "sigma-peak": (sub(SIGMA_PEAK, "0.25", "1 / 4"), ("z_peak = 0.0", "z_peak = 0")),
            "predictions": (
                ("slowest_layer = 1", "slowest_layer = 1.0"),
                ('he_relu_choice = "b"', 'he_relu_choice = "B"'),
                ('xavier_sigmoid_choice = "a"', 'xavier_sigmoid_choice = " a "'),
                ('sigmoid_normal_choice = "c"', 'sigmoid_normal_choice = "C"'),
            ),
        },
    ),
    # issue 12: every bug kind is named
    norms("06.norms.f-prime-wrong-layer", BOTH, sub(RECURSION, 'caches[m - 2]["z"]', 'cache["z"]')),
    norms(
        "06.norms.squared",
        BOTH,
        (DELTA_NORM, "delta_norms[m - 1] = np.sum(delta ** 2)"),
        (f"np.linalg.norm({DW_OF})", f"np.sum(({DW_OF}) ** 2)"),
    ),
    norms(
        "06.norms.dW-of-a",
        DW,
        (DW_OF, 'delta @ network.forward(params, X, activation)[1][m - 1]["h"].T'),
    ),
    peak("06.number.tanh-slope", PEAK, sub(SIGMA_PEAK, "0.25", "1.0")),
    # issue 21: the last unnamed bugs of the norm function
    norms("06.norms.factor-2", BOTH, (START, START + "\n    delta = 2 * delta")),
    norms("06.norms.extra-1/N", BOTH, (START, START + "\n    delta = delta / X.shape[1]")),
    norms("06.norms.f-prime-output", BOTH, (START, START + F_PRIME_OUTPUT)),
    norms("06.norms.W-not-transposed", BOTH, sub(RECURSION, ".T @", " @")),
]
