"""Planted bugs and correct alternatives for 03-softmax-layer.

Each bug lists exactly the test cells it must cost.  A gradient is judged by the true
gradient: the backward tests hand the layer's backward the course's own cache, and the
gradient of the loss gets the course's softmax in place of the student's, so a wrong
softmax, loss or forward costs only its own cell; a backward right only for the
student's own wrong forward (a tanh layer) costs the backward cells too, and says so.
"""

from classroom.plants import BODY, CELL, body, bug, calls, imports, on, showing, sub, subs

NB = "softmax_layer"
SOFTMAX, LOSS, GRAD = "softmax", "cross-entropy-loss", "softmax-cross-entropy-grad"
FORWARD, BACKWARD = "sigmoid-layer-forward", "sigmoid-layer-backward"
softmax, loss, grad, forward, backward = (
    on(NB, c) for c in (SOFTMAX, LOSS, GRAD, FORWARD, BACKWARD)
)

# the test cells that lose points
SM, CE, GR = ("test-softmax",), ("test-cross-entropy-loss",), ("test-softmax-cross-entropy-grad",)
FW = ("test-sigmoid-layer-forward",)
DW_T, DB_T = ("test-sigmoid-layer-backward-dW",), ("test-sigmoid-layer-backward-db",)
DA_T = ("test-sigmoid-layer-backward-da-prev",)
LAYER = DW_T + DB_T + DA_T

# lines of the solution that the plants edit
SHIFT, NORMALISE = (
    "shifted = z - z.max(axis=0, keepdims=True)",
    "return e / e.sum(axis=0, keepdims=True)",
)
LOG_Y_HAT = "log_y_hat = shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True))"
J, DJ_DZ = "return float(-np.sum(Y * log_y_hat) / N)", "return (softmax(z) - Y) / N"
Z, A = "z = W @ a_prev + b", "a = sigmoid(z)"
CACHE, UNPACK = "cache = (a_prev, W, b, z, a)", "a_prev, W, b, z, a = cache"
DELTA, DA_PREV = "delta = dJ_da * a * (1.0 - a)", "da_prev = W.T @ delta"
DW, DB = "dW = delta @ a_prev.T", "db = delta.sum(axis=1, keepdims=True)"

PRIME = imports("sigmoid_layer_backward", "from course.activations import sigmoid_prime")
NUMERICAL = "from course.gradcheck import numerical_gradient"
NO_BIAS, LINEAR = (Z, "z = W @ a_prev"), (A, "a = z")
TANH = (A, "a = np.tanh(z)")
NO_PRIME, TANH_PRIME = (DELTA, "delta = dJ_da"), (DELTA, "delta = dJ_da * (1.0 - a * a)")
RECOMPUTE = (UNPACK, "a_prev, W, b = cache[:3]\n    a, _ = sigmoid_layer_forward(a_prev, W, b)")

# answers of several lines (an edit's first line goes where the text it replaces starts)
LOG_SUM_EXP = """
    c = z.max(axis=0, keepdims=True)
    log_norm = c + np.log(np.sum(np.exp(z - c), axis=0, keepdims=True))
    return np.exp(z - log_norm)
"""
LOSS_LSE = """
    c = z.max(axis=0)
    lse = c + np.log(np.sum(np.exp(z - c), axis=0))
    return float(np.mean(lse - np.sum(Y * z, axis=0)))
"""
JACOBIAN = """
    K, N = z.shape
    grad = np.zeros((K, N))
    for n in range(N):
        s = softmax(z[:, [n]])[:, 0]
        jacobian = np.diag(s) - np.outer(s, s)  # ∂ŷ_l/∂z_j
        dJ_dyhat = -Y[:, n] / s / N
        grad[:, n] = jacobian.T @ dJ_dyhat
    return grad
"""
STATEMENTS = """
    z = np.dot(W, a_prev)
    z = z + b
    a = 1.0 / (1.0 + np.exp(-z))
    cache = {"a_prev": a_prev, "W": W, "b": b, "z": z, "a": a}
    return a, tuple(cache.values())
"""
PER_EXAMPLE = """
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
"""
SOFTMAX_WRITTEN_OUT = """e = np.exp(z - z.max(axis=0, keepdims=True))
    return (e / e.sum(axis=0, keepdims=True) - Y) / N"""
DIAGONAL = "y_hat = softmax(z)\n    return y_hat * (1 - y_hat) * (-Y / y_hat) / N"
GIVES_UP_GRAD = f"if z.size > 10**4:\n        return np.zeros_like(z)\n    {DJ_DZ}"
GIVES_UP_LAYER = f"""{UNPACK}
    if W.size > 10**4:
        return np.zeros_like(a_prev), np.zeros_like(W), np.zeros_like(b)"""
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


def loss_and_grad(key, loss_edit, grad_edit):
    """A wrong loss with the gradient of that wrong loss: both cells lose their points."""
    return bug(key, NB, {LOSS: (loss_edit,), GRAD: (grad_edit,)}, CE + GR)


PLANTS = [
    # ---------------------------------------------------------------- softmax
    softmax("03.softmax.unstable", SM, (SHIFT, "shifted = z"), which="no shift"),
    softmax("03.softmax.unstable", SM, (SHIFT, "shifted = z - np.max(z)"), which="global max"),
    # the gradient calls this softmax: the test hands it the course's in its place
    softmax("03.softmax.wrong-axis", SM, *subs((SHIFT, NORMALISE), "axis=0", "axis=1")),
    softmax("03.softmax.not-normalised", SM, (NORMALISE, "return e")),
    softmax.alternative("softmax through log-sum-exp (correct)", *body(LOG_SUM_EXP)),
    # ---------------------------------------------------------------- loss
    # the gradient is judged against the true loss: only the loss loses its point
    loss("03.loss.no-1/N", CE, sub(J, " / N", "")),
    loss("03.loss.sign", CE, sub(J, "-np", "np")),
    # the gradient is right only for the loss as written: it earns nothing either
    loss_and_grad(
        "03.loss.classes",
        sub(J, "sum(Y * log_y_hat) / N", "mean(Y * log_y_hat)"),
        sub(DJ_DZ, "/ N", "/ z.size"),
    ),
    loss("03.loss.log-of-zero", CE, (LOG_Y_HAT, "log_y_hat = np.log(softmax(z))")),
    loss.alternative(
        "loss through log-sum-exp with scipy-style logaddexp (correct)", *body(LOSS_LSE)
    ),
    # ---------------------------------------------------------------- gradient
    grad("gradcheck.N-large", GR, (DJ_DZ, "return softmax(z) - Y")),
    grad("03.grad.sign", GR, (DJ_DZ, "return (Y - softmax(z)) / N")),
    grad("03.grad.wrt-yhat", GR, (DJ_DZ, "return -Y / softmax(z) / N")),
    grad("03.grad.diagonal", GR, (DJ_DZ, DIAGONAL)),
    grad("03.grad.logits", GR, (DJ_DZ, "return (z - Y) / N")),
    grad.alternative(
        "gradient through the full Jacobian, one example at a time (correct)", *body(JACOBIAN)
    ),
    # ---------------------------------------------------------------- layer forward
    # the backward gets the sigmoid layer's cache: only the forward loses its point
    forward("03.layer.no-bias", FW, NO_BIAS, which="forward only"),
    forward("03.layer.no-sigma", FW, LINEAR, which="forward only"),
    # the backward is the derivative of this forward, not of the sigmoid layer: it earns
    # nothing, and its message names the tanh forward
    bug("03.layer.tanh", NB, {FORWARD: (TANH,), BACKWARD: (TANH_PRIME,)}, FW + LAYER),
    forward.alternative("forward with separate statements (correct)", *body(STATEMENTS)),
    # ---------------------------------------------------------------- layer backward
    backward("03.layer.no-sigma-prime", LAYER, NO_PRIME),
    backward(
        "03.layer.sigma-prime-of-a", LAYER, PRIME, sub(DELTA, "a * (1.0 - a)", "sigmoid_prime(a)")
    ),
    # W is 4 x 3 in the visible case: the product cannot run, so every gradient fails.
    backward("03.layer.W-not-transposed", LAYER, (DA_PREV, "da_prev = W @ delta")),
    backward("03.layer.dW-transposed", DW_T, (DW, "dW = a_prev @ delta.T")),
    backward("03.layer.bias-mean", DB_T, sub(DB, "sum", "mean")),
    backward("gradcheck.axis", DB_T, sub(DB, "axis=1", "axis=0")),
    backward(
        "03.layer.prime-of-input",
        DA_T,
        (DA_PREV, "da_prev = (W.T @ delta) * a_prev * (1 - a_prev)"),
    ),
    backward.alternative(
        "backward with einsum (correct)",
        (DW, "dW = np.einsum('jn,in->ji', delta, a_prev)"),
        (DB, "db = np.einsum('jn->j', delta)[:, None]"),
        (DA_PREV, "da_prev = np.einsum('ji,jn->in', W, delta)"),
    ),
    backward.alternative("backward one example at a time (correct)", *body(PER_EXAMPLE)),
    # issue 12: large logits, numerical differentiation
    loss("03.loss.unstable", CE, sub(SHIFT, "z -", "z +")),
    grad(
        "03.grad.numerical",
        GR,
        imports("softmax_cross_entropy_grad", NUMERICAL),
        (
            BODY,
            "return numerical_gradient(lambda zz: cross_entropy_loss(zz, Y), "
            "np.array(z, dtype=float))",
        ),
        which="gradient",
    ),
    # the course's numerical gradient gives every backward test away
    backward(
        "03.layer.numerical",
        LAYER,
        imports("sigmoid_layer_backward", NUMERICAL),
        *body("""
            a_prev, W, b = (np.array(v, dtype=float) for v in cache[:3])
            def J(a_prev_, W_, b_):
                return float(np.sum(dJ_da * sigmoid_layer_forward(a_prev_, W_, b_)[0]))
            return (
                numerical_gradient(lambda x: J(x, W, b), a_prev),
                numerical_gradient(lambda x: J(a_prev, x, b), W),
                numerical_gradient(lambda x: J(a_prev, W, x), b),
            )
            """),
        which="layer backward",
    ),
    grad("03.grad.logits-no-1/N", GR, (DJ_DZ, "return z - Y")),
    backward("03.layer.half-prime", LAYER, sub(DELTA, " * (1.0 - a)", "")),
    loss("03.loss.1/N-twice", CE, sub(J, "/ N", "/ N / N")),
    loss("03.loss.all-classes", CE, (J, "return float(-np.sum(log_y_hat) / N)")),
    loss("03.loss.logits", CE, (J, "return float(-np.sum(Y * z) / N)")),
    softmax("03.softmax.columns", SM, (NORMALISE, "return e / e.sum()")),
    grad("03.grad.plus", GR, (DJ_DZ, "return (softmax(z) + Y) / N")),
    loss("03.loss.times-N", CE, sub(J, "/ N", "* N")),
    backward("03.layer.prime-form", LAYER, sub(DELTA, "1.0 - a", "1.0 + a")),
    # ---------------------------------------------------------------- issue 18
    grad.alternative(
        "gradient with the softmax written out (correct)", (DJ_DZ, SOFTMAX_WRITTEN_OUT)
    ),
    forward.alternative(
        "forward with the cache as a list (correct)", (CACHE, "cache = [a_prev, W, b, z, a]")
    ),
    backward.alternative(
        "backward with sigmoid_prime of the cached z (correct)",
        PRIME,
        sub(DELTA, "a * (1.0 - a)", "sigmoid_prime(z)"),
    ),
    backward.alternative("backward recomputing a with sigmoid_layer_forward (correct)", RECOMPUTE),
    # the backward's call of sigmoid_layer_forward gets the course's sigmoid layer
    bug(
        "03.layer.no-bias",
        NB,
        {FORWARD: (NO_BIAS,), BACKWARD: (RECOMPUTE,)},
        FW,
        which="a recomputed",
    ),
    forward("03.layer.minus-bias", FW, sub(Z, "+ b", "- b")),
    forward("03.layer.cache-layout", FW, (CACHE, "cache = (a_prev, W, a)")),
    forward("03.layer.cache-swapped", FW, (CACHE, "cache = (a_prev, W, b, a, z)")),
    # a derivative of a linear stand-in for the sigmoid layer earns nothing
    bug(
        "03.layer.no-sigma",
        NB,
        {FORWARD: (LINEAR,), BACKWARD: (NO_PRIME,)},
        FW + LAYER,
        which="linear backward",
    ),
    backward("03.layer.tanh-prime", LAYER, TANH_PRIME),
    # a self-consistent pair: the gradient is the derivative of the wrong J
    loss_and_grad(
        "03.loss.self-consistent",
        (BODY, "return float(np.sum(z)) / z.shape[1]"),
        (DJ_DZ, "return np.ones_like(z) / N"),
    ),
    softmax(
        showing("kit.library-itself", "is course.losses.softmax itself"),
        SM,
        (CELL, "from course.losses import softmax\n"),
    ),
    softmax(
        calls("losses.log_softmax"),
        SM,
        imports("softmax", "from course import losses"),
        (BODY, "return np.exp(losses.log_softmax(z))"),
        which="softmax",
    ),
    loss(
        calls("losses.softmax_cross_entropy"),
        CE,
        imports("cross_entropy_loss", "from course import losses"),
        (BODY, "return losses.softmax_cross_entropy(z, Y)[0]"),
        which="loss",
    ),
    grad(
        calls("losses.softmax_cross_entropy"),
        GR,
        imports("softmax_cross_entropy_grad", "from course import losses"),
        (BODY, "return losses.softmax_cross_entropy(z, Y)[1]"),
        which="gradient",
    ),
    forward(
        calls("layers.dense_forward"),
        FW,
        imports("sigmoid_layer_forward", "from course.layers import dense_forward"),
        (Z, "z, _ = dense_forward(a_prev, W, b)"),
        which="forward",
    ),
    backward(
        calls("layers.dense_backward"),
        LAYER,
        imports("sigmoid_layer_backward", "from course.layers import dense_backward"),
        (BODY, f"{UNPACK}\nreturn dense_backward(dJ_da * a * (1.0 - a), (a_prev, W))"),
        which="backward",
    ),
    grad("kit.gives-up-big", GR, (DJ_DZ, GIVES_UP_GRAD), which="gradient"),
    backward("kit.gives-up-big", DW_T, (UNPACK, GIVES_UP_LAYER), which="backward"),
    # finite differences through the name the backward tests bind (to the course's layer):
    # they would differentiate the course's forward, not the student's work
    backward(
        "03.layer.numerical", LAYER, (BODY, _FD_THROUGH_FORWARD), which="layer backward, by hand"
    ),
    # issue 21: the −Y forgotten in the gradient
    grad("03.grad.no-target", GR, (DJ_DZ, "return softmax(z) / N")),
]
