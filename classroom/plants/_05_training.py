"""Planted bugs and correct alternatives for 05-training (notebook training.ipynb)."""

from classroom.plants import Plant, body, bug, calls, on, showing, sub

NB = "training"
sgd, chosen_lr, spread = on(NB, "train-sgd"), on(NB, "chosen-lr"), on(NB, "unit-spread")
symmetric, digits, confusion = (
    on(NB, c) for c in ("train-constant-init", "train-digits", "confusion-matrix")
)

# the test cells that lose points
BATCHES_T, RESHUFFLE = ("test-train-sgd-batches",), ("test-train-sgd-reshuffle",)
STEP_T = ("test-train-sgd-step",)
SGD_TESTS = BATCHES_T + RESHUFFLE + STEP_T
LR_T, SPREAD_T = ("test-chosen-lr",), ("test-unit-spread",)
SYMMETRY_T = ("test-train-constant-init",)
DIGITS_T, CONFUSION_T = ("test-train-digits",), ("test-confusion-matrix",)

# lines of the solution that the plants edit
SHUFFLE = "order = rng.permutation(N)"
BATCHES = "range(0, N, batch_size)"
STEP = "params[k] = params[k] - lr * grads[k]"
UPHILL = sub(STEP, "- lr", "+ lr")
CHOSEN, SPREAD = "chosen_lr = 1.0", "W.max(axis=0) - W.min(axis=0)"
CONSTANT = '"constant", scale=value)'
RECIPE = "epochs=20, lr=0.5, batch_size=32"
COUNT = "(y_true, y_pred), 1)"
#: train_digits by the student's train_sgd (the solution uses the course's training.train)
OWN_SGD = (("params, _ = training.train(", "params = train_sgd("), (", record=False,", ","))

# answers of several lines (an edit's first line goes where the text it replaces starts)
IN_PLACE = """
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
"""
SYMMETRIC_RUN = """    for _ in range(steps):
        _, grads, _ = network.loss_and_grads(params, X, Y)
        for k in params:
            params[k] = params[k] - lr * grads[k]
    return params"""
BY_TRAIN_SGD = """    N = X.shape[1]
    return train_sgd(params, X, Y, epochs=steps, lr=lr, batch_size=N,
                     rng=np.random.default_rng(0))"""
TANH_DIGITS = """
    params = network.init_params([64, 64, 10], "lecun", rng)
    for epoch in range(25):
        params = train_sgd(params, split.X_train, split.Y_train, epochs=1, lr=0.1,
                           batch_size=16, rng=rng, activation="tanh")
    return params, "tanh"
"""
LOOPS = "for t, p in zip(y_true, y_pred):\n        C[t][p] = C[t][p] + 1"

PLANTS = [
    sgd(
        calls("training.train"),
        SGD_TESTS,
        *body("""
            params, _ = training.train(
                params, X, Y, epochs=epochs, lr=lr, batch_size=batch_size, rng=rng,
                activation=activation, record=False,
            )
            return params
            """),
    ),
    sgd(
        "05.sgd.no-reshuffle",
        RESHUFFLE,
        ("    for _ in range(epochs):\n", f"    {SHUFFLE}\n    for _ in range(epochs):\n"),
        (f"        {SHUFFLE}  # a fresh order every epoch\n", ""),
    ),
    sgd("05.sgd.no-shuffle", BATCHES_T + RESHUFFLE, (SHUFFLE, "order = np.arange(N)")),
    sgd("05.sgd.global-rng", RESHUFFLE, sub(SHUFFLE, "rng", "np.random")),
    sgd("05.sgd.batches", SGD_TESTS, (BATCHES, "range(0, N - batch_size + 1, batch_size)")),
    sgd("05.sgd.sign", STEP_T, UPHILL),
    sgd("05.sgd.no-lr", STEP_T, sub(STEP, "lr * ", "")),
    sgd.alternative("correct: in-place shuffle and in-place update", *body(IN_PLACE)),
    chosen_lr("05.lr.too-large", LR_T, sub(CHOSEN, "1.0", "100.0")),
    chosen_lr("05.lr.too-small", LR_T, sub(CHOSEN, "1.0", "0.01")),
    spread("05.spread.rows", SPREAD_T, (SPREAD, "W.max(axis=1) - W.min(axis=1)")),
    symmetric("05.symmetry.random", SYMMETRY_T, (CONSTANT, '"xavier", np.random.default_rng(0))')),
    symmetric("05.symmetry.steps", SYMMETRY_T, ("range(steps)", "range(steps - 1)")),
    Plant(
        "correct: ptp spread, symmetric run through train_sgd with one full batch",
        NB,
        {
            "unit-spread": body("return np.ptp(W, axis=0).max()"),
            "train-constant-init": ((SYMMETRIC_RUN, BY_TRAIN_SGD),),
        },
    ),
    digits(
        "05.digits.undertrained", DIGITS_T, *OWN_SGD, (RECIPE, "epochs=1, lr=0.01, batch_size=32")
    ),
    confusion("05.confusion.transposed", CONFUSION_T, (COUNT, "(y_pred, y_true), 1)")),
    Plant(
        "correct: digits with tanh and the student's SGD, confusion by loops",
        NB,
        {
            "train-digits": body(TANH_DIGITS),
            "confusion-matrix": (
                ("C = np.zeros((K, K))", "C = np.zeros((K, K), dtype=int)"),
                ("np.add.at(C, (y_true, y_pred), 1)", LOOPS),
            ),
        },
    ),
    # issue 12: the activation passed on
    sgd("05.sgd.activation", STEP_T, ("Y[:, idx], activation=activation", "Y[:, idx]")),
    sgd("05.sgd.scaled", STEP_T, sub(STEP, "lr *", "lr / len(idx) *")),
    sgd(
        "05.sgd.not-updated",
        STEP_T,
        ("for k in params:", "for k in [k for k in params if k[0] == 'W']:"),
    ),
    confusion("05.confusion.count", CONFUSION_T, (COUNT, "(y_true, y_pred), 2)")),
    # issue 21: a wrong train_sgd under a good digits recipe sends the student to train_sgd;
    # test-train-digits names the downstream diagnosis and quotes test-train-sgd-step's: both
    # cells say the sign is flipped
    bug(
        showing("05.digits.train-sgd", "the sign is flipped"),
        NB,
        {"train-sgd": (UPHILL,), "train-digits": OWN_SGD},
        STEP_T + DIGITS_T,
    ),
    # issue 24: the diagnoses the mutation corpus shows, planted once each
    sgd("05.sgd.wrong-step", STEP_T, ("lr * grads[k]", "lr / grads[k]")),
]
