"""Planted bugs and correct alternatives for 04-backprop-recursion.

The gradient tests judge `backward` against finite differences of the submission's own
`forward`; a bug loses exactly the parameters whose gradients it changes.
"""

from classroom.plants import Plant, body, on, showing, sub

NB = "backprop_recursion"
FORWARD, BACKWARD, UPDATE = "forward", "backward", "sgd-update"
forward, backward, update = on(NB, FORWARD), on(NB, BACKWARD), on(NB, UPDATE)

# the test cells that lose points
WS = ("test-backward-W1", "test-backward-W2", "test-backward-W3")
BS = ("test-backward-b1", "test-backward-b2", "test-backward-b3")
ALL = WS + BS
FW, UP = ("test-forward",), ("test-sgd-update",)

# lines of the solution that the plants edit
F, A = "f = get_activation(activation).f", "a.append(f(z[m]))"
Z = 'params[f"W{m}"] @ a[m - 1] + params[f"b{m}"]'
DELTA_M = "delta = f_prime(z[M]) * dJ_da"
DW = 'grads[f"W{m}"] = delta @ a[m - 1].T'
DB = 'grads[f"b{m}"] = delta.sum(axis=1, keepdims=True)'
DELTA_DOWN = 'delta = f_prime(z[m - 1]) * (params[f"W{m}"].T @ delta)'
STEP = "return {key: params[key] - lr * grads[key] for key in params}"
NO_F_OUT = (DELTA_M, "delta = dJ_da")
NO_F_HIDDEN = (DELTA_DOWN, 'delta = params[f"W{m}"].T @ delta')

# answers of several lines (an edit's first line goes where the text it replaces starts)
WHILE_FORWARD = """
    act = get_activation(activation)
    a_list, z_list = (X,), (None,)
    a, m = X, 1
    while f"W{m}" in params:
        z = np.dot(params[f"W{m}"], a) + params[f"b{m}"]
        a = act.f(z)
        a_list, z_list = a_list + (a,), z_list + (z,)
        m += 1
    return a, {"a": a_list, "z": z_list, "activation": activation}
"""
CARRIED_BACKWARD = """
    act = get_activation(cache["activation"])
    grads = {}
    da = dJ_da
    for m in range(len(cache["a"]) - 1, 0, -1):
        a_prev, z = cache["a"][m - 1], cache["z"][m]
        delta = act.f_prime(z) * da          # δ^m = f'(z^m) ∘ ∂J/∂a^m
        grads[f"W{m}"] = np.dot(delta, a_prev.T)
        grads[f"b{m}"] = np.sum(delta, axis=1, keepdims=True)
        da = np.dot(params[f"W{m}"].T, delta)  # ∂J/∂a^{m-1}
    return grads
"""
RECURSION = f"""    grads = {{}}
    {DELTA_M}
    for m in range(M, 0, -1):
        {DW}
        {DB}
        if m > 1:
            {DELTA_DOWN}
"""
PER_EXAMPLE = """    grads = {k: np.zeros_like(v) for k, v in params.items()}
    for n in range(dJ_da.shape[1]):
        delta = f_prime(z[M][:, n]) * dJ_da[:, n]
        for m in range(M, 0, -1):
            grads[f"W{m}"] += np.outer(delta, a[m - 1][:, n])
            grads[f"b{m}"][:, 0] += delta
            if m > 1:
                delta = f_prime(z[m - 1][:, n]) * (params[f"W{m}"].T @ delta)
"""
WEIGHTS_ONLY = """new = dict(params)
    for k in params:
        if k.startswith("W"):
            new[k] = params[k] - lr * grads[k]
    return new"""
IN_PLACE = """
    for m in range(1, len(params) // 2 + 1):
        params[f"W{m}"] -= lr * grads[f"W{m}"]
        params[f"b{m}"] -= lr * grads[f"b{m}"]
    return params
"""
LOGGING = """    import logging, sys
    print('backward: M =', M, file=sys.stderr)
    logging.warning('computing %d layers', M)
    grads = {}
"""
FLOAT32 = (
    "(params[f'W{m}'].astype(np.float32) @ a[m - 1].astype(np.float32) "
    "+ params[f'b{m}'].astype(np.float32))"
)

PLANTS = [
    # ---------------------------------------------------------------- forward
    # backward gets the network's cache: only the forward loses its points
    forward("04.forward.no-bias", FW, sub(Z, ' + params[f"b{m}"]', "")),
    forward("04.forward.no-f-output", FW, sub(A, "f(z[m])", "f(z[m]) if m < M else z[m]")),
    # right on the visible sigmoid net, wrong on the hidden tanh/relu ones; the backward
    # reads the activation from the network's cache: only the forward fails
    forward(
        "04.forward.always-sigmoid",
        FW,
        sub(F, "(activation)", '("sigmoid")'),
        ('"activation": activation}', '"activation": "sigmoid"}'),
    ),
    forward.alternative(
        "forward with the pre-activation transposed twice (correct)",
        (Z, "(a[m - 1].T @ params[f'W{m}'].T + params[f'b{m}'].T).T"),
    ),
    Plant(
        "forward as a while loop, tuples in the cache, backward carrying dJ/da (correct)",
        NB,
        {FORWARD: body(WHILE_FORWARD), BACKWARD: body(CARRIED_BACKWARD)},
    ),
    # ---------------------------------------------------------------- backward
    # W3/b3 pass on the visible 3-layer net (output layer) but fail the hidden 4- and
    # 5-layer nets, where layer 3 is hidden
    backward("04.backward.no-fprime-hidden", ALL, NO_F_HIDDEN),
    backward("04.backward.no-fprime-output", ALL, NO_F_OUT),
    backward(
        "04.backward.fprime-of-a",
        ALL,
        sub(DELTA_M, "z[M]", "a[M]"),
        sub(DELTA_DOWN, "z[m - 1]", "a[m - 1]"),
    ),
    # the visible 3 -> 5 -> 5 -> 2 net cannot even run it (W3 is 2 x 5)
    backward("04.backward.W-not-transposed", ALL, sub(DELTA_DOWN, ".T @", " @")),
    backward("04.backward.dW-transposed", WS, (DW, 'grads[f"W{m}"] = a[m - 1] @ delta.T')),
    backward("04.backward.off-by-one", WS, sub(DW, "a[m - 1]", "a[m]")),
    backward("04.backward.bias-mean", BS, sub(DB, "sum", "mean")),
    backward("04.backward.bias-axis", BS, sub(DB, "axis=1", "axis=0")),
    backward(
        "04.backward.extra-1/N", ALL, (DW, f"{DW} / dJ_da.shape[1]"), (DB, f"{DB} / dJ_da.shape[1]")
    ),
    backward("04.backward.sign", ALL, sub(DELTA_M, "= f_prime", "= -f_prime")),
    backward.alternative(
        "backward with einsum (correct)",
        (DW, "grads[f\"W{m}\"] = np.einsum('in,jn->ij', delta, a[m - 1])"),
        (DB, "grads[f\"b{m}\"] = np.einsum('in->i', delta).reshape(-1, 1)"),
        (DELTA_DOWN, "delta = np.einsum('ji,jn->in', params[f'W{m}'], delta) * f_prime(z[m - 1])"),
    ),
    backward.alternative("backward one example at a time (correct)", (RECURSION, PER_EXAMPLE)),
    # ---------------------------------------------------------------- update
    update("04.update.sign", UP, sub(STEP, "- lr", "+ lr")),
    update("04.update.bias-only", UP, (STEP, WEIGHTS_ONLY)),
    update("04.update.factor", UP, sub(STEP, "- lr", "- 2 * lr")),
    update("04.update.none", UP, sub(STEP, "return", "params =")),
    update.alternative("update in place (correct)", *body(IN_PLACE)),
    # issue 12: misdiagnosed bugs, numerical differentiation, stderr, float32
    backward("04.backward.fprime-wrong-layer", ALL, sub(DELTA_DOWN, "z[m - 1]", "z[m]")),
    # the output layer's gradients say "missing f'(z) at the output"
    backward(showing("04.backward.no-fprime", "missing f'(z)"), ALL, NO_F_OUT, NO_F_HIDDEN),
    # the course's numerical gradient gives every backward test away
    backward(
        "04.backward.numerical",
        ALL,
        ("def backward(", "from course.gradcheck import numerical_gradient\n\n\ndef backward("),
        *body("""
            X, activation = cache["a"][0], cache["activation"]
            Y = cache["a"][-1] - dJ_da * X.shape[1]
            grads = {}
            for key in params:
                work = {k: np.array(v, dtype=float) for k, v in params.items()}
                def J(value, key=key, work=work):
                    work[key] = value
                    return square_loss(forward(work, X, activation)[0], Y)[0]
                grads[key] = numerical_gradient(J, work[key])
            return grads
            """),
    ),
    backward.alternative(
        "backward that logs its progress to stderr (correct)", ("    grads = {}\n", LOGGING)
    ),
    forward("kit.float32", FW, (Z, FLOAT32)),
    # backward gets the network's cache: only the forward loses its points
    forward("04.forward.no-f-hidden", FW, sub(A, "f(z[m])", "f(z[m]) if m == M else z[m]")),
    update("04.update.no-lr", UP, sub(STEP, "lr * grads", "grads")),
    update("04.update.step-only", UP, sub(STEP, "params[key] - lr", "-lr")),
    update(
        "04.update.not-updated",
        UP,
        (
            STEP,
            "return {key: params[key] - (lr * grads[key] if key[0] == 'b' else 0) "
            "for key in params}",
        ),
    ),
    # backward gets the network's cache: only the forward loses its points
    forward("04.forward.minus-bias", FW, sub(Z, "+ params", "- params")),
]
