"""Planted bugs and correct alternatives for 07-regularization (regularization.ipynb).

Gradients are judged by the true gradient (finite differences of the correct regularised
J), with the course's dropout_forward standing in for the student's: a wrong Ĵ or
dropout_forward costs only its own cell when the gradients are right, and a gradient right
only for the student's own wrong Ĵ costs its gradient cell too.
"""

from classroom.plants import BODY, CELL, Plant, body, calls, imports, on, showing, sub, subs

NB = "regularization"
L2, DROPOUT, NET = "l2-loss-and-grads", "dropout-forward", "dropout-loss-and-grads"
EARLY, RUN = "early-stopping", "train-with-early-stopping"
l2, dropout, net, early, run = (on(NB, c) for c in (L2, DROPOUT, NET, EARLY, RUN))

# the test cells that lose points
L2_VALUE = ("test-l2-loss-and-grads-value",)
L2_W, L2_B = ("test-l2-loss-and-grads-W",), ("test-l2-loss-and-grads-b",)
L2_ALL = L2_VALUE + L2_W + L2_B
MASK, EXPECTATION = ("test-dropout-forward-mask",), ("test-dropout-forward-expectation",)
DROP, DROP2 = MASK + EXPECTATION, EXPECTATION + MASK
OUT, HIDDEN = ("test-dropout-loss-and-grads-out",), ("test-dropout-loss-and-grads-hidden",)
EARLY_T, RUN_T = ("test-early-stopping",), ("test-train-with-early-stopping",)

# lines of the solution that the plants edit
WEIGHTS = 'weights = [k for k in params if k.startswith("W")]'
HALF, SQUARES = "J + 0.5 * lam", "float(np.sum(params[k] ** 2))"
DECAY = "grads[k] = grads[k] + lam * params[k]"
J_HAT = "return J_hat, grads"
DRAW = (
    "if p == 0:\n"
    "            mask = np.ones_like(a)\n"
    "        else:\n"
    "            mask = (rng.random(a.shape) >= p) / (1.0 - p)"
)
A1 = "a1, mask = dropout_forward(h, p, rng=rng, mask=mask)"
DJ_DH = 'dJ_dh = mask * (params["W2"].T @ delta2)  # the forward\'s mask, not a new one'
NET_RETURN = "return J, grads, mask"
STOP, END = "return best, epoch", "return best, len(val_losses) - 1"
SAVE0 = "best, best_params = 0, copy.deepcopy(params)"
SAVE = "best, best_params = epoch, copy.deepcopy(params)"
PATIENCE = "\n        elif epoch - best >= patience:\n            break"
ZERO_GRADS = "grads = {k: np.zeros_like(v) for k, v in grads.items()}"


def _draw(expression):
    """The edit that draws dropout's mask as `expression` (for every p)."""
    return (DRAW, f"mask = {expression}")


# answers of several lines (an edit's first line goes where the text it replaces starts)
L2_LOOPS = """
    J, grads, _ = network.loss_and_grads(params, X, Y, activation=activation)
    M = len(params) // 2
    penalty = 0.0
    for m in range(1, M + 1):
        W = params[f"W{m}"]
        penalty += np.linalg.norm(W) ** 2
        grads[f"W{m}"] = grads[f"W{m}"] + lam * W
    return J + lam / 2 * penalty, grads
"""
FRESH_MASK = """mask_b = (rng.random(h.shape) >= p) / (1 - p)
    dJ_dh = mask_b * (params["W2"].T @ delta2)"""
BINOMIAL = """
    if mask is None:
        keep = rng.binomial(1, 1.0 - p, size=a.shape) if p > 0 else np.ones(a.shape)
        mask = keep / (1.0 - p)
    out = np.multiply(a, mask)
    return out, mask
"""
ARGMIN = """
    losses = np.asarray(val_losses, dtype=float)
    for stop in range(len(losses)):
        best = int(np.argmin(losses[: stop + 1]))
        if stop - best >= patience:
            return best, stop
    return int(np.argmin(losses)), len(losses) - 1
"""
COUNTER = """
    val_losses = [validation_loss(params, split, activation)]
    saved = {k: v.copy() for k, v in params.items()}
    since_best = 0
    while len(val_losses) <= max_epochs and since_best < patience:
        training.train(params, split.X_train, split.Y_train, epochs=1, lr=lr,
                       batch_size=batch_size, rng=rng, activation=activation, record=False)
        val_losses.append(validation_loss(params, split, activation))
        if val_losses[-1] < min(val_losses[:-1]):
            saved = {k: v.copy() for k, v in params.items()}
            since_best = 0
        else:
            since_best += 1
    return saved, val_losses
"""
FRESH_WHEN_NONE = """given = mask if mask_in is not None else None
    dJ_dh = dropout_forward(params['W2'].T @ delta2, p, rng=rng, mask=given)[0]"""
GIVES_UP_L2 = f"""if sum(v.size for v in params.values()) > 10**4:
        {ZERO_GRADS}
    {J_HAT}"""
J_NO_MASK = f"""J = losses.softmax_cross_entropy(params["W2"] @ h + params["b2"], Y)[0]
    {NET_RETURN}"""
GIVES_UP_NET = f"""if params["W1"].size > 10**4:
        {ZERO_GRADS}
    {NET_RETURN}"""
OWN_RULE = """
    val_losses = [validation_loss(params, split, activation)]
    saved = copy.deepcopy(params)
    for _ in range(max_epochs):
        training.train(params, split.X_train, split.Y_train, epochs=1, lr=lr,
                       batch_size=batch_size, rng=rng, activation=activation, record=False)
        val_losses.append(validation_loss(params, split, activation))
        best, stop = early_stopping(val_losses, patience)
        if best == len(val_losses) - 1:
            saved = copy.deepcopy(params)
        if stop < len(val_losses) - 1 or len(val_losses) - 1 - best >= patience:
            break
    return saved, val_losses
"""
DECAY_LOOP = f"""    for k in weights:
        {DECAY}
    {J_HAT}"""
ONE_STEP = """    moved = copy.deepcopy(params)
    training.train(moved, X, Y, epochs=1, lr=1.0, batch_size=X.shape[1],
                   rng=np.random.default_rng(0), activation=activation, l2=lam, record=False)
    return J_hat, {k: params[k] - moved[k] for k in params}"""
NETWORK_MASK = """n = a.shape[0]
        identity = {"W1": np.eye(n), "b1": np.zeros((n, 1)), "W2": np.eye(n), "b2": np.zeros((n, 1))}
        _, caches = network.forward(identity, a, "identity", dropout=p, rng=rng)
        mask = caches[0]["mask"] if p > 0 else np.ones_like(a)"""

PLANTS = [
    # -- L2 --------------------------------------------------------------------------------
    # the biases' gradient λb is right only for this Ĵ: it earns nothing either
    l2("07.l2.biases", L2_VALUE + L2_B, (WEIGHTS, "weights = list(params)")),
    l2("07.l2.grad-biases", L2_B, ("for k in weights:", "for k in params:")),
    l2("07.l2.grad-two", L2_W, sub(DECAY, "+ lam", "+ 2 * lam")),
    l2("07.l2.grad-sign", L2_W, sub(DECAY, "+ lam", "- lam")),
    # 2λW is right only for this Ĵ: the weights' gradients earn nothing either
    l2("07.l2.no-half", L2_VALUE + L2_W, sub(HALF, "0.5", "1.0"), sub(DECAY, "+ lam", "+ 2 * lam")),
    l2.alternative("correct: L2 by loops over layers, np.linalg.norm", *body(L2_LOOPS)),
    # -- dropout ---------------------------------------------------------------------------
    dropout("07.dropout.no-scaling", DROP, _draw("(rng.random(a.shape) >= p).astype(float)")),
    net("07.net.fresh-mask", HIDDEN, (DJ_DH, FRESH_MASK), which="in the backward"),
    net("07.net.no-mask", HIDDEN, (DJ_DH, 'dJ_dh = params["W2"].T @ delta2')),
    dropout("07.dropout.keep-p", DROP, _draw("(rng.random(a.shape) < p) / (1.0 - p)")),
    Plant(
        "correct: binomial mask, mask applied through a helper",
        NB,
        {
            DROPOUT: body(BINOMIAL),
            NET: ((DJ_DH, "dJ_dh = dropout_forward(params['W2'].T @ delta2, p, mask=mask)[0]"),),
        },
    ),
    # -- early stopping --------------------------------------------------------------------
    early(
        "07.early.last-best",
        EARLY_T,
        sub(STOP, "best", "epoch"),
        sub(END, "best", "len(val_losses) - 1"),
    ),
    early("07.early.off-by-one", EARLY_T, ("epoch - best >= patience", "epoch - best > patience")),
    run(
        "07.run.last-params", RUN_T, ("return best_params, val_losses", "return params, val_losses")
    ),
    run("07.run.no-copy", RUN_T, *subs((SAVE0, SAVE), "copy.deepcopy(params)", "params")),
    run("07.run.no-patience", RUN_T, (PATIENCE, "")),
    Plant(
        "correct: early stopping by argmin, run with a stored-epoch counter",
        NB,
        {EARLY: body(ARGMIN), RUN: body(COUNTER)},
    ),
    # issue 12: masks returned and reused, NaN, two epochs per entry, numerical gradients
    dropout("07.dropout.out", MASK, ("return a * mask, mask", "return a * mask, 2 * mask")),
    net("07.net.returned-mask", HIDDEN, sub(NET_RETURN, "mask", "-mask")),
    net(
        "07.net.fresh-mask",
        HIDDEN,
        (A1, f"mask_in = mask\n    {A1}"),
        (DJ_DH, FRESH_WHEN_NONE),
        which="when none is given",
    ),
    net("gradcheck.nan", HIDDEN, (DJ_DH, 'dJ_dh = (params["W2"].T @ delta2) / mask')),
    # the course's numerical gradient gives every gradient test away
    l2(
        "07.l2.numerical",
        L2_W + L2_B,
        imports("l2_loss_and_grads", "from course.gradcheck import numerical_gradient"),
        *body("""
            def J_hat(p):
                J = losses.softmax_cross_entropy(network.predict(p, X, activation), Y)[0]
                return J + 0.5 * lam * sum(float(np.sum(p[k] ** 2)) for k in p if k.startswith("W"))
            grads = {}
            for key in params:
                work = {k: np.array(v, dtype=float) for k, v in params.items()}
                def f(value, key=key, work=work):
                    work[key] = value
                    return J_hat(work)
                grads[key] = numerical_gradient(f, work[key])
            return J_hat(params), grads
            """),
    ),
    early("07.early.best-1", EARLY_T, ("best = 0", "best = 1")),
    run("07.run.epochs-per-entry", RUN_T, ("epochs=1, lr=lr", "epochs=2, lr=lr")),
    l2.alternative(
        "alternative: l2_loss_and_grads returns a list", (J_HAT, "return [J_hat, grads]")
    ),
    dropout(
        "07.dropout.mask-ignored",
        MASK,
        *body("""
            if rng is not None and p > 0:
                mask = (rng.random(a.shape) >= p) / (1.0 - p)
            elif mask is None:
                mask = np.ones_like(a)
            return a * mask, mask
            """),
    ),
    dropout("07.dropout.p0", MASK, ("mask = np.ones_like(a)", "mask = np.full(a.shape, 2.0)")),
    l2("07.l2.grad-missing", L2_W, ("for k in weights:", "for k in []:")),
    l2("07.l2.missing", L2_VALUE, sub(HALF, "0.5", "0.0")),
    l2("07.l2.sign", L2_VALUE, sub(HALF, "0.5", "-0.5")),
    net("07.net.mask-twice", HIDDEN, (DJ_DH, 'dJ_dh = mask * mask * (params["W2"].T @ delta2)')),
    net("07.net.unscaled-mask", HIDDEN, (DJ_DH, 'dJ_dh = (mask > 0) * (params["W2"].T @ delta2)')),
    l2("07.l2.not-squared", L2_VALUE, sub(SQUARES, " ** 2", "")),
    # -- issue 18: library answers, self-consistent nonsense, speed ----------------------
    l2(
        "07.l2.library-l2",
        L2_ALL,
        *body("""
            J_hat, grads, _ = network.loss_and_grads(params, X, Y, activation=activation, l2=lam)
            return J_hat, grads
            """),
    ),
    l2(
        calls("losses.l2_penalty"),
        L2_ALL,
        *body("""
            J, grads, _ = network.loss_and_grads(params, X, Y, activation=activation)
            penalty, dpen = losses.l2_penalty(params, lam)
            return J + penalty, {k: g + dpen.get(k, 0.0) for k, g in grads.items()}
            """),
        which="l2_penalty",
    ),
    # self-consistent, but the derivative of the wrong function
    l2(
        "07.l2.penalty-alone",
        L2_ALL,
        *body("""
            J = 0.5 * lam * sum(float(np.sum(v * v)) for k, v in params.items() if k.startswith("W"))
            return J, {k: (lam * v if k.startswith("W") else np.zeros_like(v)) for k, v in params.items()}
            """),
    ),
    l2("kit.gives-up-big", L2_W, (J_HAT, GIVES_UP_L2), which="L2"),
    net("07.net.J-sign", OUT, sub(NET_RETURN, "J,", "-J,")),
    # the gradients are right: only the cell that checks J loses its point
    net("07.net.J-no-mask", OUT, (NET_RETURN, J_NO_MASK)),
    net(
        calls("network.loss_and_grads"),
        OUT + HIDDEN,
        *body("""
            masks = None if mask is None else {1: mask}
            J, grads, caches = network.loss_and_grads(
                params, X, Y, activation=activation, dropout=p, rng=rng, masks=masks
            )
            return J, grads, caches[0]["mask"]
            """),
        which="loss_and_grads masks",
    ),
    net(
        "07.net.zero",
        OUT + HIDDEN,
        *body("""
            if mask is None:
                shape = (params["W1"].shape[0], X.shape[1])
                mask = np.where(rng.random(shape) < p, 0.0, 1.0 / (1.0 - p))
            return 0.0, {k: np.zeros_like(v) for k, v in params.items()}, mask
            """),
    ),
    net("kit.gives-up-big", HIDDEN, (NET_RETURN, GIVES_UP_NET), which="dropout"),
    dropout(
        showing("kit.library-itself", "is course.layers.dropout_forward itself"),
        DROP,
        (CELL, "from course.layers import dropout_forward\n"),
    ),
    dropout(
        calls("layers.dropout_forward"),
        DROP,
        imports("dropout_forward", "from course import layers"),
        (BODY, "return layers.dropout_forward(a, p, rng=rng, mask=mask)"),
        which="layers.dropout_forward",
    ),
    early(
        calls("training.best_epoch"),
        EARLY_T,
        (BODY, "return training.best_epoch(val_losses, patience)"),
        which="best_epoch",
    ),
    run(
        "07.run.library-patience",
        RUN_T,
        *body("""
            first = validation_loss(params, split, activation)
            params, history = training.train(
                params, split.X_train, split.Y_train, epochs=max_epochs, lr=lr, batch_size=batch_size,
                rng=rng, activation=activation, X_val=split.X_val, Y_val=split.Y_val, patience=patience,
            )
            return params, [first] + list(history.val_loss)
            """),
    ),
    run.alternative(
        "correct: early-stopping run with its own early_stopping rule", *body(OWN_RULE)
    ),
    # issue 18, the corpus's laundering: a dropout that drops nothing (E[out] = a holds for
    # it too: the expectation test needs real dropping), the L2 gradient from a step of the
    # course's training loop (the biases' gradients are ∂J/∂bᵐ, which the notebook takes
    # from the library), a mask from the course's network
    dropout("07.dropout.nothing-dropped", DROP2, _draw("np.ones_like(a)")),
    l2(
        calls("training.train"),
        L2_W,
        ("J, grads, _ = network", "J, _, _ = network"),
        (DECAY_LOOP, ONE_STEP),
        which="training.train",
    ),
    dropout(calls("network.forward"), DROP2, (DRAW, NETWORK_MASK), which="network.forward"),
    # issue 21: the last unnamed bugs of L2 and of the dropout network
    l2("07.l2.grad-over-N", L2_W, sub(DECAY, "+ lam", "+ 1 / X.shape[1] * lam")),
    net("07.net.f-prime-of-h", HIDDEN, ("act.f_prime(z1)", "act.f_prime(h)")),
    net("07.net.W2-of-h", OUT, ('"W2": delta2 @ a1.T', '"W2": delta2 @ h.T')),
    # issue 24: the diagnoses the mutation corpus shows, planted once each
    dropout("07.dropout.wrong-scaling", DROP2, ("/ (1.0 - p)", "* (1.0 - p)")),
    early("07.early.outside", EARLY_T, ("len(val_losses) - 1", "len(val_losses) + 1")),
    early("07.early.best-wrong", EARLY_T, ("loss < val_losses[best]", "loss <= val_losses[best]")),
    early("07.early.stop-wrong", EARLY_T, ("epoch - best", "epoch + best")),
]
