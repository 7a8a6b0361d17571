"""Planted bugs and correct alternatives for 02-sigmoid-network (notebook sigmoid_network).

Each plant edits the solution's answer cells: a bug must lose exactly the listed test cells
and their output must name it; an alternative must keep full marks.
"""

from __future__ import annotations

from autograder.plants import Plant, edit_solution

NOTEBOOK = "sigmoid_network"


def _edit(grade_id, *replacements):
    return edit_solution("02-sigmoid-network", NOTEBOOK, grade_id, *replacements)


def _bug(name, grade_id, replacements, failing, says):
    return Plant(name, NOTEBOOK, {grade_id: _edit(grade_id, *replacements)}, failing, says)


WO01 = "return (y - y_star) * y * (1 - y) * 1.0"
WO11 = "return (y - y_star) * y * (1 - y) * z[0]"
WH22 = 'return (y - y_star) * y * (1 - y) * params["wo"][2] * z[1] * (1 - z[1]) * x[1]'
DELTA_O = "delta_o = (y - y_star) * y * (1 - y)"
DELTA_H = 'delta_h = delta_o * params["wo"][1:] * z * (1 - z)'
STEP = "params[key] = params[key] - gamma_t * grads[key]"
ORDER = "for i in rng.permutation(n):"

PLANTS = [
    # forward: every gradient is judged against the student's own forward, and these
    # gradients use the right formula on the wrong values, so they fail as well
    _bug(
        "forward: wh indexed [j, i] (transposed)",
        "forward",
        [("wh[0] + x[0] * wh[1] + x[1] * wh[2]", "wh[0] + wh[1:] @ x")],
        # the output partials stay consistent with this forward; the hidden ones do not
        ("test-forward", "test-partials-hidden", "test-partials-loss"),
        "is wrong",
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
        (
            "test-dL-dwh22",
            "test-dL-dwo01",
            "test-dL-dwo11",
            "test-forward",
            "test-partials-hidden",
            "test-partials-loss",
            "test-partials-output",
        ),
        "is wrong",
    ),
    _bug(
        "forward: hidden biases left out",
        "forward",
        [("wh[0] + x[0] * wh[1] + x[1] * wh[2]", "x[0] * wh[1] + x[1] * wh[2]")],
        ("test-forward", "test-partials-hidden", "test-partials-loss"),
        "is wrong",
    ),
    # the three single partials
    _bug(
        "dL/dwo01: slide form without sigma'",
        "dL-dwo01",
        [(WO01, "return (y - y_star) * 1.0")],
        ("test-dL-dwo01",),
        "the slide form: σ'(·) at the sigmoid output is missing",
    ),
    _bug(
        "dL/dwo01: sign flipped",
        "dL-dwo01",
        [(WO01, "return (y_star - y) * y * (1 - y)")],
        ("test-dL-dwo01",),
        "sign is flipped",
    ),
    _bug(
        "dL/dwo01: factor 2 from d/dy (y - y*)^2",
        "dL-dwo01",
        [(WO01, "return 2 * (y - y_star) * y * (1 - y)")],
        ("test-dL-dwo01",),
        "factor 2",
    ),
    _bug(
        "dL/dwo11: slide form (y - y*) z_1",
        "dL-dwo11",
        [(WO11, "return (y - y_star) * z[0]")],
        ("test-dL-dwo11",),
        "the slide form",
    ),
    _bug(
        "dL/dwo11: z_2 for z_1",
        "dL-dwo11",
        [(WO11, "return (y - y_star) * y * (1 - y) * z[1]")],
        ("test-dL-dwo11",),
        "uses z_2",
    ),
    _bug(
        "dL/dwo11: sign flipped",
        "dL-dwo11",
        [(WO11, "return (y_star - y) * y * (1 - y) * z[0]")],
        ("test-dL-dwo11",),
        "sign is flipped",
    ),
    _bug(
        "dL/dwh22: hidden sigma' missing",
        "dL-dwh22",
        [(WH22, 'return (y - y_star) * y * (1 - y) * params["wo"][2] * x[1]')],
        ("test-dL-dwh22",),
        "of hidden unit 2 is missing",
    ),
    _bug(
        "dL/dwh22: w^o_{1,1} for w^o_{2,1}",
        "dL-dwh22",
        [(WH22, 'return (y - y_star) * y * (1 - y) * params["wo"][1] * z[1] * (1 - z[1]) * x[1]')],
        ("test-dL-dwh22",),
        "it uses w^o_{1,1}",
    ),
    _bug(
        "dL/dwh22: x_1 for x_2",
        "dL-dwh22",
        [(WH22, 'return (y - y_star) * y * (1 - y) * params["wo"][2] * z[1] * (1 - z[1]) * x[0]')],
        ("test-dL-dwh22",),
        "it uses x_1",
    ),
    # all nine partials
    _bug(
        "partials: slide form delta_o = y - y*",
        "loss-and-partials",
        [(DELTA_O, "delta_o = y - y_star")],
        ("test-partials-hidden", "test-partials-output"),
        "the slide form",
    ),
    _bug(
        "partials: hidden sigma' missing",
        "loss-and-partials",
        [(DELTA_H, 'delta_h = delta_o * params["wo"][1:]')],
        ("test-partials-hidden",),
        "the hidden σ'(s_j) = z_j(1 − z_j) is missing",
    ),
    _bug(
        "partials: wh gradient transposed",
        "loss-and-partials",
        [("np.outer(x_with_1, delta_h)", "np.outer(delta_h, x_with_1)")],
        ("test-partials-hidden",),
        "transpose",
    ),
    _bug(
        "partials: output weights shifted (bias weight used)",
        "loss-and-partials",
        [(DELTA_H, 'delta_h = delta_o * params["wo"][:2] * z * (1 - z)')],
        ("test-partials-hidden",),
        "wo[0] is the output bias",
    ),
    _bug(
        "partials: sigma' at z_j (a for z)",
        "loss-and-partials",
        [(DELTA_H, 'delta_h = delta_o * params["wo"][1:] * sigmoid(z) * (1 - sigmoid(z))')],
        ("test-partials-hidden",),
        "instead of at s_j",
    ),
    _bug(
        "partials: loss without the 1/2",
        "loss-and-partials",
        [("L = loss(y, y_star)", "L = (y - y_star) ** 2")],
        ("test-partials-loss",),
        "L is wrong",
    ),
    # course notation
    _bug(
        "course params: W1 not transposed",
        "to-course-params",
        [('"W1": wh[1:].T,', '"W1": wh[1:],')],
        ("test-course-params",),
        "W1 is wrong",
    ),
    _bug(
        "course params: b1 flat",
        "to-course-params",
        [('"b1": wh[0].reshape(2, 1),', '"b1": wh[0],')],
        ("test-course-params",),
        "column vector",
    ),
    _bug(
        "course params: b2 a plain number",
        "to-course-params",
        [('"b2": wo[:1].reshape(1, 1),', '"b2": wo[0],')],
        ("test-course-params",),
        "b2 has shape ()",
    ),
    # SGD
    _bug(
        "sgd: constant step size",
        "sgd",
        [("gamma_t = gamma0 / (1 + t / T)", "gamma_t = gamma0")],
        ("test-sgd-steps",),
        "must decay",
    ),
    _bug(
        "sgd: t counts epochs",
        "sgd",
        [
            ("for _ in range(epochs):", "for epoch in range(epochs):"),
            ("gamma_t = gamma0 / (1 + t / T)", "gamma_t = gamma0 / (1 + epoch / T)"),
        ],
        ("test-sgd-steps",),
        "t counts updates",
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
        "same order",
    ),
    _bug(
        "sgd: global np.random instead of rng",
        "sgd",
        [(ORDER, "for i in np.random.permutation(n):")],
        ("test-sgd-shuffle",),
        "not from np.random",
    ),
    _bug(
        "sgd: step uphill",
        "sgd",
        [(STEP, "params[key] = params[key] + gamma_t * grads[key]")],
        ("test-sgd-steps", "test-sgd-xor"),
        "w ← w − γ_t ∇L",
    ),
    # correct alternatives
    Plant(
        "alternative: loops over units, expanded algebra, rng.shuffle",
        NOTEBOOK,
        {
            "forward": _edit(
                "forward",
                (
                    "s_hidden = wh[0] + x[0] * wh[1] + x[1] * wh[2]  # (s_1, s_2)\n"
                    "    z = sigmoid(s_hidden)",
                    "z = np.zeros(2)\n"
                    "    for j in range(2):\n"
                    "        z[j] = 1 / (1 + np.exp(-(wh[0, j] + wh[1, j] * x[0] + wh[2, j] * x[1])))",
                ),
            ),
            "dL-dwo11": _edit(
                "dL-dwo11",
                (WO11, "return (y**2 - y**3 - y_star * y + y_star * y**2) * z[0]"),
            ),
            "loss-and-partials": _edit(
                "loss-and-partials",
                (
                    'grads = {"wo": delta_o * z_with_1, "wh": np.outer(x_with_1, delta_h)}',
                    'grads = {"wo": np.zeros(3), "wh": np.zeros((3, 2))}\n'
                    "    for i in range(3):\n"
                    '        grads["wo"][i] = delta_o * z_with_1[i]\n'
                    "        for j in range(2):\n"
                    '            grads["wh"][i, j] = delta_h[j] * x_with_1[i]',
                ),
            ),
            "to-course-params": _edit(
                "to-course-params",
                (
                    '"W1": wh[1:].T,',
                    '"W1": np.array([[wh[1, 0], wh[2, 0]], [wh[1, 1], wh[2, 1]]]),',
                ),
            ),
            "sgd": _edit(
                "sgd",
                (
                    ORDER,
                    "order = np.arange(n)\n        rng.shuffle(order)\n        for i in order:",
                ),
                (STEP, "params[key] -= gamma_t * grads[key]"),
            ),
        },
    ),
]
