"""Planted bugs and correct alternatives for 04-backprop-recursion.

The gradient tests judge `backward` against finite differences of the submission's own
`forward`; a bug loses exactly the parameters whose gradients it changes.
"""

from classroom.plants import BODY, Plant, body, on

NB = "backprop_recursion"
FORWARD, BACKWARD, UPDATE = "forward", "backward", "sgd-update"
WS = ("test-backward-W1", "test-backward-W2", "test-backward-W3")
BS = ("test-backward-b1", "test-backward-b2", "test-backward-b3")
ALL = WS + BS

forward_bug, backward_bug, update_bug = on(NB, FORWARD), on(NB, BACKWARD), on(NB, UPDATE)

# lines of the solution that the plants edit
F = "f = get_activation(activation).f"
Z = 'params[f"W{m}"] @ a[m - 1] + params[f"b{m}"]'
A = "a.append(f(z[m]))"
DELTA_M = "delta = f_prime(z[M]) * dJ_da"
DW = 'grads[f"W{m}"] = delta @ a[m - 1].T'
DB = 'grads[f"b{m}"] = delta.sum(axis=1, keepdims=True)'
DELTA_DOWN = 'delta = f_prime(z[m - 1]) * (params[f"W{m}"].T @ delta)'
STEP = "return {key: params[key] - lr * grads[key] for key in params}"


PLANTS = [
    # ---------------------------------------------------------------- forward
    forward_bug(
        "04.forward.no-bias",
        "forward without biases",
        # backward gets the network's cache: only the forward loses its points
        ("test-forward",),
        (Z, 'params[f"W{m}"] @ a[m - 1]'),
    ),
    forward_bug(
        "04.forward.no-f-output",
        "forward without f at the output",
        ("test-forward",),
        (A, "a.append(f(z[m]) if m < M else z[m])"),
    ),
    forward_bug(
        "04.forward.always-sigmoid",
        "forward always sigmoid, backward consistent with it",
        # Right on the visible sigmoid net, wrong on the hidden tanh/relu ones; the
        # backward reads the activation from the network's cache: only the forward fails.
        ("test-forward",),
        (F, 'f = get_activation("sigmoid").f'),
        ('"activation": activation}', '"activation": "sigmoid"}'),
    ),
    Plant(
        "forward with the pre-activation transposed twice (correct)",
        NB,
        {FORWARD: ((Z, "(a[m - 1].T @ params[f'W{m}'].T + params[f'b{m}'].T).T"),)},
    ),
    Plant(
        "forward as a while loop, tuples in the cache, backward carrying dJ/da (correct)",
        NB,
        {
            FORWARD: body("""
                    act = get_activation(activation)
                    a_list, z_list = (X,), (None,)
                    a, m = X, 1
                    while f"W{m}" in params:
                        z = np.dot(params[f"W{m}"], a) + params[f"b{m}"]
                        a = act.f(z)
                        a_list, z_list = a_list + (a,), z_list + (z,)
                        m += 1
                    return a, {"a": a_list, "z": z_list, "activation": activation}
                    """),
            BACKWARD: body("""
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
                    """),
        },
    ),
    # ---------------------------------------------------------------- backward
    backward_bug(
        "04.backward.no-fprime-hidden",
        "backward missing f' in hidden layers",
        # W3/b3 pass on the visible 3-layer net (output layer) but fail the hidden
        # 4- and 5-layer nets, where layer 3 is hidden.
        ALL,
        (DELTA_DOWN, 'delta = params[f"W{m}"].T @ delta'),
    ),
    backward_bug(
        "04.backward.no-fprime-output",
        "backward missing f' at the output",
        ALL,
        (DELTA_M, "delta = dJ_da"),
    ),
    backward_bug(
        "04.backward.fprime-of-a",
        "backward with f' of a instead of z",
        ALL,
        (DELTA_M, "delta = f_prime(a[M]) * dJ_da"),
        (DELTA_DOWN, 'delta = f_prime(a[m - 1]) * (params[f"W{m}"].T @ delta)'),
    ),
    backward_bug(
        "04.backward.W-not-transposed",
        "backward with W instead of its transpose",
        # The visible 3 -> 5 -> 5 -> 2 net cannot even run it (W3 is 2 x 5).
        ALL,
        (DELTA_DOWN, 'delta = f_prime(z[m - 1]) * (params[f"W{m}"] @ delta)'),
    ),
    backward_bug(
        "04.backward.dW-transposed",
        "backward with dW transposed",
        WS,
        (DW, 'grads[f"W{m}"] = a[m - 1] @ delta.T'),
    ),
    backward_bug(
        "04.backward.off-by-one",
        "backward with a^m instead of a^(m-1)",
        WS,
        (DW, 'grads[f"W{m}"] = delta @ a[m].T'),
    ),
    backward_bug(
        "04.backward.bias-mean",
        "backward with the bias averaged",
        BS,
        (DB, 'grads[f"b{m}"] = delta.mean(axis=1, keepdims=True)'),
    ),
    backward_bug(
        "04.backward.bias-axis",
        "backward with the bias summed over the wrong axis",
        BS,
        (DB, 'grads[f"b{m}"] = delta.sum(axis=0, keepdims=True)'),
    ),
    backward_bug(
        "04.backward.extra-1/N",
        "backward dividing by N again",
        ALL,
        (DW, f"{DW} / dJ_da.shape[1]"),
        (DB, f"{DB} / dJ_da.shape[1]"),
    ),
    backward_bug(
        "04.backward.sign",
        "backward with the sign flipped",
        ALL,
        (DELTA_M, "delta = -f_prime(z[M]) * dJ_da"),
    ),
    Plant(
        "backward with einsum (correct)",
        NB,
        {
            BACKWARD: (
                (DW, "grads[f\"W{m}\"] = np.einsum('in,jn->ij', delta, a[m - 1])"),
                (DB, "grads[f\"b{m}\"] = np.einsum('in->i', delta).reshape(-1, 1)"),
                (
                    DELTA_DOWN,
                    "delta = np.einsum('ji,jn->in', params[f'W{m}'], delta) * f_prime(z[m - 1])",
                ),
            )
        },
    ),
    Plant(
        "backward one example at a time (correct)",
        NB,
        {
            BACKWARD: (
                (
                    "    grads = {}\n"
                    f"    {DELTA_M}\n"
                    "    for m in range(M, 0, -1):\n"
                    f"        {DW}\n"
                    f"        {DB}\n"
                    "        if m > 1:\n"
                    f"            {DELTA_DOWN}\n",
                    "    grads = {k: np.zeros_like(v) for k, v in params.items()}\n"
                    "    for n in range(dJ_da.shape[1]):\n"
                    "        delta = f_prime(z[M][:, n]) * dJ_da[:, n]\n"
                    "        for m in range(M, 0, -1):\n"
                    '            grads[f"W{m}"] += np.outer(delta, a[m - 1][:, n])\n'
                    '            grads[f"b{m}"][:, 0] += delta\n'
                    "            if m > 1:\n"
                    '                delta = f_prime(z[m - 1][:, n]) * (params[f"W{m}"].T @ delta)\n',
                ),
            )
        },
    ),
    # ---------------------------------------------------------------- update
    update_bug(
        "04.update.sign",
        "update with the sign flipped",
        ("test-sgd-update",),
        (STEP, "return {key: params[key] + lr * grads[key] for key in params}"),
    ),
    update_bug(
        "04.update.bias-only",
        "update forgetting the biases",
        ("test-sgd-update",),
        (
            STEP,
            "new = dict(params)\n"
            "    for k in params:\n"
            '        if k.startswith("W"):\n'
            "            new[k] = params[k] - lr * grads[k]\n"
            "    return new",
        ),
    ),
    update_bug(
        "04.update.factor",
        "update with a step twice too large",
        ("test-sgd-update",),
        (STEP, "return {key: params[key] - 2 * lr * grads[key] for key in params}"),
    ),
    update_bug(
        "04.update.none",
        "update returning nothing",
        ("test-sgd-update",),
        (STEP, STEP.replace("return", "params =")),
    ),
    Plant(
        "update in place (correct)",
        NB,
        {
            UPDATE: body("""
                    for m in range(1, len(params) // 2 + 1):
                        params[f"W{m}"] -= lr * grads[f"W{m}"]
                        params[f"b{m}"] -= lr * grads[f"b{m}"]
                    return params
                    """)
        },
    ),
    # issue 12: misdiagnosed bugs, numerical differentiation, stderr, float32
    backward_bug(
        "04.backward.fprime-wrong-layer",
        "backward with f' of the layer above",
        ALL,
        (DELTA_DOWN, 'delta = f_prime(z[m]) * (params[f"W{m}"].T @ delta)'),
    ),
    Plant(
        "backward without f' anywhere",
        NB,
        {
            BACKWARD: (
                (DELTA_M, "delta = dJ_da"),
                (DELTA_DOWN, 'delta = params[f"W{m}"].T @ delta'),
            )
        },
        failing=ALL,
        bug="04.backward.no-fprime",
        says="missing f'(z)",  # the output layer's gradients: "missing f'(z) at the output"
    ),
    backward_bug(
        "04.backward.numerical",
        "backward by numerical differentiation of the forward",
        # the course's numerical gradient gives every backward test away
        ALL,
        (
            "def backward(",
            "from course.gradcheck import numerical_gradient\n\n\ndef backward(",
        ),
        (
            BODY,
            """
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
            """,
        ),
    ),
    Plant(
        "backward that logs its progress to stderr (correct)",
        NB,
        {
            BACKWARD: (
                (
                    "    grads = {}\n",
                    "    import logging, sys\n"
                    "    print('backward: M =', M, file=sys.stderr)\n"
                    "    logging.warning('computing %d layers', M)\n"
                    "    grads = {}\n",
                ),
            )
        },
    ),
    forward_bug(
        "kit.float32",
        "forward in float32 (only the forward's points)",
        ("test-forward",),
        (
            Z,
            "(params[f'W{m}'].astype(np.float32) @ a[m - 1].astype(np.float32) "
            "+ params[f'b{m}'].astype(np.float32))",
        ),
    ),
    forward_bug(
        "04.forward.no-f-hidden",
        "forward without f in the hidden layers",
        # backward gets the network's cache: only the forward loses its points
        ("test-forward",),
        (A, "a.append(f(z[m]) if m == M else z[m])"),
    ),
    update_bug(
        "04.update.no-lr",
        "update without the learning rate",
        ("test-sgd-update",),
        (STEP, "return {key: params[key] - grads[key] for key in params}"),
    ),
    update_bug(
        "04.update.step-only",
        "update returning the step alone",
        ("test-sgd-update",),
        (STEP, "return {key: -lr * grads[key] for key in params}"),
    ),
    update_bug(
        "04.update.not-updated",
        "update leaving the weights as they are",
        ("test-sgd-update",),
        (
            STEP,
            "return {key: params[key] - (lr * grads[key] if key[0] == 'b' else 0) for key in params}",
        ),
    ),
    forward_bug(
        "04.forward.minus-bias",
        "forward subtracting the biases",
        # backward gets the network's cache: only the forward loses its points
        ("test-forward",),
        (Z, 'params[f"W{m}"] @ a[m - 1] - params[f"b{m}"]'),
    ),
]
