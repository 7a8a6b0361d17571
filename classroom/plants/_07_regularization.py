"""Planted bugs and correct alternatives for 07-regularization (regularization.ipynb).

Gradients are judged by the true gradient (finite differences of the correct regularised
J), with the course's dropout_forward standing in for the student's: a wrong Ĵ or
dropout_forward costs only its own cell when the gradients are right, and a gradient right
only for the student's own wrong Ĵ costs its gradient cell too.
"""

from classroom.plants import BODY, CELL, Plant, body, imports, on, showing

NB = "regularization"
L2, DROPOUT, NET = "l2-loss-and-grads", "dropout-forward", "dropout-loss-and-grads"
EARLY, RUN = "early-stopping", "train-with-early-stopping"


# lines of the solution that the plants edit
WEIGHTS = 'weights = [k for k in params if k.startswith("W")]'
HALF = "J + 0.5 * lam"
SQUARES = "float(np.sum(params[k] ** 2))"
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
STOP = "return best, epoch"
END = "return best, len(val_losses) - 1"
SAVE0 = "best, best_params = 0, copy.deepcopy(params)"
SAVE = "best, best_params = epoch, copy.deepcopy(params)"
ZERO_GRADS = "grads = {k: np.zeros_like(v) for k, v in grads.items()}"


def _draw(expression):
    """The edit that draws dropout's mask as `expression` (for every p)."""
    return (DRAW, f"mask = {expression}")


early_bug, run_bug = on(NB, EARLY), on(NB, RUN)
l2_bug, dropout_bug, net_bug = on(NB, L2), on(NB, DROPOUT), on(NB, NET)

PLANTS = [
    # -- L2 --------------------------------------------------------------------------------
    l2_bug(
        "07.l2.biases",
        "L2 on the biases, in the loss and the gradient",
        # the biases' gradient λb is right only for this Ĵ: it earns nothing either
        ("test-l2-loss-and-grads-value", "test-l2-loss-and-grads-b"),
        (WEIGHTS, "weights = list(params)"),
    ),
    l2_bug(
        "07.l2.grad-biases",
        "L2 on the biases in the gradient only",
        ("test-l2-loss-and-grads-b",),
        ("for k in weights:", "for k in params:"),
    ),
    l2_bug(
        "07.l2.grad-two",
        "factor 2 in the weight-decay gradient",
        ("test-l2-loss-and-grads-W",),
        (DECAY, "grads[k] = grads[k] + 2 * lam * params[k]"),
    ),
    l2_bug(
        "07.l2.grad-sign",
        "weight-decay gradient with the wrong sign",
        ("test-l2-loss-and-grads-W",),
        (DECAY, "grads[k] = grads[k] - lam * params[k]"),
    ),
    l2_bug(
        "07.l2.no-half",
        "penalty without the ½",
        # 2λW is right only for this Ĵ: the weights' gradients earn nothing either
        ("test-l2-loss-and-grads-value", "test-l2-loss-and-grads-W"),
        (HALF, "J + 1.0 * lam"),
        (DECAY, "grads[k] = grads[k] + 2 * lam * params[k]"),
    ),
    Plant(
        "correct: L2 by loops over layers, np.linalg.norm",
        NB,
        {
            L2: body("""
                    J, grads, _ = network.loss_and_grads(params, X, Y, activation=activation)
                    M = len(params) // 2
                    penalty = 0.0
                    for m in range(1, M + 1):
                        W = params[f"W{m}"]
                        penalty += np.linalg.norm(W) ** 2
                        grads[f"W{m}"] = grads[f"W{m}"] + lam * W
                    return J + lam / 2 * penalty, grads
                    """)
        },
    ),
    # -- dropout ---------------------------------------------------------------------------
    dropout_bug(
        "07.dropout.no-scaling",
        "dropout without the 1/(1−p) scaling",
        ("test-dropout-forward-mask", "test-dropout-forward-expectation"),
        _draw("(rng.random(a.shape) >= p).astype(float)"),
    ),
    net_bug(
        "07.net.fresh-mask",
        "dropout draws a fresh mask in the backward pass",
        ("test-dropout-loss-and-grads-hidden",),
        (
            DJ_DH,
            "mask_b = (rng.random(h.shape) >= p) / (1 - p)\n"
            '    dJ_dh = mask_b * (params["W2"].T @ delta2)',
        ),
    ),
    net_bug(
        "07.net.no-mask",
        "dropout mask missing from the backward pass",
        ("test-dropout-loss-and-grads-hidden",),
        (DJ_DH, 'dJ_dh = params["W2"].T @ delta2'),
    ),
    dropout_bug(
        "07.dropout.keep-p",
        "dropout keeps with probability p instead of dropping",
        ("test-dropout-forward-mask", "test-dropout-forward-expectation"),
        _draw("(rng.random(a.shape) < p) / (1.0 - p)"),
    ),
    Plant(
        "correct: binomial mask, mask applied through a helper",
        NB,
        {
            DROPOUT: body("""
                    if mask is None:
                        keep = rng.binomial(1, 1.0 - p, size=a.shape) if p > 0 else np.ones(a.shape)
                        mask = keep / (1.0 - p)
                    out = np.multiply(a, mask)
                    return out, mask
                    """),
            NET: ((DJ_DH, "dJ_dh = dropout_forward(params['W2'].T @ delta2, p, mask=mask)[0]"),),
        },
    ),
    # -- early stopping --------------------------------------------------------------------
    early_bug(
        "07.early.last-best",
        "early stopping reports the last epoch as the best",
        ("test-early-stopping",),
        (STOP, "return epoch, epoch"),
        (END, "return len(val_losses) - 1, len(val_losses) - 1"),
    ),
    early_bug(
        "07.early.off-by-one",
        "early stopping one epoch late",
        ("test-early-stopping",),
        ("epoch - best >= patience", "epoch - best > patience"),
    ),
    run_bug(
        "07.run.last-params",
        "early-stopping run returns the last epoch's parameters",
        ("test-train-with-early-stopping",),
        ("return best_params, val_losses", "return params, val_losses"),
    ),
    run_bug(
        "07.run.no-copy",
        "early-stopping run saves the parameters without a copy",
        ("test-train-with-early-stopping",),
        (SAVE0, "best, best_params = 0, params"),
        (SAVE, "best, best_params = epoch, params"),
    ),
    run_bug(
        "07.run.no-patience",
        "early-stopping run ignores patience",
        ("test-train-with-early-stopping",),
        ("\n        elif epoch - best >= patience:\n            break", ""),
    ),
    Plant(
        "correct: early stopping by argmin, run with a stored-epoch counter",
        NB,
        {
            EARLY: body("""
                    losses = np.asarray(val_losses, dtype=float)
                    for stop in range(len(losses)):
                        best = int(np.argmin(losses[: stop + 1]))
                        if stop - best >= patience:
                            return best, stop
                    return int(np.argmin(losses)), len(losses) - 1
                    """),
            RUN: body("""
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
                    """),
        },
    ),
    # issue 12: masks returned and reused, NaN, two epochs per entry, numerical gradients
    dropout_bug(
        "07.dropout.out",
        "dropout_forward returns twice the mask",
        ("test-dropout-forward-mask",),
        ("return a * mask, mask", "return a * mask, 2 * mask"),
    ),
    net_bug(
        "07.net.returned-mask",
        "dropout_loss_and_grads returns minus the mask",
        ("test-dropout-loss-and-grads-hidden",),
        (NET_RETURN, "return J, grads, -mask"),
    ),
    net_bug(
        "07.net.fresh-mask",
        "backward draws a fresh mask when none is given",
        ("test-dropout-loss-and-grads-hidden",),
        (A1, f"mask_in = mask\n    {A1}"),
        (
            DJ_DH,
            "given = mask if mask_in is not None else None\n"
            "    dJ_dh = dropout_forward(params['W2'].T @ delta2, p, rng=rng, mask=given)[0]",
        ),
    ),
    net_bug(
        "gradcheck.nan",
        "backward divides by the mask (NaN)",
        ("test-dropout-loss-and-grads-hidden",),
        (DJ_DH, 'dJ_dh = (params["W2"].T @ delta2) / mask'),
    ),
    l2_bug(
        "07.l2.numerical",
        "L2 gradient by numerical differentiation",
        # the course's numerical gradient gives every gradient test away
        ("test-l2-loss-and-grads-W", "test-l2-loss-and-grads-b"),
        imports("l2_loss_and_grads", "from course.gradcheck import numerical_gradient"),
        (
            BODY,
            """
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
            """,
        ),
    ),
    early_bug(
        "07.early.best-1",
        "early stopping starting from best = 1",
        ("test-early-stopping",),
        ("best = 0", "best = 1"),
    ),
    run_bug(
        "07.run.epochs-per-entry",
        "early-stopping run trains two epochs per entry",
        ("test-train-with-early-stopping",),
        ("epochs=1, lr=lr", "epochs=2, lr=lr"),
    ),
    Plant(
        "alternative: l2_loss_and_grads returns a list",
        NB,
        {L2: ((J_HAT, "return [J_hat, grads]"),)},
    ),
    dropout_bug(
        "07.dropout.mask-ignored",
        "dropout_forward draws a new mask even when given one",
        ("test-dropout-forward-mask",),
        (
            BODY,
            """
            if rng is not None and p > 0:
                mask = (rng.random(a.shape) >= p) / (1.0 - p)
            elif mask is None:
                mask = np.ones_like(a)
            return a * mask, mask
            """,
        ),
    ),
    dropout_bug(
        "07.dropout.p0",
        "dropout_forward rescales at p = 0",
        ("test-dropout-forward-mask",),
        ("mask = np.ones_like(a)", "mask = np.full(a.shape, 2.0)"),
    ),
    l2_bug(
        "07.l2.grad-missing",
        "lambda W missing from the gradient",
        ("test-l2-loss-and-grads-W",),
        ("for k in weights:", "for k in []:"),
    ),
    l2_bug(
        "07.l2.missing",
        "penalty missing from J_hat",
        ("test-l2-loss-and-grads-value",),
        (HALF, "J + 0.0 * lam"),
    ),
    l2_bug(
        "07.l2.sign",
        "penalty subtracted",
        ("test-l2-loss-and-grads-value",),
        (HALF, "J + -0.5 * lam"),
    ),
    net_bug(
        "07.net.mask-twice",
        "mask applied twice in the backward pass",
        ("test-dropout-loss-and-grads-hidden",),
        (DJ_DH, 'dJ_dh = mask * mask * (params["W2"].T @ delta2)'),
    ),
    net_bug(
        "07.net.unscaled-mask",
        "mask without its scaling in the backward pass",
        ("test-dropout-loss-and-grads-hidden",),
        (DJ_DH, 'dJ_dh = (mask > 0) * (params["W2"].T @ delta2)'),
    ),
    l2_bug(
        "07.l2.not-squared",
        "penalty of the entries, not their squares",
        ("test-l2-loss-and-grads-value",),
        (SQUARES, "float(np.sum(params[k]))"),
    ),
    # -- issue 18: library answers, self-consistent nonsense, speed ----------------------
    l2_bug(
        "07.l2.library-l2",
        "L2 through network.loss_and_grads(l2=lam)",
        ("test-l2-loss-and-grads-value", "test-l2-loss-and-grads-W", "test-l2-loss-and-grads-b"),
        (
            BODY,
            """
            J_hat, grads, _ = network.loss_and_grads(params, X, Y, activation=activation, l2=lam)
            return J_hat, grads
            """,
        ),
    ),
    l2_bug(
        showing("kit.library-call", "calls course.losses.l2_penalty"),
        "L2 through losses.l2_penalty",
        ("test-l2-loss-and-grads-value", "test-l2-loss-and-grads-W", "test-l2-loss-and-grads-b"),
        (
            BODY,
            """
            J, grads, _ = network.loss_and_grads(params, X, Y, activation=activation)
            penalty, dpen = losses.l2_penalty(params, lam)
            return J + penalty, {k: g + dpen.get(k, 0.0) for k, g in grads.items()}
            """,
        ),
    ),
    l2_bug(
        "07.l2.penalty-alone",
        "L2: the penalty alone, with its own gradient",
        # self-consistent, but the derivative of the wrong function
        ("test-l2-loss-and-grads-value", "test-l2-loss-and-grads-W", "test-l2-loss-and-grads-b"),
        (
            BODY,
            """
            J = 0.5 * lam * sum(float(np.sum(v * v)) for k, v in params.items() if k.startswith("W"))
            return J, {k: (lam * v if k.startswith("W") else np.zeros_like(v)) for k, v in params.items()}
            """,
        ),
    ),
    l2_bug(
        "kit.gives-up-big",
        "L2 gradient that gives up on a big network",
        ("test-l2-loss-and-grads-W",),
        (
            J_HAT,
            f"if sum(v.size for v in params.values()) > 10**4:\n        {ZERO_GRADS}\n    {J_HAT}",
        ),
    ),
    net_bug(
        "07.net.J-sign",
        "dropout_loss_and_grads returns −J",
        ("test-dropout-loss-and-grads-out",),
        (NET_RETURN, "return -J, grads, mask"),
    ),
    net_bug(
        "07.net.J-no-mask",
        "dropout_loss_and_grads returns J of the network without the mask",
        # the gradients are right: only the cell that checks J loses its point
        ("test-dropout-loss-and-grads-out",),
        (
            NET_RETURN,
            'J = losses.softmax_cross_entropy(params["W2"] @ h + params["b2"], Y)[0]\n'
            f"    {NET_RETURN}",
        ),
    ),
    net_bug(
        showing("kit.library-call", "calls course.network.loss_and_grads"),
        "dropout network through network.loss_and_grads(masks=...)",
        ("test-dropout-loss-and-grads-out", "test-dropout-loss-and-grads-hidden"),
        (
            BODY,
            """
            masks = None if mask is None else {1: mask}
            J, grads, caches = network.loss_and_grads(
                params, X, Y, activation=activation, dropout=p, rng=rng, masks=masks
            )
            return J, grads, caches[0]["mask"]
            """,
        ),
    ),
    net_bug(
        "07.net.zero",
        "dropout network: zero loss and zero gradients",
        ("test-dropout-loss-and-grads-out", "test-dropout-loss-and-grads-hidden"),
        (
            BODY,
            """
            if mask is None:
                shape = (params["W1"].shape[0], X.shape[1])
                mask = np.where(rng.random(shape) < p, 0.0, 1.0 / (1.0 - p))
            return 0.0, {k: np.zeros_like(v) for k, v in params.items()}, mask
            """,
        ),
    ),
    net_bug(
        "kit.gives-up-big",
        "dropout gradients that give up on a big network",
        ("test-dropout-loss-and-grads-hidden",),
        (
            NET_RETURN,
            f'if params["W1"].size > 10**4:\n        {ZERO_GRADS}\n    {NET_RETURN}',
        ),
    ),
    dropout_bug(
        showing("kit.library-itself", "is course.layers.dropout_forward itself"),
        "dropout_forward through layers.dropout_forward",
        ("test-dropout-forward-mask", "test-dropout-forward-expectation"),
        (CELL, "from course.layers import dropout_forward\n"),
    ),
    dropout_bug(
        showing("kit.library-call", "calls course.layers.dropout_forward"),
        "dropout_forward calling layers.dropout_forward",
        ("test-dropout-forward-mask", "test-dropout-forward-expectation"),
        imports("dropout_forward", "from course import layers"),
        (BODY, "return layers.dropout_forward(a, p, rng=rng, mask=mask)"),
    ),
    early_bug(
        showing("kit.library-call", "calls course.training.best_epoch"),
        "early stopping through training.best_epoch",
        ("test-early-stopping",),
        (BODY, "return training.best_epoch(val_losses, patience)"),
    ),
    run_bug(
        "07.run.library-patience",
        "early-stopping run through training.train(patience=...)",
        ("test-train-with-early-stopping",),
        (
            BODY,
            """
            first = validation_loss(params, split, activation)
            params, history = training.train(
                params, split.X_train, split.Y_train, epochs=max_epochs, lr=lr, batch_size=batch_size,
                rng=rng, activation=activation, X_val=split.X_val, Y_val=split.Y_val, patience=patience,
            )
            return params, [first] + list(history.val_loss)
            """,
        ),
    ),
    Plant(
        "correct: early-stopping run with its own early_stopping rule",
        NB,
        {
            RUN: body("""
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
                    """)
        },
    ),
    # issue 18, the corpus's laundering: a dropout that drops nothing, the L2 gradient from
    # a step of the course's training loop, a mask from the course's network
    dropout_bug(
        "07.dropout.nothing-dropped",
        "dropout_forward drops nothing (a mask of ones)",
        # E[out] = a holds for it too: the expectation test needs real dropping
        ("test-dropout-forward-expectation", "test-dropout-forward-mask"),
        _draw("np.ones_like(a)"),
    ),
    l2_bug(
        showing("kit.library-call", "calls course.training.train"),
        "l2_loss_and_grads: the gradient from one full-batch step of training.train(l2=lam)",
        # the biases' gradients are ∂J/∂bᵐ, which the notebook takes from the library
        ("test-l2-loss-and-grads-W",),
        ("J, grads, _ = network", "J, _, _ = network"),
        (
            f"    for k in weights:\n        {DECAY}\n    {J_HAT}",
            "    moved = copy.deepcopy(params)\n"
            "    training.train(moved, X, Y, epochs=1, lr=1.0, batch_size=X.shape[1],\n"
            "                   rng=np.random.default_rng(0), activation=activation, l2=lam, record=False)\n"
            "    return J_hat, {k: params[k] - moved[k] for k in params}",
        ),
    ),
    dropout_bug(
        showing("kit.library-call", "calls course.network.forward"),
        "dropout_forward: the mask of course.network.forward's cache",
        ("test-dropout-forward-expectation", "test-dropout-forward-mask"),
        (
            DRAW,
            "n = a.shape[0]\n"
            '        identity = {"W1": np.eye(n), "b1": np.zeros((n, 1)), "W2": np.eye(n), "b2": np.zeros((n, 1))}\n'
            '        _, caches = network.forward(identity, a, "identity", dropout=p, rng=rng)\n'
            '        mask = caches[0]["mask"] if p > 0 else np.ones_like(a)',
        ),
    ),
    # issue 21: the last unnamed bugs of L2 and of the dropout network
    l2_bug(
        "07.l2.grad-over-N",
        "weight-decay gradient divided by N",
        ("test-l2-loss-and-grads-W",),
        (DECAY, "grads[k] = grads[k] + 1 / X.shape[1] * lam * params[k]"),
    ),
    net_bug(
        "07.net.f-prime-of-h",
        "dropout backward with f'(h) for f'(z1)",
        ("test-dropout-loss-and-grads-hidden",),
        ("act.f_prime(z1)", "act.f_prime(h)"),
    ),
    net_bug(
        "07.net.W2-of-h",
        "dropout dJ/dW2 with h for the dropped activations",
        ("test-dropout-loss-and-grads-out",),
        ('"W2": delta2 @ a1.T', '"W2": delta2 @ h.T'),
    ),
]

# issue 24: the diagnoses the mutation corpus shows, planted once each
PLANTS += [
    dropout_bug(
        "07.dropout.wrong-scaling",
        "kept units scaled by 1 - p",
        ("test-dropout-forward-expectation", "test-dropout-forward-mask"),
        ("/ (1.0 - p)", "* (1.0 - p)"),
    ),
    early_bug(
        "07.early.outside",
        "stop past the last epoch",
        ("test-early-stopping",),
        ("len(val_losses) - 1", "len(val_losses) + 1"),
    ),
    early_bug(
        "07.early.best-wrong",
        "best moves on ties",
        ("test-early-stopping",),
        ("loss < val_losses[best]", "loss <= val_losses[best]"),
    ),
    early_bug(
        "07.early.stop-wrong",
        "stop when epoch + best reaches patience",
        ("test-early-stopping",),
        ("epoch - best", "epoch + best"),
    ),
]
