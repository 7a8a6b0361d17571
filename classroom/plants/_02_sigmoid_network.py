"""Planted bugs and correct alternatives for 02-sigmoid-network (notebook sigmoid_network).

Each plant edits the solution's answer cells: a bug must lose exactly the listed test cells
and their output must name it; an alternative must keep full marks.

The partials are judged by the true gradient with the network's forward bound in place of
the student's: a wrong forward costs only its own points, and partials right only for a
wrong forward (or for nonsense) earn nothing.
"""

from classroom.plants import Plant, bugs_in

NOTEBOOK = "sigmoid_network"

_bug = bugs_in(NOTEBOOK)

WO01 = "return (y - y_star) * y * (1 - y) * 1.0"
WO11 = "return (y - y_star) * y * (1 - y) * z[0]"
WH22 = 'return (y - y_star) * y * (1 - y) * params["wo"][2] * z[1] * (1 - z[1]) * x[1]'
DELTA_O = "delta_o = (y - y_star) * y * (1 - y)"
DELTA_H = 'delta_h = delta_o * params["wo"][1:] * z * (1 - z)'
STEP = "params[key] = params[key] - gamma_t * grads[key]"
LINEAR_FROM = "y = float(sigmoid(wo[0] + wo[1] * z[0] + wo[2] * z[1]))"
LINEAR_TO = "y = float(wo[0] + wo[1] * z[0] + wo[2] * z[1])"
ORDER = "for i in rng.permutation(n):"

PLANTS = [
    # forward: every partial is judged with the network's forward bound in place of the
    # student's, so a wrong forward costs only its own points
    _bug(
        "forward: wh indexed [j, i] (transposed)",
        "forward",
        [("wh[0] + x[0] * wh[1] + x[1] * wh[2]", "wh[0] + wh[1:] @ x")],
        # a wrong forward costs only the forward's points
        ("test-forward",),
        "02.forward.transposed",
    ),
    _bug(
        "forward: linear output (no sigmoid at y)",
        "forward",
        [
            (
                "y = float(sigmoid(wo[0] + wo[1] * z[0] + wo[2] * z[1]))",
                "y = float(wo[0] + wo[1] * z[0] + wo[2] * z[1])",
            )
        ],
        ("test-forward",),
        "02.forward.linear-output",
    ),
    _bug(
        "forward: hidden biases left out",
        "forward",
        [("wh[0] + x[0] * wh[1] + x[1] * wh[2]", "x[0] * wh[1] + x[1] * wh[2]")],
        ("test-forward",),
        "02.forward.no-hidden-bias",
    ),
    # the three single partials
    _bug(
        "dL/dwo01: slide form without sigma'",
        "dL-dwo01",
        [(WO01, "return (y - y_star) * 1.0")],
        ("test-dL-dwo01",),
        "02.partial.slide-form",
    ),
    _bug(
        "dL/dwo01: sign flipped",
        "dL-dwo01",
        [(WO01, "return (y_star - y) * y * (1 - y)")],
        ("test-dL-dwo01",),
        "02.partial.sign",
    ),
    _bug(
        "dL/dwo01: factor 2 from d/dy (y - y*)^2",
        "dL-dwo01",
        [(WO01, "return 2 * (y - y_star) * y * (1 - y)")],
        ("test-dL-dwo01",),
        "02.partial.factor-2",
    ),
    _bug(
        "dL/dwo11: slide form (y - y*) z_1",
        "dL-dwo11",
        [(WO11, "return (y - y_star) * z[0]")],
        ("test-dL-dwo11",),
        "02.partial.slide-form",
    ),
    _bug(
        "dL/dwo11: z_2 for z_1",
        "dL-dwo11",
        [(WO11, "return (y - y_star) * y * (1 - y) * z[1]")],
        ("test-dL-dwo11",),
        "02.partial.z2-for-z1",
    ),
    _bug(
        "dL/dwo11: sign flipped",
        "dL-dwo11",
        [(WO11, "return (y_star - y) * y * (1 - y) * z[0]")],
        ("test-dL-dwo11",),
        "02.partial.sign",
    ),
    _bug(
        "dL/dwh22: hidden sigma' missing",
        "dL-dwh22",
        [(WH22, 'return (y - y_star) * y * (1 - y) * params["wo"][2] * x[1]')],
        ("test-dL-dwh22",),
        "02.partial.no-hidden-prime",
    ),
    _bug(
        "dL/dwh22: w^o_{1,1} for w^o_{2,1}",
        "dL-dwh22",
        [(WH22, 'return (y - y_star) * y * (1 - y) * params["wo"][1] * z[1] * (1 - z[1]) * x[1]')],
        ("test-dL-dwh22",),
        "02.partial.wo11-for-wo21",
    ),
    _bug(
        "dL/dwh22: x_1 for x_2",
        "dL-dwh22",
        [(WH22, 'return (y - y_star) * y * (1 - y) * params["wo"][2] * z[1] * (1 - z[1]) * x[0]')],
        ("test-dL-dwh22",),
        "02.partial.x1-for-x2",
    ),
    # all nine partials
    _bug(
        "partials: slide form delta_o = y - y*",
        "loss-and-partials",
        [(DELTA_O, "delta_o = y - y_star")],
        ("test-loss-and-partials-hidden", "test-loss-and-partials-output"),
        "02.partials.slide-form",
    ),
    _bug(
        "partials: hidden sigma' missing",
        "loss-and-partials",
        [(DELTA_H, 'delta_h = delta_o * params["wo"][1:]')],
        ("test-loss-and-partials-hidden",),
        "02.partials.no-hidden-prime",
    ),
    _bug(
        "partials: wh gradient transposed",
        "loss-and-partials",
        [("np.outer(x_with_1, delta_h)", "np.outer(delta_h, x_with_1)")],
        ("test-loss-and-partials-hidden",),
        "02.partials.transposed",
    ),
    _bug(
        "partials: output weights shifted (bias weight used)",
        "loss-and-partials",
        [(DELTA_H, 'delta_h = delta_o * params["wo"][:2] * z * (1 - z)')],
        ("test-loss-and-partials-hidden",),
        "02.partials.wo-shifted",
    ),
    _bug(
        "partials: sigma' at z_j (a for z)",
        "loss-and-partials",
        [(DELTA_H, 'delta_h = delta_o * params["wo"][1:] * sigmoid(z) * (1 - sigmoid(z))')],
        ("test-loss-and-partials-hidden",),
        "02.partials.prime-of-z",
    ),
    _bug(
        "partials: loss without the 1/2",
        "loss-and-partials",
        [("L = loss(y, y_star)", "L = (y - y_star) ** 2")],
        ("test-loss-and-partials-loss",),
        "02.loss.no-half",
    ),
    # course notation
    _bug(
        "course params: W1 not transposed",
        "to-course-params",
        [('"W1": wh[1:].T,', '"W1": wh[1:],')],
        ("test-to-course-params",),
        "02.params.W1-not-transposed",
    ),
    _bug(
        "course params: b1 flat",
        "to-course-params",
        [('"b1": wh[0].reshape(2, 1),', '"b1": wh[0],')],
        ("test-to-course-params",),
        "02.params.b1-flat",
    ),
    _bug(
        "course params: W2 a column",
        "to-course-params",
        [('"W2": wo[1:].reshape(1, 2),', '"W2": wo[1:].reshape(2, 1),')],
        ("test-to-course-params",),
        "02.params.W2-column",
    ),
    _bug(
        "course params: b2 a plain number",
        "to-course-params",
        [('"b2": wo[:1].reshape(1, 1),', '"b2": wo[0],')],
        ("test-to-course-params",),
        "02.params.b2-number",
    ),
    # SGD
    _bug(
        "sgd: constant step size",
        "sgd",
        [("gamma_t = gamma0 / (1 + t / T)", "gamma_t = gamma0")],
        ("test-sgd-steps",),
        "02.sgd.constant-step",
    ),
    _bug(
        "sgd: t counts epochs",
        "sgd",
        [
            ("for _ in range(epochs):", "for epoch in range(epochs):"),
            ("gamma_t = gamma0 / (1 + t / T)", "gamma_t = gamma0 / (1 + epoch / T)"),
        ],
        ("test-sgd-steps",),
        "02.sgd.t-epochs",
    ),
    _bug(
        "sgd: shuffled once, before the epochs",
        "sgd",
        [
            (
                "for _ in range(epochs):",
                "order = rng.permutation(n)\n    for _ in range(epochs):",
            ),
            (ORDER, "for i in order:"),
        ],
        ("test-sgd-shuffle",),
        "02.sgd.no-reshuffle",
    ),
    _bug(
        "sgd: global np.random instead of rng",
        "sgd",
        [(ORDER, "for i in np.random.permutation(n):")],
        ("test-sgd-shuffle",),
        "02.sgd.global-rng",
    ),
    _bug(
        "sgd: step uphill",
        "sgd",
        [(STEP, "params[key] = params[key] + gamma_t * grads[key]")],
        ("test-sgd-steps", "test-sgd-xor"),
        "02.sgd.uphill",
    ),
    # correct alternatives
    Plant(
        "alternative: loops over units, expanded algebra, rng.shuffle",
        NOTEBOOK,
        {
            "forward": (
                (
                    "s_hidden = wh[0] + x[0] * wh[1] + x[1] * wh[2]  # (s_1, s_2)\n"
                    "    z = sigmoid(s_hidden)",
                    "z = np.zeros(2)\n"
                    "    for j in range(2):\n"
                    "        z[j] = 1 / (1 + np.exp(-(wh[0, j] + wh[1, j] * x[0] + wh[2, j] * x[1])))",
                ),
            ),
            "dL-dwo11": ((WO11, "return (y**2 - y**3 - y_star * y + y_star * y**2) * z[0]"),),
            "loss-and-partials": (
                (
                    'grads = {"wo": delta_o * z_with_1, "wh": np.outer(x_with_1, delta_h)}',
                    'grads = {"wo": np.zeros(3), "wh": np.zeros((3, 2))}\n'
                    "    for i in range(3):\n"
                    '        grads["wo"][i] = delta_o * z_with_1[i]\n'
                    "        for j in range(2):\n"
                    '            grads["wh"][i, j] = delta_h[j] * x_with_1[i]',
                ),
            ),
            "to-course-params": (
                (
                    '"W1": wh[1:].T,',
                    '"W1": np.array([[wh[1, 0], wh[2, 0]], [wh[1, 1], wh[2, 1]]]),',
                ),
            ),
            "sgd": (
                (
                    ORDER,
                    "order = np.arange(n)\n        rng.shuffle(order)\n        for i in order:",
                ),
                (STEP, "params[key] -= gamma_t * grads[key]"),
            ),
        },
    ),
    # issue 12: misdiagnoses that now name their bug, the caller's arrays, sequences
    _bug(
        "dL/dwo01: sigma' evaluated at y",
        "dL-dwo01",
        [(WO01, "return (y - y_star) * sigmoid(y) * (1 - sigmoid(y))")],
        ("test-dL-dwo01",),
        "02.partial.sigma-prime-of-y",
    ),
    _bug(
        "dL/dwo11: sigma' written as y squared",
        "dL-dwo11",
        [(WO11, "return (y - y_star) * y**2 * z[0]")],
        ("test-dL-dwo11",),
        "02.partial.sigma-squared",
    ),
    _bug(
        "dL/dwh22: z_1(1 - z_1) for unit 2",
        "dL-dwh22",
        [(WH22, 'return (y - y_star) * y * (1 - y) * params["wo"][2] * z[0] * (1 - z[0]) * x[1]')],
        ("test-dL-dwh22",),
        "02.partial.unit1-prime",
    ),
    _bug(
        "sgd: updates the caller's arrays in place",
        "sgd",
        [
            (
                "params = {key: np.array(value, dtype=float) for key, value in params.items()}",
                "params = dict(params)  # the same arrays as the caller's",
            ),
            (STEP, "params[key] -= gamma_t * grads[key]"),
        ],
        ("test-sgd-steps",),
        "02.sgd.changes-params",
    ),
    Plant(
        "alternative: loss_and_partials returns a list",
        NOTEBOOK,
        {"loss-and-partials": (("return L, grads", "return [L, grads]"),)},
    ),
    _bug(
        "partials: loss with the sign flipped",
        "loss-and-partials",
        [("L = loss(y, y_star)", "L = -loss(y, y_star)")],
        ("test-loss-and-partials-loss",),
        "02.loss.sign",
    ),
    _bug(
        "dL/dwh22: both sigma' missing",
        "dL-dwh22",
        [(WH22, 'return (y - y_star) * params["wo"][2] * x[1]')],
        ("test-dL-dwh22",),
        "02.partial.no-primes",
    ),
    _bug(
        "partials: pre-activations s_j for z_j",
        "loss-and-partials",
        [
            (
                "z_with_1 = np.concatenate(([1.0], z))",
                'z_with_1 = np.concatenate(([1.0], params["wh"][0] + x @ params["wh"][1:]))',
            )
        ],
        ("test-loss-and-partials-output",),
        "02.partials.pre-activations",
    ),
    _bug(
        "sgd: history of the last example's loss",
        "sgd",
        [("history.append(float(np.mean(losses)))", "history.append(float(losses[-1]))")],
        ("test-sgd-steps",),
        "02.sgd.history",
    ),
    _bug(
        "forward: x_2 term subtracted",
        "forward",
        [("wh[0] + x[0] * wh[1] + x[1] * wh[2]", "wh[0] + x[0] * wh[1] - x[1] * wh[2]")],
        ("test-forward",),
        "02.forward.term",
    ),
    _bug(
        "dL/dwo11: divides by z_1",
        "dL-dwo11",
        [(WO11, "return (y - y_star) * y * (1 - y) / z[0]")],
        ("test-dL-dwo11",),
        "02.partial.factor-divided",
    ),
    _bug(
        "dL/dwh22: hidden sigma' as z_2(1 + z_2)",
        "dL-dwh22",
        [(WH22, 'return (y - y_star) * y * (1 - y) * params["wo"][2] * z[1] * (1 + z[1]) * x[1]')],
        ("test-dL-dwh22",),
        "02.partial.hidden-prime-form",
    ),
    _bug(
        "dL/dwo01: sigma' as y / (1 - y)",
        "dL-dwo01",
        [(WO01, "return (y - y_star) * y / (1 - y)")],
        ("test-dL-dwo01",),
        "02.partial.sigma-prime-form",
    ),
    # issue 18: points only by the true gradient, and only for the student's own work
    Plant(
        "forward without sigma at the output, dL/dwo01 its exact derivative (slide form)",
        NOTEBOOK,
        {
            "forward": ((LINEAR_FROM, LINEAR_TO),),
            "dL-dwo01": ((WO01, "return (y - y_star) * 1.0"),),
        },
        # right for this forward only: nothing for the partial, which says to fix forward
        failing=("test-dL-dwo01", "test-forward"),
        bug="02.forward.linear-output",
    ),
    Plant(
        "forward without sigma at the output, loss_and_partials consistent with it",
        NOTEBOOK,
        {
            "forward": ((LINEAR_FROM, LINEAR_TO),),
            "loss-and-partials": ((DELTA_O, "delta_o = y - y_star"),),
        },
        failing=("test-forward", "test-loss-and-partials-hidden", "test-loss-and-partials-output"),
        bug="02.forward.linear-output",
    ),
    Plant(
        "nonsense: y = the sum of all weights, every partial y - y* (self-consistent)",
        NOTEBOOK,
        {
            "forward": (
                (
                    "s_hidden = wh[0] + x[0] * wh[1] + x[1] * wh[2]  # (s_1, s_2)\n"
                    "    z = sigmoid(s_hidden)\n"
                    f"    {LINEAR_FROM}",
                    "z = np.zeros(2)\n    y = float(wh.sum() + wo.sum())",
                ),
            ),
            "dL-dwo01": ((WO01, "return y - y_star"),),
            "dL-dwo11": ((WO11, "return y - y_star"),),
            "dL-dwh22": ((WH22, "return y - y_star"),),
            "loss-and-partials": (
                (
                    'grads = {"wo": delta_o * z_with_1, "wh": np.outer(x_with_1, delta_h)}',
                    'grads = {"wo": (y - y_star) * np.ones(3), "wh": (y - y_star) * np.ones((3, 2))}',
                ),
            ),
        },
        # the loss L = ½(y − y*)² is right: with the network's forward bound in it passes
        failing=(
            "test-dL-dwh22",
            "test-dL-dwo01",
            "test-dL-dwo11",
            "test-forward",
            "test-loss-and-partials-hidden",
            "test-loss-and-partials-output",
        ),
        bug="02.forward.self-consistent",
    ),
    _bug(
        "forward: the lecture's network from course.lecture",
        "forward",
        [
            (
                'wh, wo = params["wh"], params["wo"]',
                "from course import lecture\n\n    return lecture.forward(params, x)",
            )
        ],
        ("test-forward",),
        "kit.library-call",
    ),
    _bug(
        "dL/dwo01: read off course.lecture.loss_and_partials",
        "dL-dwo01",
        [
            (
                "y, z = forward(params, x)\n    " + WO01,
                "from course import lecture\n\n"
                '    return lecture.loss_and_partials(params, x, y_star)[1]["wo"][0]',
            )
        ],
        ("test-dL-dwo01",),
        "kit.library-call",
    ),
    _bug(
        "dL/dwh22: the course's numerical gradient of the loss",
        "dL-dwh22",
        [
            (
                "y, z = forward(params, x)\n    " + WH22,
                "def loss_of(w):\n"
                '        p = {"wh": params["wh"].copy(), "wo": params["wo"].copy()}\n'
                '        p["wh"][2, 1] = w[0]\n'
                "        return loss(forward(p, x)[0], y_star)\n\n"
                '    return gradcheck.numerical_gradient(loss_of, params["wh"][2, 1:2].copy())[0]',
            )
        ],
        ("test-dL-dwh22",),
        "gradcheck.numerical",
    ),
    _bug(
        "loss_and_partials: course.lecture.loss_and_partials",
        "loss-and-partials",
        [
            (
                "y, z = forward(params, x)",
                "from course import lecture\n\n    return lecture.loss_and_partials(params, x, y_star)",
            )
        ],
        (
            "test-loss-and-partials-hidden",
            "test-loss-and-partials-loss",
            "test-loss-and-partials-output",
        ),
        "kit.library-call",
    ),
    _bug(
        "sgd: the update by course.training.sgd_step",
        "sgd",
        [
            (
                "params = {key: np.array(value, dtype=float) for key, value in params.items()}",
                "from course import training\n\n"
                "    params = {key: np.array(value, dtype=float) for key, value in params.items()}",
            ),
            (
                "for key in params:\n                " + STEP,
                "training.sgd_step(params, grads, gamma_t)  # in place, on sgd's own copies",
            ),
        ],
        # the short runs watch for the course's functions; the XOR run only for learning
        ("test-sgd-shuffle", "test-sgd-steps"),
        "kit.library-call",
    ),
    _bug(
        "dL/dwo11: central differences of the loss through forward, by hand",
        "dL-dwo11",
        [
            (
                "y, z = forward(params, x)\n    " + WO11,
                "h = 1e-5\n"
                '    up = {"wh": params["wh"].copy(), "wo": params["wo"].copy()}\n'
                '    down = {"wh": params["wh"].copy(), "wo": params["wo"].copy()}\n'
                '    up["wo"][1] += h\n'
                '    down["wo"][1] -= h\n'
                "    return (loss(forward(up, x)[0], y_star) - loss(forward(down, x)[0], y_star)) / (2 * h)",
            )
        ],
        # with the network's forward bound in, it would differentiate the network's
        ("test-dL-dwo11",),
        "gradcheck.numerical",
    ),
    # finite differences however the partial reaches a forward: the tests also hand the
    # partials the forward values of other hidden weights, where the chain rule on forward's
    # values gives the network's partials and a partial that ignores them does not
    _bug(
        "dL/dwo01: central differences through forward kept as a default argument",
        "dL-dwo01",
        [
            (
                "def dL_dwo01(params, x, y_star):",
                "def dL_dwo01(params, x, y_star, _mine=forward):",
            ),
            (
                "y, z = forward(params, x)\n    " + WO01,
                "h = 1e-6\n"
                '    up = {"wh": params["wh"].copy(), "wo": params["wo"].copy()}\n'
                '    down = {"wh": params["wh"].copy(), "wo": params["wo"].copy()}\n'
                '    up["wo"][0] += h\n'
                '    down["wo"][0] -= h\n'
                "    return (loss(_mine(up, x)[0], y_star) - loss(_mine(down, x)[0], y_star)) / (2 * h)",
            ),
        ],
        ("test-dL-dwo01",),
        "02.partial.own-forward",
    ),
    _bug(
        "loss_and_partials: central differences through a copy of forward's code",
        "loss-and-partials",
        [
            (
                "y, z = forward(params, x)\n    L = loss(y, y_star)",
                "def my_forward(p, x):  # forward's code again, under another name\n"
                '        z = sigmoid(p["wh"][0] + x[0] * p["wh"][1] + x[1] * p["wh"][2])\n'
                '        return float(sigmoid(p["wo"][0] + p["wo"][1] * z[0] + p["wo"][2] * z[1])), z\n'
                "\n"
                "    y, z = my_forward(params, x)\n"
                "    L = loss(y, y_star)\n"
                "    grads = {}\n"
                "    for key in params:\n"
                "        grads[key] = np.zeros(np.shape(params[key]))\n"
                "        for index in np.ndindex(grads[key].shape):\n"
                "            p = {k: np.array(v, dtype=float) for k, v in params.items()}\n"
                "            p[key][index] += 1e-6\n"
                "            up = loss(my_forward(p, x)[0], y_star)\n"
                "            p[key][index] -= 2e-6\n"
                "            grads[key][index] = (up - loss(my_forward(p, x)[0], y_star)) / 2e-6\n"
                "    return L, grads",
            ),
        ],
        ("test-loss-and-partials-hidden", "test-loss-and-partials-output"),
        "02.partial.own-forward",
    ),
    _bug(
        "dL/dwo11: a forward pass of its own instead of forward's values",
        "dL-dwo11",
        [
            (
                "y, z = forward(params, x)",
                'wh, wo = params["wh"], params["wo"]\n'
                "    z = sigmoid(wh[0] + x[0] * wh[1] + x[1] * wh[2])\n"
                "    y = float(sigmoid(wo[0] + wo[1] * z[0] + wo[2] * z[1]))",
            ),
        ],
        # the chain rule, but not on forward's values: told apart from finite differences
        # of a forward the tests cannot replace only by what it does, so flagged alike
        ("test-dL-dwo11",),
        "02.partial.own-forward",
    ),
    _bug(
        "dL/dwh22: z_2 recomputed from wh instead of forward's",
        "dL-dwh22",
        [
            (
                "y, z = forward(params, x)\n    " + WH22,
                "y, _ = forward(params, x)\n"
                '    wh = params["wh"]\n'
                "    z2 = sigmoid(wh[0, 1] + x[0] * wh[1, 1] + x[1] * wh[2, 1])\n"
                '    return (y - y_star) * y * (1 - y) * params["wo"][2] * z2 * (1 - z2) * x[1]',
            ),
        ],
        ("test-dL-dwh22",),
        "02.partial.recomputes-z",
    ),
    # the XOR test takes the weights only as the end of the run's own steps
    _bug(
        "sgd: no steps, weights that solve XOR written down",
        "sgd",
        [
            (
                "params = {key: np.array(value, dtype=float) for key, value in params.items()}",
                'return {"wh": np.array([[-10.0, -30.0], [20.0, 20.0], [20.0, 20.0]]),\n'
                '            "wo": np.array([-10.0, 20.0, -20.0])}, [0.5 / (1 + e) for e in range(epochs)]\n'
                "    params = {key: np.array(value, dtype=float) for key, value in params.items()}",
            ),
        ],
        ("test-sgd-shuffle", "test-sgd-steps", "test-sgd-xor"),
        "02.sgd.no-steps",
    ),
    _bug(
        "sgd: the steps taken, then weights that solve XOR returned",
        "sgd",
        [
            (
                "    return params, history",
                '    params = {"wh": np.array([[-10.0, -30.0], [20.0, 20.0], [20.0, 20.0]]),\n'
                '              "wo": np.array([-10.0, 20.0, -20.0])}\n'
                "    return params, history",
            ),
        ],
        ("test-sgd-steps", "test-sgd-xor"),
        "02.sgd.not-its-steps",
    ),
]

# issue 21: σ' of σ(s₂) for hidden unit 2, and a bias input of 0
PLANTS += [
    _bug(
        "dL/dwh22: sigma' evaluated at z_2 (sigma'(sigma(s_2)))",
        "dL-dwh22",
        [("z[1] * (1 - z[1])", "sigmoid(z[1]) * (1 - sigmoid(z[1]))")],
        ("test-dL-dwh22",),
        "02.partial.hidden-prime-of-z",
    ),
    _bug(
        "dL/dwo01: bias input 0",
        "dL-dwo01",
        [(WO01, "return (y - y_star) * y * (1 - y) * 0.0")],
        ("test-dL-dwo01",),
        "02.partial.bias-input-0",
    ),
    _bug(
        "partials: bias input 0 (x_0 = 0)",
        "loss-and-partials",
        [("np.concatenate(([1.0], x))", "np.concatenate(([0.0], x))")],
        ("test-loss-and-partials-hidden",),
        "02.partials.bias-input-0",
    ),
]

# issue 24: the diagnoses the mutation corpus shows, planted once each
PLANTS += [
    _bug(
        "sgd: t starts at 1",
        "sgd",
        [("t = 0\n", "t = 1\n")],
        ("test-sgd-steps",),
        "02.sgd.decay",
    ),
]
