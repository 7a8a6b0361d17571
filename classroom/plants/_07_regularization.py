"""Planted bugs and correct alternatives for 07-regularization (regularization.ipynb).

Gradients are judged by the true gradient (finite differences of the correct regularised
J), with the course's dropout_forward standing in for the student's: a wrong Ĵ or
dropout_forward costs only its own cell when the gradients are right, and a gradient right
only for the student's own wrong Ĵ costs its gradient cell too.
"""

from classroom.plants import Plant

NB = "regularization"

_L2 = """def l2_loss_and_grads(params, X, Y, lam, activation=ACT):
    J, grads, _ = network.loss_and_grads(params, X, Y, activation=activation)
    penalised = [k for k in params if {which}]
    J_hat = J + {factor} * lam * sum(float(np.sum(params[k] ** 2)) for k in {loss_keys})
    for k in {grad_keys}:
        grads[k] = grads[k] {op} {gfactor}lam * params[k]
    return J_hat, grads
"""


def _l2(
    which='k.startswith("W")',
    factor="0.5",
    loss_keys="penalised",
    grad_keys="penalised",
    op="+",
    gfactor="",
):
    return _L2.format(
        which=which, factor=factor, loss_keys=loss_keys, grad_keys=grad_keys, op=op, gfactor=gfactor
    )


_DROPOUT_FWD = """def dropout_forward(a, p, rng=None, mask=None):
    if mask is None:
        mask = {draw}
    return a * mask, mask
"""

_DROPOUT_NET = """def dropout_loss_and_grads(params, X, Y, p, rng=None, mask=None, activation=ACT):
    act = activations.get_activation(activation)
    z1 = params["W1"] @ X + params["b1"]
    h = act.f(z1)
    a1, mask = dropout_forward(h, p, rng=rng, mask=mask)
    z2 = params["W2"] @ a1 + params["b2"]
    J, delta2 = losses.softmax_cross_entropy(z2, Y)
    grads = {{"W2": delta2 @ a1.T, "b2": delta2.sum(axis=1, keepdims=True)}}
{backward_mask}
    dJ_dh = {dh}
    delta1 = act.f_prime(z1) * dJ_dh
    grads["W1"] = delta1 @ X.T
    grads["b1"] = delta1.sum(axis=1, keepdims=True)
    return J, grads, mask
"""


def _dropout_net(dh='mask * (params["W2"].T @ delta2)', backward_mask=""):
    return _DROPOUT_NET.format(dh=dh, backward_mask=backward_mask)


_EARLY_RUN = """def train_with_early_stopping(
    params, split, *, max_epochs, lr, batch_size, patience, rng, activation=ACT
):
    val_losses = [validation_loss(params, split, activation)]
    best, best_params = 0, {save0}
    for epoch in range(1, max_epochs + 1):
        params, _ = training.train(
            params, split.X_train, split.Y_train, epochs=1, lr=lr, batch_size=batch_size,
            rng=rng, activation=activation, record=False,
        )
        val_losses.append(validation_loss(params, split, activation))
        if val_losses[-1] < val_losses[best]:
            best, best_params = epoch, {save}
        elif epoch - best >= patience:
            break
    return {ret}, val_losses
"""


def _early_run(save0="copy.deepcopy(params)", save="copy.deepcopy(params)", ret="best_params"):
    return _EARLY_RUN.format(save0=save0, save=save, ret=ret)


PLANTS = [
    # -- L2 --------------------------------------------------------------------------------
    Plant(
        "L2 on the biases, in the loss and the gradient",
        NB,
        {"l2": _l2(which="True")},
        # the biases' gradient λb is right only for this Ĵ: it earns nothing either
        failing=("test_l2_value", "test_l2_grad_b"),
        bug="07.l2.biases",
    ),
    Plant(
        "L2 on the biases in the gradient only",
        NB,
        {"l2": _l2(grad_keys="params")},
        failing=("test_l2_grad_b",),
        bug="07.l2.grad-biases",
    ),
    Plant(
        "factor 2 in the weight-decay gradient",
        NB,
        {"l2": _l2(gfactor="2 * ")},
        failing=("test_l2_grad_W",),
        bug="07.l2.grad-two",
    ),
    Plant(
        "weight-decay gradient with the wrong sign",
        NB,
        {"l2": _l2(op="-")},
        failing=("test_l2_grad_W",),
        bug="07.l2.grad-sign",
    ),
    Plant(
        "penalty without the ½",
        NB,
        {"l2": _l2(factor="1.0", gfactor="2 * ")},
        # 2λW is right only for this Ĵ: the weights' gradients earn nothing either
        failing=("test_l2_value", "test_l2_grad_W"),
        bug="07.l2.no-half",
    ),
    Plant(
        "correct: L2 by loops over layers, np.linalg.norm",
        NB,
        {
            "l2": """def l2_loss_and_grads(params, X, Y, lam, activation=ACT):
    J, grads, _ = network.loss_and_grads(params, X, Y, activation=activation)
    M = len(params) // 2
    penalty = 0.0
    for m in range(1, M + 1):
        W = params[f"W{m}"]
        penalty += np.linalg.norm(W) ** 2
        grads[f"W{m}"] = grads[f"W{m}"] + lam * W
    return J + lam / 2 * penalty, grads
"""
        },
    ),
    # -- dropout ---------------------------------------------------------------------------
    Plant(
        "dropout without the 1/(1−p) scaling",
        NB,
        {"dropout-forward": _DROPOUT_FWD.format(draw="(rng.random(a.shape) >= p).astype(float)")},
        failing=("test_dropout_forward", "test_dropout_expectation"),
        bug="07.dropout.no-scaling",
    ),
    Plant(
        "dropout draws a fresh mask in the backward pass",
        NB,
        {
            "dropout-net": _dropout_net(
                dh='mask_b * (params["W2"].T @ delta2)',
                backward_mask="    mask_b = (rng.random(h.shape) >= p) / (1 - p)",
            )
        },
        failing=("test_dropout_grads_hidden",),
        bug="07.net.fresh-mask",
    ),
    Plant(
        "dropout mask missing from the backward pass",
        NB,
        {"dropout-net": _dropout_net(dh='params["W2"].T @ delta2')},
        failing=("test_dropout_grads_hidden",),
        bug="07.net.no-mask",
    ),
    Plant(
        "dropout keeps with probability p instead of dropping",
        NB,
        {"dropout-forward": _DROPOUT_FWD.format(draw="(rng.random(a.shape) < p) / (1.0 - p)")},
        failing=("test_dropout_forward", "test_dropout_expectation"),
        bug="07.dropout.keep-p",
    ),
    Plant(
        "correct: binomial mask, mask applied through a helper",
        NB,
        {
            "dropout-forward": """def dropout_forward(a, p, rng=None, mask=None):
    if mask is None:
        keep = rng.binomial(1, 1.0 - p, size=a.shape) if p > 0 else np.ones(a.shape)
        mask = keep / (1.0 - p)
    out = np.multiply(a, mask)
    return out, mask
""",
            "dropout-net": _dropout_net(
                dh="dropout_forward(params['W2'].T @ delta2, p, mask=mask)[0]"
            ),
        },
    ),
    # -- early stopping --------------------------------------------------------------------
    Plant(
        "early stopping reports the last epoch as the best",
        NB,
        {
            "early-stopping": """def early_stopping(val_losses, patience):
    best = 0
    for epoch, loss in enumerate(val_losses):
        if loss < val_losses[best]:
            best = epoch
        elif epoch - best >= patience:
            return epoch, epoch
    return len(val_losses) - 1, len(val_losses) - 1
"""
        },
        failing=("test_early_history",),
        bug="07.early.last-best",
    ),
    Plant(
        "early stopping one epoch late",
        NB,
        {
            "early-stopping": """def early_stopping(val_losses, patience):
    best = 0
    for epoch, loss in enumerate(val_losses):
        if loss < val_losses[best]:
            best = epoch
        elif epoch - best > patience:
            return best, epoch
    return best, len(val_losses) - 1
"""
        },
        failing=("test_early_history",),
        bug="07.early.off-by-one",
    ),
    Plant(
        "early-stopping run returns the last epoch's parameters",
        NB,
        {"early-run": _early_run(ret="params")},
        failing=("test_early_run",),
        bug="07.run.last-params",
    ),
    Plant(
        "early-stopping run saves the parameters without a copy",
        NB,
        {"early-run": _early_run(save0="params", save="params")},
        failing=("test_early_run",),
        bug="07.run.no-copy",
    ),
    Plant(
        "early-stopping run ignores patience",
        NB,
        {
            "early-run": _early_run().replace(
                "        elif epoch - best >= patience:\n            break\n", ""
            )
        },
        failing=("test_early_run",),
        bug="07.run.no-patience",
    ),
    Plant(
        "correct: early stopping by argmin, run with a stored-epoch counter",
        NB,
        {
            "early-stopping": """def early_stopping(val_losses, patience):
    losses = np.asarray(val_losses, dtype=float)
    for stop in range(len(losses)):
        best = int(np.argmin(losses[: stop + 1]))
        if stop - best >= patience:
            return best, stop
    return int(np.argmin(losses)), len(losses) - 1
""",
            "early-run": """def train_with_early_stopping(
    params, split, *, max_epochs, lr, batch_size, patience, rng, activation=ACT
):
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
""",
        },
    ),
    # issue 12: masks returned and reused, NaN, two epochs per entry, numerical gradients
    Plant(
        "dropout_forward returns twice the mask",
        NB,
        {
            "dropout-forward": _DROPOUT_FWD.format(
                draw="(rng.random(a.shape) >= p) / (1.0 - p)"
            ).replace("return a * mask, mask", "return a * mask, 2 * mask")
        },
        failing=("test_dropout_forward",),
        bug="07.dropout.out",
    ),
    Plant(
        "dropout_loss_and_grads returns minus the mask",
        NB,
        {"dropout-net": _dropout_net().replace("return J, grads, mask", "return J, grads, -mask")},
        failing=("test_dropout_grads_hidden",),
        bug="07.net.returned-mask",
    ),
    Plant(
        "backward draws a fresh mask when none is given",
        NB,
        {
            "dropout-net": _dropout_net(
                dh="dropout_forward(params['W2'].T @ delta2, p, rng=rng, mask=given)[0]",
                backward_mask="    given = mask if mask_in is not None else None",
            ).replace(
                "    a1, mask = dropout_forward(h, p, rng=rng, mask=mask)",
                "    mask_in = mask\n    a1, mask = dropout_forward(h, p, rng=rng, mask=mask)",
            )
        },
        failing=("test_dropout_grads_hidden",),
        bug="07.net.fresh-mask",
    ),
    Plant(
        "backward divides by the mask (NaN)",
        NB,
        {"dropout-net": _dropout_net(dh='(params["W2"].T @ delta2) / mask')},
        failing=("test_dropout_grads_hidden",),
        bug="gradcheck.nan",
    ),
    Plant(
        "L2 gradient by numerical differentiation",
        NB,
        {
            "l2": """from course.gradcheck import numerical_gradient

def l2_loss_and_grads(params, X, Y, lam, activation=ACT):
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
"""
        },
        # the course's numerical gradient gives every gradient test away
        failing=("test_l2_grad_W", "test_l2_grad_b"),
        bug="07.l2.numerical",
    ),
    Plant(
        "early stopping starting from best = 1",
        NB,
        {
            "early-stopping": """def early_stopping(val_losses, patience):
    best = 1
    for epoch, loss in enumerate(val_losses):
        if loss < val_losses[best]:
            best = epoch
        elif epoch - best >= patience:
            return best, epoch
    return best, len(val_losses) - 1
"""
        },
        failing=("test_early_history",),
        says="is",
    ),
    Plant(
        "early-stopping run trains two epochs per entry",
        NB,
        {"early-run": _early_run().replace("epochs=1, lr=lr", "epochs=2, lr=lr")},
        failing=("test_early_run",),
        bug="07.run.epochs-per-entry",
    ),
    Plant(
        "alternative: l2_loss_and_grads returns a list",
        NB,
        {"l2": _l2().replace("return J_hat, grads", "return [J_hat, grads]")},
    ),
    Plant(
        "dropout_forward draws a new mask even when given one",
        NB,
        {
            "dropout-forward": """def dropout_forward(a, p, rng=None, mask=None):
    if rng is not None and p > 0:
        mask = (rng.random(a.shape) >= p) / (1.0 - p)
    elif mask is None:
        mask = np.ones_like(a)
    return a * mask, mask
"""
        },
        failing=("test_dropout_forward",),
        bug="07.dropout.mask-ignored",
    ),
    Plant(
        "dropout_forward rescales at p = 0",
        NB,
        {
            "dropout-forward": """def dropout_forward(a, p, rng=None, mask=None):
    if mask is None:
        mask = (rng.random(a.shape) >= p) / (1.0 - p) if p > 0 else np.full(a.shape, 2.0)
    return a * mask, mask
"""
        },
        failing=("test_dropout_forward",),
        bug="07.dropout.p0",
    ),
    Plant(
        "lambda W missing from the gradient",
        NB,
        {"l2": _l2(grad_keys="[]")},
        failing=("test_l2_grad_W",),
        bug="07.l2.grad-missing",
    ),
    Plant(
        "penalty missing from J_hat",
        NB,
        {"l2": _l2(factor="0.0")},
        failing=("test_l2_value",),
        bug="07.l2.missing",
    ),
    Plant(
        "penalty subtracted",
        NB,
        {"l2": _l2(factor="-0.5")},
        failing=("test_l2_value",),
        bug="07.l2.sign",
    ),
    Plant(
        "mask applied twice in the backward pass",
        NB,
        {"dropout-net": _dropout_net(dh='mask * mask * (params["W2"].T @ delta2)')},
        failing=("test_dropout_grads_hidden",),
        bug="07.net.mask-twice",
    ),
    Plant(
        "mask without its scaling in the backward pass",
        NB,
        {"dropout-net": _dropout_net(dh='(mask > 0) * (params["W2"].T @ delta2)')},
        failing=("test_dropout_grads_hidden",),
        bug="07.net.unscaled-mask",
    ),
    Plant(
        "penalty of the entries, not their squares",
        NB,
        {"l2": _l2().replace("float(np.sum(params[k] ** 2))", "float(np.sum(params[k]))")},
        failing=("test_l2_value",),
        bug="07.l2.not-squared",
    ),
    # -- issue 18: library answers, self-consistent nonsense, speed ----------------------
    Plant(
        "L2 through network.loss_and_grads(l2=lam)",
        NB,
        {
            "l2": """def l2_loss_and_grads(params, X, Y, lam, activation=ACT):
    J_hat, grads, _ = network.loss_and_grads(params, X, Y, activation=activation, l2=lam)
    return J_hat, grads
"""
        },
        failing=("test_l2_value", "test_l2_grad_W", "test_l2_grad_b"),
        says="calls network.loss_and_grads with l2=",
    ),
    Plant(
        "L2 through losses.l2_penalty",
        NB,
        {
            "l2": """def l2_loss_and_grads(params, X, Y, lam, activation=ACT):
    J, grads, _ = network.loss_and_grads(params, X, Y, activation=activation)
    penalty, dpen = losses.l2_penalty(params, lam)
    return J + penalty, {k: g + dpen.get(k, 0.0) for k, g in grads.items()}
"""
        },
        failing=("test_l2_value", "test_l2_grad_W", "test_l2_grad_b"),
        says="calls course.losses.l2_penalty",
    ),
    Plant(
        "L2: the penalty alone, with its own gradient",
        NB,
        {
            "l2": """def l2_loss_and_grads(params, X, Y, lam, activation=ACT):
    J = 0.5 * lam * sum(float(np.sum(v * v)) for k, v in params.items() if k.startswith("W"))
    return J, {k: (lam * v if k.startswith("W") else np.zeros_like(v)) for k, v in params.items()}
"""
        },
        # self-consistent, but the derivative of the wrong function
        failing=("test_l2_value", "test_l2_grad_W", "test_l2_grad_b"),
        says="J_hat",
    ),
    Plant(
        "L2 gradient that gives up on a big network",
        NB,
        {
            "l2": _l2().replace(
                "    return J_hat, grads",
                "    if sum(v.size for v in params.values()) > 10**4:\n"
                "        grads = {k: np.zeros_like(v) for k, v in grads.items()}\n"
                "    return J_hat, grads",
            )
        },
        failing=("test_l2_grad_W",),
        says="not computed by backpropagation",
    ),
    Plant(
        "dropout_loss_and_grads returns −J",
        NB,
        {"dropout-net": _dropout_net().replace("return J, grads, mask", "return -J, grads, mask")},
        failing=("test_dropout_grads_out",),
        bug="07.net.J-sign",
    ),
    Plant(
        "dropout_loss_and_grads returns J of the network without the mask",
        NB,
        {
            "dropout-net": _dropout_net().replace(
                "return J, grads, mask",
                'J = losses.softmax_cross_entropy(params["W2"] @ h + params["b2"], Y)[0]\n'
                "    return J, grads, mask",
            )
        },
        # the gradients are right: only the cell that checks J loses its point
        failing=("test_dropout_grads_out",),
        bug="07.net.J-no-mask",
    ),
    Plant(
        "dropout network through network.loss_and_grads(masks=...)",
        NB,
        {
            "dropout-net": """def dropout_loss_and_grads(params, X, Y, p, rng=None, mask=None, activation=ACT):
    masks = None if mask is None else {1: mask}
    J, grads, caches = network.loss_and_grads(
        params, X, Y, activation=activation, dropout=p, rng=rng, masks=masks
    )
    return J, grads, caches[0]["mask"]
"""
        },
        failing=("test_dropout_grads_out", "test_dropout_grads_hidden"),
        says="calls course.network.loss_and_grads",
    ),
    Plant(
        "dropout network: zero loss and zero gradients",
        NB,
        {
            "dropout-net": """def dropout_loss_and_grads(params, X, Y, p, rng=None, mask=None, activation=ACT):
    if mask is None:
        shape = (params["W1"].shape[0], X.shape[1])
        mask = np.where(rng.random(shape) < p, 0.0, 1.0 / (1.0 - p))
    return 0.0, {k: np.zeros_like(v) for k, v in params.items()}, mask
"""
        },
        failing=("test_dropout_grads_out", "test_dropout_grads_hidden"),
        says="is wrong",
    ),
    Plant(
        "dropout gradients that give up on a big network",
        NB,
        {
            "dropout-net": _dropout_net().replace(
                "    return J, grads, mask",
                '    if params["W1"].size > 10**4:\n'
                "        grads = {k: np.zeros_like(v) for k, v in grads.items()}\n"
                "    return J, grads, mask",
            )
        },
        failing=("test_dropout_grads_hidden",),
        says="not computed by backpropagation",
    ),
    Plant(
        "dropout_forward through layers.dropout_forward",
        NB,
        {"dropout-forward": "from course.layers import dropout_forward\n"},
        failing=("test_dropout_forward", "test_dropout_expectation"),
        says="is course.layers.dropout_forward itself",
    ),
    Plant(
        "dropout_forward calling layers.dropout_forward",
        NB,
        {
            "dropout-forward": """from course import layers

def dropout_forward(a, p, rng=None, mask=None):
    return layers.dropout_forward(a, p, rng=rng, mask=mask)
"""
        },
        failing=("test_dropout_forward", "test_dropout_expectation"),
        says="calls course.layers.dropout_forward",
    ),
    Plant(
        "early stopping through training.best_epoch",
        NB,
        {
            "early-stopping": """def early_stopping(val_losses, patience):
    return training.best_epoch(val_losses, patience)
"""
        },
        failing=("test_early_history",),
        says="calls course.training.best_epoch",
    ),
    Plant(
        "early-stopping run through training.train(patience=...)",
        NB,
        {
            "early-run": """def train_with_early_stopping(
    params, split, *, max_epochs, lr, batch_size, patience, rng, activation=ACT
):
    first = validation_loss(params, split, activation)
    params, history = training.train(
        params, split.X_train, split.Y_train, epochs=max_epochs, lr=lr, batch_size=batch_size,
        rng=rng, activation=activation, X_val=split.X_val, Y_val=split.Y_val, patience=patience,
    )
    return params, [first] + list(history.val_loss)
"""
        },
        failing=("test_early_run",),
        says="calls training.train with patience=",
    ),
    Plant(
        "correct: early-stopping run with its own early_stopping rule",
        NB,
        {
            "early-run": """def train_with_early_stopping(
    params, split, *, max_epochs, lr, batch_size, patience, rng, activation=ACT
):
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
        },
    ),
    # issue 18, the corpus's laundering: a dropout that drops nothing, the L2 gradient from
    # a step of the course's training loop, a mask from the course's network
    Plant(
        "dropout_forward drops nothing (a mask of ones)",
        NB,
        {"dropout-forward": _DROPOUT_FWD.format(draw="np.ones_like(a)")},
        # E[out] = a holds for it too: the expectation test needs real dropping
        failing=("test_dropout_expectation", "test_dropout_forward"),
        bug="07.dropout.nothing-dropped",
    ),
    Plant(
        "l2_loss_and_grads: the gradient from one full-batch step of training.train(l2=lam)",
        NB,
        {
            "l2": """def l2_loss_and_grads(params, X, Y, lam, activation=ACT):
    J, _, _ = network.loss_and_grads(params, X, Y, activation=activation)
    weights = [k for k in params if k.startswith("W")]
    J_hat = J + 0.5 * lam * sum(float(np.sum(params[k] ** 2)) for k in weights)
    moved = copy.deepcopy(params)
    training.train(moved, X, Y, epochs=1, lr=1.0, batch_size=X.shape[1],
                   rng=np.random.default_rng(0), activation=activation, l2=lam, record=False)
    return J_hat, {k: params[k] - moved[k] for k in params}
"""
        },
        # the biases' gradients are ∂J/∂bᵐ, which the notebook takes from the library
        failing=("test_l2_grad_W",),
        says="calls course.training.train",
    ),
    Plant(
        "dropout_forward: the mask of course.network.forward's cache",
        NB,
        {
            "dropout-forward": """def dropout_forward(a, p, rng=None, mask=None):
    if mask is None:
        n = a.shape[0]
        identity = {"W1": np.eye(n), "b1": np.zeros((n, 1)), "W2": np.eye(n), "b2": np.zeros((n, 1))}
        _, caches = network.forward(identity, a, "identity", dropout=p, rng=rng)
        mask = caches[0]["mask"] if p > 0 else np.ones_like(a)
    return a * mask, mask
"""
        },
        failing=("test_dropout_expectation", "test_dropout_forward"),
        says="calls course.network.forward",
    ),
]

# issue 21: the last unnamed bugs of L2 and of the dropout network
PLANTS += [
    Plant(
        "weight-decay gradient divided by N",
        NB,
        {"l2": _l2(gfactor="1 / X.shape[1] * ")},
        failing=("test_l2_grad_W",),
        bug="07.l2.grad-over-N",
    ),
    Plant(
        "dropout backward with f'(h) for f'(z1)",
        NB,
        {"dropout-net": _dropout_net().replace("act.f_prime(z1)", "act.f_prime(h)")},
        failing=("test_dropout_grads_hidden",),
        bug="07.net.f-prime-of-h",
    ),
    Plant(
        "dropout dJ/dW2 with h for the dropped activations",
        NB,
        {"dropout-net": _dropout_net().replace('"W2": delta2 @ a1.T', '"W2": delta2 @ h.T')},
        failing=("test_dropout_grads_out",),
        bug="07.net.W2-of-h",
    ),
]
