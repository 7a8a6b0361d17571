"""Planted bugs and correct alternatives for 03-softmax-layer.

Each bug lists exactly the test cells it must cost.  A gradient is judged by the true
gradient: the backward tests hand the layer's backward the course's own cache, and the
gradient of the loss gets the course's softmax in place of the student's, so a wrong
softmax, loss or forward costs only its own cell; a backward right only for the
student's own wrong forward (a tanh layer) costs the backward cells too, and says so.
"""

from classroom.plants import BODY, CELL, Plant, body, bug, imports, on, showing

NB = "softmax_layer"
SOFTMAX, LOSS, GRAD = "softmax", "cross-entropy-loss", "softmax-cross-entropy-grad"
FORWARD, BACKWARD = "sigmoid-layer-forward", "sigmoid-layer-backward"
LAYER_TESTS = (
    "test-sigmoid-layer-backward-dW",
    "test-sigmoid-layer-backward-db",
    "test-sigmoid-layer-backward-da-prev",
)


# lines of the solution that the plants edit
SHIFT = "shifted = z - z.max(axis=0, keepdims=True)"
NORMALISE = "return e / e.sum(axis=0, keepdims=True)"
LOG_Y_HAT = "log_y_hat = shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True))"
J = "return float(-np.sum(Y * log_y_hat) / N)"
DJ_DZ = "return (softmax(z) - Y) / N"
Z = "z = W @ a_prev + b"
A = "a = sigmoid(z)"
CACHE = "cache = (a_prev, W, b, z, a)"
UNPACK = "a_prev, W, b, z, a = cache"
DELTA = "delta = dJ_da * a * (1.0 - a)"
DW = "dW = delta @ a_prev.T"
DB = "db = delta.sum(axis=1, keepdims=True)"
DA_PREV = "da_prev = W.T @ delta"


PRIME = imports("sigmoid_layer_backward", "from course.activations import sigmoid_prime")
NUMERICAL = "from course.gradcheck import numerical_gradient"
RECOMPUTE = (UNPACK, "a_prev, W, b = cache[:3]\n    a, _ = sigmoid_layer_forward(a_prev, W, b)")

_FD_THROUGH_FORWARD = """
a_prev, W, b = (np.array(v, dtype=float) for v in cache[:3])
grads = []
for i, v in enumerate((a_prev, W, b)):
    g = np.zeros_like(v)
    for idx in np.ndindex(v.shape):
        up = [a_prev.copy(), W.copy(), b.copy()]
        down = [a_prev.copy(), W.copy(), b.copy()]
        up[i][idx] += 1e-6
        down[i][idx] -= 1e-6
        J_up = np.sum(dJ_da * sigmoid_layer_forward(*up)[0])
        g[idx] = (J_up - np.sum(dJ_da * sigmoid_layer_forward(*down)[0])) / 2e-6
    grads.append(g)
return tuple(grads)
"""

softmax_bug, loss_bug, grad_bug = on(NB, SOFTMAX), on(NB, LOSS), on(NB, GRAD)
forward_bug, backward_bug = on(NB, FORWARD), on(NB, BACKWARD)


def loss_and_grad_bug(key, name, loss_edit, grad_edit):
    """A wrong loss with the gradient of that wrong loss: both cells lose their points."""
    edits = {LOSS: (loss_edit,), GRAD: (grad_edit,)}
    return bug(key, name, NB, edits, ("test-cross-entropy-loss", "test-softmax-cross-entropy-grad"))


PLANTS = [
    # ---------------------------------------------------------------- softmax
    softmax_bug(
        "03.softmax.unstable",
        "softmax without the max shift",
        ("test-softmax",),
        (SHIFT, "shifted = z"),
    ),
    softmax_bug(
        "03.softmax.unstable",
        "softmax shifted by the global max",
        ("test-softmax",),
        (SHIFT, "shifted = z - np.max(z)"),
    ),
    softmax_bug(
        "03.softmax.wrong-axis",
        "softmax normalised over the wrong axis",
        # the gradient calls this softmax: the test hands it the course's in its place
        ("test-softmax",),
        (SHIFT, "shifted = z - z.max(axis=1, keepdims=True)"),
        (NORMALISE, "return e / e.sum(axis=1, keepdims=True)"),
    ),
    softmax_bug(
        "03.softmax.not-normalised",
        "softmax not normalised",
        ("test-softmax",),
        (NORMALISE, "return e"),
    ),
    Plant(
        "softmax through log-sum-exp (correct)",
        NB,
        {
            SOFTMAX: body("""
                    c = z.max(axis=0, keepdims=True)
                    log_norm = c + np.log(np.sum(np.exp(z - c), axis=0, keepdims=True))
                    return np.exp(z - log_norm)
                    """)
        },
    ),
    # ---------------------------------------------------------------- loss
    loss_bug(
        "03.loss.no-1/N",
        "loss without 1/N",
        # the gradient is judged against the true loss: only the loss loses its point
        ("test-cross-entropy-loss",),
        (J, "return float(-np.sum(Y * log_y_hat))"),
    ),
    loss_bug(
        "03.loss.sign",
        "loss with the sign flipped",
        ("test-cross-entropy-loss",),
        (J, "return float(np.sum(Y * log_y_hat) / N)"),
    ),
    # the gradient is right only for the loss as written: it earns nothing either
    loss_and_grad_bug(
        "03.loss.classes",
        "loss averaged over classes too, gradient consistent with it",
        (J, "return float(-np.mean(Y * log_y_hat))"),
        (DJ_DZ, "return (softmax(z) - Y) / z.size"),
    ),
    loss_bug(
        "03.loss.log-of-zero",
        "loss as log of softmax: -inf where a probability rounds to 0",
        ("test-cross-entropy-loss",),
        (LOG_Y_HAT, "log_y_hat = np.log(softmax(z))"),
    ),
    Plant(
        "loss through log-sum-exp with scipy-style logaddexp (correct)",
        NB,
        {
            LOSS: body("""
                    c = z.max(axis=0)
                    lse = c + np.log(np.sum(np.exp(z - c), axis=0))
                    return float(np.mean(lse - np.sum(Y * z, axis=0)))
                    """)
        },
    ),
    # ---------------------------------------------------------------- gradient
    grad_bug(
        "gradcheck.N-large",
        "gradient without 1/N",
        ("test-softmax-cross-entropy-grad",),
        (DJ_DZ, "return softmax(z) - Y"),
    ),
    grad_bug(
        "03.grad.sign",
        "gradient y - y_hat",
        ("test-softmax-cross-entropy-grad",),
        (DJ_DZ, "return (Y - softmax(z)) / N"),
    ),
    grad_bug(
        "03.grad.wrt-yhat",
        "gradient with respect to y_hat, not z",
        ("test-softmax-cross-entropy-grad",),
        (DJ_DZ, "return -Y / softmax(z) / N"),
    ),
    grad_bug(
        "03.grad.diagonal",
        "gradient with the diagonal of the Jacobian only",
        ("test-softmax-cross-entropy-grad",),
        (DJ_DZ, "y_hat = softmax(z)\n    return y_hat * (1 - y_hat) * (-Y / y_hat) / N"),
    ),
    grad_bug(
        "03.grad.logits",
        "gradient from logits",
        ("test-softmax-cross-entropy-grad",),
        (DJ_DZ, "return (z - Y) / N"),
    ),
    Plant(
        "gradient through the full Jacobian, one example at a time (correct)",
        NB,
        {
            GRAD: body("""
                    K, N = z.shape
                    grad = np.zeros((K, N))
                    for n in range(N):
                        s = softmax(z[:, [n]])[:, 0]
                        jacobian = np.diag(s) - np.outer(s, s)  # ∂ŷ_l/∂z_j
                        dJ_dyhat = -Y[:, n] / s / N
                        grad[:, n] = jacobian.T @ dJ_dyhat
                    return grad
                    """)
        },
    ),
    # ---------------------------------------------------------------- layer forward
    forward_bug(
        "03.layer.no-bias",
        "forward without the bias",
        # the backward gets the sigmoid layer's cache: only the forward loses its point
        ("test-sigmoid-layer-forward",),
        (Z, "z = W @ a_prev"),
    ),
    forward_bug(
        "03.layer.no-sigma",
        "forward without the sigmoid",
        ("test-sigmoid-layer-forward",),
        (A, "a = z"),
    ),
    Plant(
        "tanh layer, forward and backward consistent",
        NB,
        {
            FORWARD: ((A, "a = np.tanh(z)"),),
            BACKWARD: ((DELTA, "delta = dJ_da * (1.0 - a * a)"),),
        },
        # The backward is the derivative of this forward, not of the sigmoid layer: it
        # earns nothing, and its message names the tanh forward.
        failing=("test-sigmoid-layer-forward", *LAYER_TESTS),
        bug="03.layer.tanh",
    ),
    Plant(
        "forward with separate statements (correct)",
        NB,
        {
            FORWARD: body("""
                    z = np.dot(W, a_prev)
                    z = z + b
                    a = 1.0 / (1.0 + np.exp(-z))
                    cache = {"a_prev": a_prev, "W": W, "b": b, "z": z, "a": a}
                    return a, tuple(cache.values())
                    """)
        },
    ),
    # ---------------------------------------------------------------- layer backward
    backward_bug(
        "03.layer.no-sigma-prime", "backward missing sigma'", LAYER_TESTS, (DELTA, "delta = dJ_da")
    ),
    backward_bug(
        "03.layer.sigma-prime-of-a",
        "backward with sigma' of a instead of z",
        LAYER_TESTS,
        PRIME,
        (DELTA, "delta = dJ_da * sigmoid_prime(a)"),
    ),
    backward_bug(
        "03.layer.W-not-transposed",
        "backward with W instead of its transpose in da_prev",
        # W is 4 x 3 in the visible case: the product cannot run, so every gradient fails.
        LAYER_TESTS,
        (DA_PREV, "da_prev = W @ delta"),
    ),
    backward_bug(
        "03.layer.dW-transposed",
        "backward with dW transposed",
        ("test-sigmoid-layer-backward-dW",),
        (DW, "dW = a_prev @ delta.T"),
    ),
    backward_bug(
        "03.layer.bias-mean",
        "backward with db averaged",
        ("test-sigmoid-layer-backward-db",),
        (DB, "db = delta.mean(axis=1, keepdims=True)"),
    ),
    backward_bug(
        "gradcheck.axis",
        "backward with db summed over the wrong axis",
        ("test-sigmoid-layer-backward-db",),
        (DB, "db = delta.sum(axis=0, keepdims=True)"),
    ),
    backward_bug(
        "03.layer.prime-of-input",
        "backward with the layer below's sigma' in da_prev",
        ("test-sigmoid-layer-backward-da-prev",),
        (DA_PREV, "da_prev = (W.T @ delta) * a_prev * (1 - a_prev)"),
    ),
    Plant(
        "backward with einsum (correct)",
        NB,
        {
            BACKWARD: (
                (DW, "dW = np.einsum('jn,in->ji', delta, a_prev)"),
                (DB, "db = np.einsum('jn->j', delta)[:, None]"),
                (DA_PREV, "da_prev = np.einsum('ji,jn->in', W, delta)"),
            )
        },
    ),
    Plant(
        "backward one example at a time (correct)",
        NB,
        {
            BACKWARD: body("""
                    a_prev, W, _, _, a = cache
                    da_prev = np.zeros(a_prev.shape)
                    dW = np.zeros(W.shape)
                    db = np.zeros((W.shape[0], 1))
                    for n in range(a_prev.shape[1]):
                        x = a_prev[:, n]
                        y = a[:, n]
                        dJ_dz = dJ_da[:, n] * y * (1 - y)
                        for j in range(W.shape[0]):
                            db[j, 0] += dJ_dz[j]
                            for i in range(W.shape[1]):
                                dW[j, i] += dJ_dz[j] * x[i]  # ∂J/∂w_ij of the lecture, w_ij = W[j, i]
                                da_prev[i, n] += dJ_dz[j] * W[j, i]
                    return da_prev, dW, db
                    """)
        },
    ),
    # issue 12: large logits, numerical differentiation
    loss_bug(
        "03.loss.unstable",
        "loss shifted by + max (overflows at large logits)",
        ("test-cross-entropy-loss",),
        (SHIFT, "shifted = z + z.max(axis=0, keepdims=True)"),
    ),
    grad_bug(
        "03.grad.numerical",
        "gradient by numerical differentiation of the loss",
        ("test-softmax-cross-entropy-grad",),
        imports("softmax_cross_entropy_grad", NUMERICAL),
        (
            BODY,
            "return numerical_gradient(lambda zz: cross_entropy_loss(zz, Y), np.array(z, dtype=float))",
        ),
    ),
    backward_bug(
        "03.layer.numerical",
        "layer backward by numerical differentiation of the forward",
        # the course's numerical gradient gives every backward test away
        LAYER_TESTS,
        imports("sigmoid_layer_backward", NUMERICAL),
        (
            BODY,
            """
            a_prev, W, b = (np.array(v, dtype=float) for v in cache[:3])
            def J(a_prev_, W_, b_):
                return float(np.sum(dJ_da * sigmoid_layer_forward(a_prev_, W_, b_)[0]))
            return (
                numerical_gradient(lambda x: J(x, W, b), a_prev),
                numerical_gradient(lambda x: J(a_prev, x, b), W),
                numerical_gradient(lambda x: J(a_prev, W, x), b),
            )
            """,
        ),
    ),
    grad_bug(
        "03.grad.logits-no-1/N",
        "gradient from logits without 1/N",
        ("test-softmax-cross-entropy-grad",),
        (DJ_DZ, "return z - Y"),
    ),
    backward_bug(
        "03.layer.half-prime",
        "backward with only a of a(1 - a)",
        LAYER_TESTS,
        (DELTA, "delta = dJ_da * a"),
    ),
    loss_bug(
        "03.loss.1/N-twice",
        "loss divided by N twice",
        ("test-cross-entropy-loss",),
        (J, "return float(-np.sum(Y * log_y_hat) / N / N)"),
    ),
    loss_bug(
        "03.loss.all-classes",
        "loss over every class's log probability",
        ("test-cross-entropy-loss",),
        (J, "return float(-np.sum(log_y_hat) / N)"),
    ),
    loss_bug(
        "03.loss.logits",
        "loss with the logits for log y_hat",
        ("test-cross-entropy-loss",),
        (J, "return float(-np.sum(Y * z) / N)"),
    ),
    softmax_bug(
        "03.softmax.columns",
        "softmax normalised by the total of the batch",
        ("test-softmax",),
        (NORMALISE, "return e / e.sum()"),
    ),
    grad_bug(
        "03.grad.plus",
        "gradient adding the target",
        ("test-softmax-cross-entropy-grad",),
        (DJ_DZ, "return (softmax(z) + Y) / N"),
    ),
    loss_bug(
        "03.loss.times-N",
        "loss multiplied by N",
        ("test-cross-entropy-loss",),
        (J, "return float(-np.sum(Y * log_y_hat) * N)"),
    ),
    backward_bug(
        "03.layer.prime-form",
        "backward with a(1 + a)",
        LAYER_TESTS,
        (DELTA, "delta = dJ_da * a * (1.0 + a)"),
    ),
    # ---------------------------------------------------------------- issue 18
    Plant(
        "gradient with the softmax written out (correct)",
        NB,
        {
            GRAD: (
                (
                    DJ_DZ,
                    "e = np.exp(z - z.max(axis=0, keepdims=True))\n"
                    "    return (e / e.sum(axis=0, keepdims=True) - Y) / N",
                ),
            )
        },
    ),
    Plant(
        "forward with the cache as a list (correct)",
        NB,
        {FORWARD: ((CACHE, "cache = [a_prev, W, b, z, a]"),)},
    ),
    Plant(
        "backward with sigmoid_prime of the cached z (correct)",
        NB,
        {BACKWARD: (PRIME, (DELTA, "delta = dJ_da * sigmoid_prime(z)"))},
    ),
    Plant(
        "backward recomputing a with sigmoid_layer_forward (correct)",
        NB,
        {BACKWARD: (RECOMPUTE,)},
    ),
    Plant(
        "forward without the bias, backward recomputing a with it",
        NB,
        {FORWARD: ((Z, "z = W @ a_prev"),), BACKWARD: (RECOMPUTE,)},
        # the backward's call of sigmoid_layer_forward gets the course's sigmoid layer
        failing=("test-sigmoid-layer-forward",),
        bug="03.layer.no-bias",
    ),
    forward_bug(
        "03.layer.minus-bias",
        "forward subtracting the bias",
        ("test-sigmoid-layer-forward",),
        (Z, "z = W @ a_prev - b"),
    ),
    forward_bug(
        "03.layer.cache-layout",
        "forward in the old layout (a_prev, W, a)",
        ("test-sigmoid-layer-forward",),
        (CACHE, "cache = (a_prev, W, a)"),
    ),
    forward_bug(
        "03.layer.cache-swapped",
        "forward with z and a swapped in the cache",
        ("test-sigmoid-layer-forward",),
        (CACHE, "cache = (a_prev, W, b, a, z)"),
    ),
    Plant(
        "linear layer, forward and backward consistent",
        NB,
        {FORWARD: ((A, "a = z"),), BACKWARD: ((DELTA, "delta = dJ_da"),)},
        # a derivative of a linear stand-in for the sigmoid layer earns nothing
        failing=("test-sigmoid-layer-forward", *LAYER_TESTS),
        bug="03.layer.no-sigma",
    ),
    backward_bug(
        "03.layer.tanh-prime",
        "backward with tanh's derivative",
        LAYER_TESTS,
        (DELTA, "delta = dJ_da * (1.0 - a * a)"),
    ),
    # a self-consistent pair: the gradient is the derivative of the wrong J
    loss_and_grad_bug(
        "03.loss.self-consistent",
        "loss and gradient of the sum of the logits",
        (BODY, "return float(np.sum(z)) / z.shape[1]"),
        (DJ_DZ, "return np.ones_like(z) / N"),
    ),
    softmax_bug(
        showing("kit.library-itself", "is course.losses.softmax itself"),
        "the library's softmax as the answer",
        ("test-softmax",),
        (CELL, "from course.losses import softmax\n"),
    ),
    softmax_bug(
        showing("kit.library-call", "calls course.losses.log_softmax"),
        "the library's log_softmax inside softmax",
        ("test-softmax",),
        imports("softmax", "from course import losses"),
        (BODY, "return np.exp(losses.log_softmax(z))"),
    ),
    loss_bug(
        showing("kit.library-call", "calls course.losses.softmax_cross_entropy"),
        "the library's cross-entropy as the loss",
        ("test-cross-entropy-loss",),
        imports("cross_entropy_loss", "from course import losses"),
        (BODY, "return losses.softmax_cross_entropy(z, Y)[0]"),
    ),
    grad_bug(
        showing("kit.library-call", "calls course.losses.softmax_cross_entropy"),
        "the library's cross-entropy gradient as the gradient",
        ("test-softmax-cross-entropy-grad",),
        imports("softmax_cross_entropy_grad", "from course import losses"),
        (BODY, "return losses.softmax_cross_entropy(z, Y)[1]"),
    ),
    forward_bug(
        showing("kit.library-call", "calls course.layers.dense_forward"),
        "the library's dense layer in the forward",
        ("test-sigmoid-layer-forward",),
        imports("sigmoid_layer_forward", "from course.layers import dense_forward"),
        (Z, "z, _ = dense_forward(a_prev, W, b)"),
    ),
    backward_bug(
        showing("kit.library-call", "calls course.layers.dense_backward"),
        "the library's dense layer in the backward",
        LAYER_TESTS,
        imports("sigmoid_layer_backward", "from course.layers import dense_backward"),
        (
            BODY,
            f"{UNPACK}\nreturn dense_backward(dJ_da * a * (1.0 - a), (a_prev, W))",
        ),
    ),
    grad_bug(
        "kit.gives-up-big",
        "gradient that gives up on large logits",
        ("test-softmax-cross-entropy-grad",),
        (DJ_DZ, f"if z.size > 10**4:\n        return np.zeros_like(z)\n    {DJ_DZ}"),
    ),
    backward_bug(
        "kit.gives-up-big",
        "layer backward that gives up on a big layer",
        ("test-sigmoid-layer-backward-dW",),
        (
            UNPACK,
            f"{UNPACK}\n    if W.size > 10**4:\n"
            "        return np.zeros_like(a_prev), np.zeros_like(W), np.zeros_like(b)",
        ),
    ),
    # finite differences through the name the backward tests bind (to the course's layer):
    # they would differentiate the course's forward, not the student's work
    backward_bug(
        "03.layer.numerical",
        "layer backward by central differences through sigmoid_layer_forward, by hand",
        LAYER_TESTS,
        (BODY, _FD_THROUGH_FORWARD),
    ),
    # issue 21: the −Y forgotten in the gradient
    grad_bug(
        "03.grad.no-target",
        "gradient without the target: softmax(z)/N",
        ("test-softmax-cross-entropy-grad",),
        (DJ_DZ, "return softmax(z) / N"),
    ),
]
