"""Planted bugs and correct alternatives for 02-sigmoid-network (notebook sigmoid_network).

Each plant edits the solution's answer cells: a bug must lose exactly the listed test cells
and their output must name it; an alternative must keep full marks.

The partials are judged by the true gradient with the network's forward bound in place of
the student's: a wrong forward costs only its own points, and partials right only for a
wrong forward (or for nonsense) earn nothing.
"""

from classroom.plants import Plant, bug, on, sub

NB = "sigmoid_network"
forward, partials, course_params, sgd = (
    on(NB, c) for c in ("forward", "loss-and-partials", "to-course-params", "sgd")
)
dwo01, dwo11, dwh22 = (on(NB, c) for c in ("dL-dwo01", "dL-dwo11", "dL-dwh22"))

# the test cells that lose points
FWD = ("test-forward",)
WO01T, WO11T, WH22T = ("test-dL-dwo01",), ("test-dL-dwo11",), ("test-dL-dwh22",)
HID, OUT = ("test-loss-and-partials-hidden",), ("test-loss-and-partials-output",)
LOSS, HO = ("test-loss-and-partials-loss",), HID + OUT
PARAMS = ("test-to-course-params",)
SHUFFLE, STEPS, XOR = ("test-sgd-shuffle",), ("test-sgd-steps",), ("test-sgd-xor",)

# lines of the solution that the plants edit
S = "wh[0] + x[0] * wh[1] + x[1] * wh[2]"
HIDDEN = f"s_hidden = {S}  # (s_1, s_2)\n    z = sigmoid(s_hidden)"
Y = "y = float(sigmoid(wo[0] + wo[1] * z[0] + wo[2] * z[1]))"
LINEAR = (Y, "y = float(wo[0] + wo[1] * z[0] + wo[2] * z[1])")
CALL = "y, z = forward(params, x)"
UNPACK = 'wh, wo = params["wh"], params["wo"]'
LP = "loss_and_partials(params, x, y_star)"
WO01 = "return (y - y_star) * y * (1 - y) * 1.0"
WO11 = "return (y - y_star) * y * (1 - y) * z[0]"
Z2_PRIME = "z[1] * (1 - z[1])"
WH22 = f'return (y - y_star) * y * (1 - y) * params["wo"][2] * {Z2_PRIME} * x[1]'
CALL_WO01, CALL_WO11, CALL_WH22 = (f"{CALL}\n    {r}" for r in (WO01, WO11, WH22))
SLIDE_WO01 = sub(WO01, " * y * (1 - y)", "")
L = "L = loss(y, y_star)"
DELTA_O = "delta_o = (y - y_star) * y * (1 - y)"
DELTA_H = 'delta_h = delta_o * params["wo"][1:] * z * (1 - z)'
Z1 = "z_with_1 = np.concatenate(([1.0], z))"
X1 = "np.concatenate(([1.0], x))"
OUTER = "np.outer(x_with_1, delta_h)"
GRADS = f'grads = {{"wo": delta_o * z_with_1, "wh": {OUTER}}}'
COPY = "params = {key: np.array(value, dtype=float) for key, value in params.items()}"
EPOCHS = "for _ in range(epochs):"
GAMMA = "gamma_t = gamma0 / (1 + t / T)"
ORDER = "for i in rng.permutation(n):"
STEP = "params[key] = params[key] - gamma_t * grads[key]"
STEP_IN_PLACE = (STEP, "params[key] -= gamma_t * grads[key]")
W1 = '"W1": wh[1:].T,'
W2 = '"W2": wo[1:].reshape(1, 2),'
HISTORY = "history.append(float(np.mean(losses)))"

# answers of several lines (an edit's first line goes where the text it replaces starts)
LOOP_UNITS = """z = np.zeros(2)
    for j in range(2):
        z[j] = 1 / (1 + np.exp(-(wh[0, j] + wh[1, j] * x[0] + wh[2, j] * x[1])))"""
LOOP_GRADS = """grads = {"wo": np.zeros(3), "wh": np.zeros((3, 2))}
    for i in range(3):
        grads["wo"][i] = delta_o * z_with_1[i]
        for j in range(2):
            grads["wh"][i, j] = delta_h[j] * x_with_1[i]"""
W1_BY_ENTRIES = '"W1": np.array([[wh[1, 0], wh[2, 0]], [wh[1, 1], wh[2, 1]]]),'
SHUFFLED = "order = np.arange(n)\n        rng.shuffle(order)\n        for i in order:"
NONSENSE_GRADS = 'grads = {"wo": (y - y_star) * np.ones(3), "wh": (y - y_star) * np.ones((3, 2))}'
NUMERICAL_WH22 = """def loss_of(w):
        p = {"wh": params["wh"].copy(), "wo": params["wo"].copy()}
        p["wh"][2, 1] = w[0]
        return loss(forward(p, x)[0], y_star)

    return gradcheck.numerical_gradient(loss_of, params["wh"][2, 1:2].copy())[0]"""
SGD_STEP = "training.sgd_step(params, grads, gamma_t)  # in place, on sgd's own copies"
OWN_FORWARD_FD = """def my_forward(p, x):  # forward's code again, under another name
        z = sigmoid(p["wh"][0] + x[0] * p["wh"][1] + x[1] * p["wh"][2])
        return float(sigmoid(p["wo"][0] + p["wo"][1] * z[0] + p["wo"][2] * z[1])), z

    y, z = my_forward(params, x)
    L = loss(y, y_star)
    grads = {}
    for key in params:
        grads[key] = np.zeros(np.shape(params[key]))
        for index in np.ndindex(grads[key].shape):
            p = {k: np.array(v, dtype=float) for k, v in params.items()}
            p[key][index] += 1e-6
            up = loss(my_forward(p, x)[0], y_star)
            p[key][index] -= 2e-6
            grads[key][index] = (up - loss(my_forward(p, x)[0], y_star)) / 2e-6
    return L, grads"""
OWN_PASS = f"{UNPACK}\n    z = sigmoid({S})\n    {Y}"
RECOMPUTED_Z2 = """y, _ = forward(params, x)
    wh = params["wh"]
    z2 = sigmoid(wh[0, 1] + x[0] * wh[1, 1] + x[1] * wh[2, 1])
    return (y - y_star) * y * (1 - y) * params["wo"][2] * z2 * (1 - z2) * x[1]"""
#: weights that solve XOR, for an sgd that does not learn them
XOR_NO_STEPS = """return {"wh": np.array([[-10.0, -30.0], [20.0, 20.0], [20.0, 20.0]]),
            "wo": np.array([-10.0, 20.0, -20.0])}, [0.5 / (1 + e) for e in range(epochs)]
    """
XOR_AFTER_STEPS = """    params = {"wh": np.array([[-10.0, -30.0], [20.0, 20.0], [20.0, 20.0]]),
              "wo": np.array([-10.0, 20.0, -20.0])}
    return params, history"""


def _lecture(old, call):
    """The edit of `old` into an answer that returns course.lecture's `call`."""
    return (old, f"from course import lecture\n\n    return lecture.{call}")


def _by_hand(old, w, h, forward="forward"):
    """The edit of `old` into the partial by wo[w] by central differences of the loss
    through `forward`, step `h`."""
    return old, (
        f"h = {h}\n"
        '    up = {"wh": params["wh"].copy(), "wo": params["wo"].copy()}\n'
        '    down = {"wh": params["wh"].copy(), "wo": params["wo"].copy()}\n'
        f'    up["wo"][{w}] += h\n'
        f'    down["wo"][{w}] -= h\n'
        f"    return (loss({forward}(up, x)[0], y_star) - loss({forward}(down, x)[0], y_star))"
        " / (2 * h)"
    )


PLANTS = [
    # forward: every partial is judged with the network's forward bound in place of the
    # student's, so a wrong forward costs only its own points
    forward("02.forward.transposed", FWD, (S, "wh[0] + wh[1:] @ x")),
    forward("02.forward.linear-output", FWD, LINEAR, which="forward only"),
    forward("02.forward.no-hidden-bias", FWD, sub(S, "wh[0] + ", "")),
    # the three single partials
    dwo01("02.partial.slide-form", WO01T, SLIDE_WO01, which="dL/dwo01"),
    dwo01("02.partial.sign", WO01T, (WO01, "return (y_star - y) * y * (1 - y)"), which="dL/dwo01"),
    dwo01("02.partial.factor-2", WO01T, (WO01, "return 2 * (y - y_star) * y * (1 - y)")),
    dwo11("02.partial.slide-form", WO11T, sub(WO11, " * y * (1 - y)", ""), which="dL/dwo11"),
    dwo11("02.partial.z2-for-z1", WO11T, sub(WO11, "z[0]", "z[1]")),
    dwo11("02.partial.sign", WO11T, sub(WO11, "(y - y_star)", "(y_star - y)"), which="dL/dwo11"),
    dwh22("02.partial.no-hidden-prime", WH22T, sub(WH22, f" * {Z2_PRIME}", ""), which="dL/dwh22"),
    dwh22("02.partial.wo11-for-wo21", WH22T, sub(WH22, '["wo"][2]', '["wo"][1]')),
    dwh22("02.partial.x1-for-x2", WH22T, sub(WH22, "x[1]", "x[0]")),
    # all nine partials
    partials("02.partials.slide-form", HO, (DELTA_O, "delta_o = y - y_star")),
    partials(
        "02.partials.no-hidden-prime", HID, sub(DELTA_H, " * z * (1 - z)", ""), which="partials"
    ),
    partials("02.partials.transposed", HID, (OUTER, "np.outer(delta_h, x_with_1)")),
    partials("02.partials.wo-shifted", HID, sub(DELTA_H, "[1:]", "[:2]")),
    partials(
        "02.partials.prime-of-z", HID, sub(DELTA_H, "z * (1 - z)", "sigmoid(z) * (1 - sigmoid(z))")
    ),
    partials("02.loss.no-half", LOSS, (L, "L = (y - y_star) ** 2")),
    # course notation
    course_params("02.params.W1-not-transposed", PARAMS, sub(W1, ".T", "")),
    course_params("02.params.b1-flat", PARAMS, ('"b1": wh[0].reshape(2, 1),', '"b1": wh[0],')),
    course_params("02.params.b2-number", PARAMS, ('"b2": wo[:1].reshape(1, 1),', '"b2": wo[0],')),
    course_params("02.params.W2-column", PARAMS, sub(W2, "(1, 2)", "(2, 1)")),
    # SGD
    sgd("02.sgd.constant-step", STEPS, (GAMMA, "gamma_t = gamma0")),
    sgd("02.sgd.t-epochs", STEPS, sub(EPOCHS, "_", "epoch"), sub(GAMMA, "t /", "epoch /")),
    sgd(
        "02.sgd.no-reshuffle",
        SHUFFLE,
        (EPOCHS, f"order = rng.permutation(n)\n    {EPOCHS}"),
        (ORDER, "for i in order:"),
    ),
    sgd("02.sgd.global-rng", SHUFFLE, sub(ORDER, "rng", "np.random")),
    sgd("02.sgd.uphill", STEPS + XOR, sub(STEP, "- gamma_t", "+ gamma_t")),
    # correct alternatives
    Plant(
        "alternative: loops over units, expanded algebra, rng.shuffle",
        NB,
        {
            "forward": ((HIDDEN, LOOP_UNITS),),
            "dL-dwo11": ((WO11, "return (y**2 - y**3 - y_star * y + y_star * y**2) * z[0]"),),
            "loss-and-partials": ((GRADS, LOOP_GRADS),),
            "to-course-params": ((W1, W1_BY_ENTRIES),),
            "sgd": ((ORDER, SHUFFLED), STEP_IN_PLACE),
        },
    ),
    # issue 12: misdiagnoses that now name their bug, the caller's arrays, sequences
    dwo01(
        "02.partial.sigma-prime-of-y",
        WO01T,
        sub(WO01, "y * (1 - y) * 1.0", "sigmoid(y) * (1 - sigmoid(y))"),
    ),
    dwo11("02.partial.sigma-squared", WO11T, sub(WO11, "y * (1 - y)", "y**2")),
    dwh22("02.partial.unit1-prime", WH22T, sub(WH22, Z2_PRIME, "z[0] * (1 - z[0])")),
    sgd(
        "02.sgd.changes-params",
        STEPS,
        (COPY, "params = dict(params)  # the same arrays as the caller's"),
        STEP_IN_PLACE,
    ),
    partials.alternative(
        "alternative: loss_and_partials returns a list", ("return L, grads", "return [L, grads]")
    ),
    partials("02.loss.sign", LOSS, (L, "L = -loss(y, y_star)")),
    dwh22("02.partial.no-primes", WH22T, (WH22, 'return (y - y_star) * params["wo"][2] * x[1]')),
    partials(
        "02.partials.pre-activations",
        OUT,
        sub(Z1, "], z)", '], params["wh"][0] + x @ params["wh"][1:])'),
    ),
    sgd("02.sgd.history", STEPS, sub(HISTORY, "np.mean(losses)", "losses[-1]")),
    forward("02.forward.term", FWD, (S, "wh[0] + x[0] * wh[1] - x[1] * wh[2]")),
    dwo11("02.partial.factor-divided", WO11T, sub(WO11, "* z[0]", "/ z[0]")),
    dwh22("02.partial.hidden-prime-form", WH22T, sub(WH22, "(1 - z[1])", "(1 + z[1])")),
    dwo01("02.partial.sigma-prime-form", WO01T, (WO01, "return (y - y_star) * y / (1 - y)")),
    # issue 18: points only by the true gradient, and only for the student's own work;
    # right for this forward only: nothing for the partial, which says to fix forward
    bug(
        "02.forward.linear-output",
        NB,
        {"forward": (LINEAR,), "dL-dwo01": (SLIDE_WO01,)},
        WO01T + FWD,
        which="dL/dwo01 of it",
    ),
    bug(
        "02.forward.linear-output",
        NB,
        {"forward": (LINEAR,), "loss-and-partials": ((DELTA_O, "delta_o = y - y_star"),)},
        FWD + HO,
        which="partials of it",
    ),
    # the loss L = ½(y − y*)² is right: with the network's forward bound in it passes
    bug(
        "02.forward.self-consistent",
        NB,
        {
            "forward": (
                (f"{HIDDEN}\n    {Y}", "z = np.zeros(2)\n    y = float(wh.sum() + wo.sum())"),
            ),
            "dL-dwo01": ((WO01, "return y - y_star"),),
            "dL-dwo11": ((WO11, "return y - y_star"),),
            "dL-dwh22": ((WH22, "return y - y_star"),),
            "loss-and-partials": ((GRADS, NONSENSE_GRADS),),
        },
        WH22T + WO01T + WO11T + FWD + HO,
    ),
    forward("kit.library-call", FWD, _lecture(UNPACK, "forward(params, x)"), which="forward"),
    dwo01("kit.library-call", WO01T, _lecture(CALL_WO01, LP + '[1]["wo"][0]'), which="dL/dwo01"),
    dwh22("gradcheck.numerical", WH22T, (CALL_WH22, NUMERICAL_WH22), which="dL/dwh22"),
    partials("kit.library-call", HID + LOSS + OUT, _lecture(CALL, LP), which="partials"),
    # the short runs watch for the course's functions; the XOR run only for learning
    sgd(
        "kit.library-call",
        SHUFFLE + STEPS,
        (COPY, f"from course import training\n\n    {COPY}"),
        (f"for key in params:\n                {STEP}", SGD_STEP),
        which="sgd",
    ),
    # with the network's forward bound in, it would differentiate the network's
    dwo11("gradcheck.numerical", WO11T, _by_hand(CALL_WO11, 1, "1e-5"), which="dL/dwo11, by hand"),
    # finite differences however the partial reaches a forward: the tests also hand the
    # partials the forward values of other hidden weights, where the chain rule on forward's
    # values gives the network's partials and a partial that ignores them does not
    dwo01(
        "02.partial.own-forward",
        WO01T,
        ("def dL_dwo01(params, x, y_star):", "def dL_dwo01(params, x, y_star, _mine=forward):"),
        _by_hand(CALL_WO01, 0, "1e-6", forward="_mine"),
        which="dL/dwo01",
    ),
    partials("02.partial.own-forward", HO, (f"{CALL}\n    {L}", OWN_FORWARD_FD), which="partials"),
    # the chain rule, but not on forward's values: told apart from finite differences of a
    # forward the tests cannot replace only by what it does, so flagged alike
    dwo11("02.partial.own-forward", WO11T, (CALL, OWN_PASS), which="dL/dwo11"),
    dwh22("02.partial.recomputes-z", WH22T, (CALL_WH22, RECOMPUTED_Z2)),
    # the XOR test takes the weights only as the end of the run's own steps
    sgd("02.sgd.no-steps", SHUFFLE + STEPS + XOR, (COPY, XOR_NO_STEPS + COPY)),
    sgd("02.sgd.not-its-steps", STEPS + XOR, ("    return params, history", XOR_AFTER_STEPS)),
    # issue 21: σ' of σ(s₂) for hidden unit 2, and a bias input of 0
    dwh22("02.partial.hidden-prime-of-z", WH22T, (Z2_PRIME, "sigmoid(z[1]) * (1 - sigmoid(z[1]))")),
    dwo01("02.partial.bias-input-0", WO01T, sub(WO01, "1.0", "0.0")),
    partials("02.partials.bias-input-0", HID, sub(X1, "1.0", "0.0")),
    # issue 24: the diagnoses the mutation corpus shows, planted once each
    sgd("02.sgd.decay", STEPS, ("t = 0\n", "t = 1\n")),
]
