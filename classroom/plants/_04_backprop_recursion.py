"""Planted bugs and correct alternatives for 04-backprop-recursion.

The gradient tests judge `backward` against finite differences of the submission's own
`forward`; a bug loses exactly the parameters whose gradients it changes.
"""

from classroom.plants import Plant

NB = "backprop_recursion"


def _forward(
    f="get_activation(activation).f",
    z="params[f'W{m}'] @ a[m - 1] + params[f'b{m}']",
    a_of="f(z[m])",
    name="activation",
):
    return f"""
def forward(params, X, activation="sigmoid"):
    f = {f}
    M = len(params) // 2
    a, z = [X], [None]
    for m in range(1, M + 1):
        z.append({z})
        a.append({a_of})
    return a[M], {{"a": a, "z": z, "activation": {name}}}
"""


def _backward(
    delta_top="f_prime(z[M]) * dJ_da",
    dW="delta @ a[m - 1].T",
    db="delta.sum(axis=1, keepdims=True)",
    delta_down="f_prime(z[m - 1]) * (params[f'W{m}'].T @ delta)",
):
    return f"""
def backward(params, cache, dJ_da):
    f_prime = get_activation(cache["activation"]).f_prime
    a, z = cache["a"], cache["z"]
    M = len(params) // 2
    N = dJ_da.shape[1]
    grads = {{}}
    delta = {delta_top}
    for m in range(M, 0, -1):
        grads[f"W{{m}}"] = {dW}
        grads[f"b{{m}}"] = {db}
        if m > 1:
            delta = {delta_down}
    return grads
"""


WS = ("br-test-W1", "br-test-W2", "br-test-W3")
BS = ("br-test-b1", "br-test-b2", "br-test-b3")
ALL = WS + BS

PLANTS = [
    # ---------------------------------------------------------------- forward
    Plant(
        "forward without biases",
        NB,
        {"br-forward": _forward(z="params[f'W{m}'] @ a[m - 1]")},
        # backward gets the network's cache: only the forward loses its points
        failing=("br-test-forward",),
        bug="04.forward.no-bias",
    ),
    Plant(
        "forward without f at the output",
        NB,
        {"br-forward": _forward(a_of="f(z[m]) if m < M else z[m]")},
        failing=("br-test-forward",),
        bug="04.forward.no-f-output",
    ),
    Plant(
        "forward always sigmoid, backward consistent with it",
        NB,
        {"br-forward": _forward(f='get_activation("sigmoid").f', name='"sigmoid"')},
        # Right on the visible sigmoid net, wrong on the hidden tanh/relu ones; the
        # backward reads the activation from the network's cache: only the forward fails.
        failing=("br-test-forward",),
        bug="04.forward.always-sigmoid",
    ),
    Plant(
        "forward with the pre-activation transposed twice (correct)",
        NB,
        {"br-forward": _forward(z="(a[m - 1].T @ params[f'W{m}'].T + params[f'b{m}'].T).T")},
    ),
    Plant(
        "forward as a while loop, tuples in the cache, backward carrying dJ/da (correct)",
        NB,
        {
            "br-forward": """
def forward(params, X, activation="sigmoid"):
    act = get_activation(activation)
    a_list, z_list = (X,), (None,)
    a, m = X, 1
    while f"W{m}" in params:
        z = np.dot(params[f"W{m}"], a) + params[f"b{m}"]
        a = act.f(z)
        a_list, z_list = a_list + (a,), z_list + (z,)
        m += 1
    return a, {"a": a_list, "z": z_list, "activation": activation}
""",
            "br-backward": """
def backward(params, cache, dJ_da):
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
""",
        },
    ),
    # ---------------------------------------------------------------- backward
    Plant(
        "backward missing f' in hidden layers",
        NB,
        {"br-backward": _backward(delta_down="params[f'W{m}'].T @ delta")},
        # W3/b3 pass on the visible 3-layer net (output layer) but fail the hidden
        # 4- and 5-layer nets, where layer 3 is hidden.
        failing=ALL,
        bug="04.backward.no-fprime-hidden",
    ),
    Plant(
        "backward missing f' at the output",
        NB,
        {"br-backward": _backward(delta_top="dJ_da")},
        failing=ALL,
        bug="04.backward.no-fprime-output",
    ),
    Plant(
        "backward with f' of a instead of z",
        NB,
        {
            "br-backward": _backward(
                delta_top="f_prime(a[M]) * dJ_da",
                delta_down="f_prime(a[m - 1]) * (params[f'W{m}'].T @ delta)",
            )
        },
        failing=ALL,
        bug="04.backward.fprime-of-a",
    ),
    Plant(
        "backward with W instead of its transpose",
        NB,
        {"br-backward": _backward(delta_down="f_prime(z[m - 1]) * (params[f'W{m}'] @ delta)")},
        # The visible 3 -> 5 -> 5 -> 2 net cannot even run it (W3 is 2 x 5).
        failing=ALL,
        bug="04.backward.W-not-transposed",
    ),
    Plant(
        "backward with dW transposed",
        NB,
        {"br-backward": _backward(dW="a[m - 1] @ delta.T")},
        failing=WS,
        bug="04.backward.dW-transposed",
    ),
    Plant(
        "backward with a^m instead of a^(m-1)",
        NB,
        {"br-backward": _backward(dW="delta @ a[m].T")},
        failing=WS,
        bug="04.backward.off-by-one",
    ),
    Plant(
        "backward with the bias averaged",
        NB,
        {"br-backward": _backward(db="delta.mean(axis=1, keepdims=True)")},
        failing=BS,
        bug="04.backward.bias-mean",
    ),
    Plant(
        "backward with the bias summed over the wrong axis",
        NB,
        {"br-backward": _backward(db="delta.sum(axis=0, keepdims=True)")},
        failing=BS,
        bug="04.backward.bias-axis",
    ),
    Plant(
        "backward dividing by N again",
        NB,
        {
            "br-backward": _backward(
                dW="delta @ a[m - 1].T / N", db="delta.sum(axis=1, keepdims=True) / N"
            )
        },
        failing=ALL,
        bug="04.backward.extra-1/N",
    ),
    Plant(
        "backward with the sign flipped",
        NB,
        {"br-backward": _backward(delta_top="-f_prime(z[M]) * dJ_da")},
        failing=ALL,
        bug="04.backward.sign",
    ),
    Plant(
        "backward with einsum (correct)",
        NB,
        {
            "br-backward": _backward(
                dW="np.einsum('in,jn->ij', delta, a[m - 1])",
                db="np.einsum('in->i', delta).reshape(-1, 1)",
                delta_down="np.einsum('ji,jn->in', params[f'W{m}'], delta) * f_prime(z[m - 1])",
            )
        },
    ),
    Plant(
        "backward one example at a time (correct)",
        NB,
        {
            "br-backward": """
def backward(params, cache, dJ_da):
    f_prime = get_activation(cache["activation"]).f_prime
    a, z = cache["a"], cache["z"]
    M = len(params) // 2
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    for n in range(dJ_da.shape[1]):
        delta = f_prime(z[M][:, n]) * dJ_da[:, n]
        for m in range(M, 0, -1):
            grads[f"W{m}"] += np.outer(delta, a[m - 1][:, n])
            grads[f"b{m}"][:, 0] += delta
            if m > 1:
                delta = f_prime(z[m - 1][:, n]) * (params[f"W{m}"].T @ delta)
    return grads
"""
        },
    ),
    # ---------------------------------------------------------------- update
    Plant(
        "update with the sign flipped",
        NB,
        {
            "br-sgd-update": "def sgd_update(params, grads, lr):\n"
            "    return {k: params[k] + lr * grads[k] for k in params}\n"
        },
        failing=("br-test-sgd-update",),
        bug="04.update.sign",
    ),
    Plant(
        "update forgetting the biases",
        NB,
        {
            "br-sgd-update": """
def sgd_update(params, grads, lr):
    new = dict(params)
    for k in params:
        if k.startswith("W"):
            new[k] = params[k] - lr * grads[k]
    return new
"""
        },
        failing=("br-test-sgd-update",),
        bug="04.update.bias-only",
    ),
    Plant(
        "update with a step twice too large",
        NB,
        {
            "br-sgd-update": "def sgd_update(params, grads, lr):\n"
            "    return {k: params[k] - 2 * lr * grads[k] for k in params}\n"
        },
        failing=("br-test-sgd-update",),
        bug="04.update.factor",
    ),
    Plant(
        "update returning nothing",
        NB,
        {
            "br-sgd-update": "def sgd_update(params, grads, lr):\n"
            "    params = {k: params[k] - lr * grads[k] for k in params}\n"
        },
        failing=("br-test-sgd-update",),
        bug="04.update.none",
    ),
    Plant(
        "update in place (correct)",
        NB,
        {
            "br-sgd-update": """
def sgd_update(params, grads, lr):
    for m in range(1, len(params) // 2 + 1):
        params[f"W{m}"] -= lr * grads[f"W{m}"]
        params[f"b{m}"] -= lr * grads[f"b{m}"]
    return params
"""
        },
    ),
    # issue 12: misdiagnosed bugs, numerical differentiation, stderr, float32
    Plant(
        "backward with f' of the layer above",
        NB,
        {"br-backward": _backward(delta_down="f_prime(z[m]) * (params[f'W{m}'].T @ delta)")},
        failing=ALL,
        bug="04.backward.fprime-wrong-layer",
    ),
    Plant(
        "backward without f' anywhere",
        NB,
        {"br-backward": _backward(delta_top="dJ_da", delta_down="params[f'W{m}'].T @ delta")},
        failing=ALL,
        bug="04.backward.no-fprime",
        says="missing f'(z)",  # the output layer's gradients: "missing f'(z) at the output"
    ),
    Plant(
        "backward by numerical differentiation of the forward",
        NB,
        {
            "br-backward": """
from course.gradcheck import numerical_gradient

def backward(params, cache, dJ_da):
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
"""
        },
        # the course's numerical gradient gives every backward test away
        failing=ALL,
        bug="04.backward.numerical",
    ),
    Plant(
        "backward that logs its progress to stderr (correct)",
        NB,
        {
            "br-backward": _backward().replace(
                "    grads = {}\n",
                "    import logging, sys\n"
                "    print('backward: M =', M, file=sys.stderr)\n"
                "    logging.warning('computing %d layers', M)\n"
                "    grads = {}\n",
            )
        },
    ),
    Plant(
        "forward in float32 (only the forward's points)",
        NB,
        {
            "br-forward": _forward(
                z="(params[f'W{m}'].astype(np.float32) @ a[m - 1].astype(np.float32) "
                "+ params[f'b{m}'].astype(np.float32))"
            )
        },
        failing=("br-test-forward",),
        bug="kit.float32",
    ),
    Plant(
        "forward without f in the hidden layers",
        NB,
        {"br-forward": _forward(a_of="f(z[m]) if m == M else z[m]")},
        # backward gets the network's cache: only the forward loses its points
        failing=("br-test-forward",),
        bug="04.forward.no-f-hidden",
    ),
    Plant(
        "update without the learning rate",
        NB,
        {
            "br-sgd-update": "def sgd_update(params, grads, lr):\n"
            "    return {k: params[k] - grads[k] for k in params}\n"
        },
        failing=("br-test-sgd-update",),
        bug="04.update.no-lr",
    ),
    Plant(
        "update returning the step alone",
        NB,
        {
            "br-sgd-update": "def sgd_update(params, grads, lr):\n"
            "    return {k: -lr * grads[k] for k in params}\n"
        },
        failing=("br-test-sgd-update",),
        bug="04.update.step-only",
    ),
    Plant(
        "update leaving the weights as they are",
        NB,
        {
            "br-sgd-update": "def sgd_update(params, grads, lr):\n"
            "    return {k: params[k] - (lr * grads[k] if k[0] == 'b' else 0) for k in params}\n"
        },
        failing=("br-test-sgd-update",),
        bug="04.update.not-updated",
    ),
    Plant(
        "forward subtracting the biases",
        NB,
        {"br-forward": _forward(z="params[f'W{m}'] @ a[m - 1] - params[f'b{m}']")},
        # backward gets the network's cache: only the forward loses its points
        failing=("br-test-forward",),
        bug="04.forward.minus-bias",
    ),
]
