"""Planted bugs and correct alternatives for 05-training (notebook training.ipynb)."""

from classroom.plants import BODY, Plant, body, bug, showing

NB = "training"

SHUFFLE = "order = rng.permutation(N)"
BATCHES = "range(0, N, batch_size)"
STEP = "params[k] = params[k] - lr * grads[k]"
DIGITS_RECIPE = "epochs=20, lr=0.5, batch_size=32"
SGD_TESTS = ("test-train-sgd-batches", "test-train-sgd-reshuffle", "test-train-sgd-step")


def _sgd(key, name, failing, *edits):
    return bug(key, name, NB, {"train-sgd": edits}, failing)


def _cell(key, name, cell, failing, *edits):
    return bug(key, name, NB, {cell: edits}, failing)


#: train_digits by the student's train_sgd (the solution uses the course's training.train)
OWN_SGD = (
    ("params, _ = training.train(", "params = train_sgd("),
    (", record=False,", ","),
)

PLANTS = [
    _sgd(
        showing("kit.library-call", "calls course.training.train"),
        "the library's answer: training.train for the loop",
        SGD_TESTS,
        (
            BODY,
            """
            params, _ = training.train(
                params, X, Y, epochs=epochs, lr=lr, batch_size=batch_size, rng=rng,
                activation=activation, record=False,
            )
            return params
            """,
        ),
    ),
    _sgd(
        "05.sgd.no-reshuffle",
        "no reshuffle: one permutation for all epochs",
        ("test-train-sgd-reshuffle",),
        ("    for _ in range(epochs):\n", f"    {SHUFFLE}\n    for _ in range(epochs):\n"),
        (f"        {SHUFFLE}  # a fresh order every epoch\n", ""),
    ),
    _sgd(
        "05.sgd.no-shuffle",
        "no shuffle at all",
        ("test-train-sgd-batches", "test-train-sgd-reshuffle"),
        (SHUFFLE, "order = np.arange(N)"),
    ),
    _sgd(
        "05.sgd.global-rng",
        "shuffle from numpy's global generator",
        ("test-train-sgd-reshuffle",),
        (SHUFFLE, "order = np.random.permutation(N)"),
    ),
    _sgd(
        "05.sgd.batches",
        "last partial minibatch dropped",
        SGD_TESTS,
        (BATCHES, "range(0, N - batch_size + 1, batch_size)"),
    ),
    _sgd(
        "05.sgd.sign",
        "update sign flipped",
        ("test-train-sgd-step",),
        (STEP, "params[k] = params[k] + lr * grads[k]"),
    ),
    _sgd(
        "05.sgd.no-lr",
        "learning rate missing",
        ("test-train-sgd-step",),
        (STEP, "params[k] = params[k] - grads[k]"),
    ),
    Plant(
        "correct: in-place shuffle and in-place update",
        NB,
        {
            "train-sgd": body("""
                    N = X.shape[1]
                    idx_all = np.arange(N)
                    for epoch in range(epochs):
                        rng.shuffle(idx_all)
                        batches = [idx_all[s : s + batch_size] for s in range(0, N, batch_size)]
                        for idx in batches:
                            J, g, _ = network.loss_and_grads(
                                params, X[:, idx], Y[:, idx], activation=activation
                            )
                            for name, grad in g.items():
                                params[name] -= lr * grad
                    return params
                    """)
        },
    ),
    _cell(
        "05.lr.too-large",
        "chosen learning rate too large",
        "chosen-lr",
        ("test-chosen-lr",),
        ("chosen_lr = 1.0", "chosen_lr = 100.0"),
    ),
    _cell(
        "05.lr.too-small",
        "chosen learning rate too small",
        "chosen-lr",
        ("test-chosen-lr",),
        ("chosen_lr = 1.0", "chosen_lr = 0.01"),
    ),
    _cell(
        "05.spread.rows",
        "unit spread within each row instead of across units",
        "unit-spread",
        ("test-unit-spread",),
        ("W.max(axis=0) - W.min(axis=0)", "W.max(axis=1) - W.min(axis=1)"),
    ),
    _cell(
        "05.symmetry.random",
        "random initialisation in the symmetric run",
        "train-constant-init",
        ("test-train-constant-init",),
        (
            '"constant", scale=value)',
            '"xavier", np.random.default_rng(0))',
        ),
    ),
    _cell(
        "05.symmetry.steps",
        "symmetric run one step short",
        "train-constant-init",
        ("test-train-constant-init",),
        ("range(steps)", "range(steps - 1)"),
    ),
    Plant(
        "correct: ptp spread, symmetric run through train_sgd with one full batch",
        NB,
        {
            "unit-spread": body("return np.ptp(W, axis=0).max()"),
            "train-constant-init": (
                (
                    "    for _ in range(steps):\n"
                    "        _, grads, _ = network.loss_and_grads(params, X, Y)\n"
                    "        for k in params:\n"
                    "            params[k] = params[k] - lr * grads[k]\n"
                    "    return params",
                    "    N = X.shape[1]\n"
                    "    return train_sgd(params, X, Y, epochs=steps, lr=lr, batch_size=N,\n"
                    "                     rng=np.random.default_rng(0))",
                ),
            ),
        },
    ),
    _cell(
        "05.digits.undertrained",
        "digits undertrained",
        "train-digits",
        ("test-train-digits",),
        *OWN_SGD,
        (DIGITS_RECIPE, "epochs=1, lr=0.01, batch_size=32"),
    ),
    _cell(
        "05.confusion.transposed",
        "confusion matrix transposed",
        "confusion-matrix",
        ("test-confusion-matrix",),
        ("(y_true, y_pred), 1)", "(y_pred, y_true), 1)"),
    ),
    Plant(
        "correct: digits with tanh and the student's SGD, confusion by loops",
        NB,
        {
            "train-digits": body("""
                    params = network.init_params([64, 64, 10], "lecun", rng)
                    for epoch in range(25):
                        params = train_sgd(params, split.X_train, split.Y_train, epochs=1, lr=0.1,
                                           batch_size=16, rng=rng, activation="tanh")
                    return params, "tanh"
                    """),
            "confusion-matrix": (
                ("C = np.zeros((K, K))", "C = np.zeros((K, K), dtype=int)"),
                (
                    "np.add.at(C, (y_true, y_pred), 1)",
                    "for t, p in zip(y_true, y_pred):\n        C[t][p] = C[t][p] + 1",
                ),
            ),
        },
    ),
    # issue 12: the activation passed on
    _sgd(
        "05.sgd.activation",
        "activation not passed on to loss_and_grads",
        ("test-train-sgd-step",),
        ("Y[:, idx], activation=activation", "Y[:, idx]"),
    ),
    _sgd(
        "05.sgd.scaled",
        "SGD step of lr / batch size",
        ("test-train-sgd-step",),
        (STEP, "params[k] = params[k] - lr / len(idx) * grads[k]"),
    ),
    _sgd(
        "05.sgd.not-updated",
        "SGD updates only the weights",
        ("test-train-sgd-step",),
        ("for k in params:", "for k in [k for k in params if k[0] == 'W']:"),
    ),
    _cell(
        "05.confusion.count",
        "confusion matrix counting each example twice",
        "confusion-matrix",
        ("test-confusion-matrix",),
        ("(y_true, y_pred), 1)", "(y_true, y_pred), 2)"),
    ),
    # issue 21: a wrong train_sgd under a good digits recipe sends the student to train_sgd
    Plant(
        "update sign flipped, digits trained with it",
        NB,
        {
            "train-sgd": ((STEP, "params[k] = params[k] + lr * grads[k]"),),
            "train-digits": OWN_SGD,
        },
        failing=("test-train-sgd-step", "test-train-digits"),
        # `test-train-digits` names the downstream diagnosis and quotes `test-train-sgd-step`'s: both
        # cells say the sign is flipped
        bug="05.digits.train-sgd",
        says="the sign is flipped",
    ),
]

# issue 24: the diagnoses the mutation corpus shows, planted once each
PLANTS += [
    _sgd(
        "05.sgd.wrong-step",
        "step divided by the gradient",
        ("test-train-sgd-step",),
        ("lr * grads[k]", "lr / grads[k]"),
    ),
]
