"""Planted bugs and correct alternatives for 03-softmax-layer.

Each bug lists exactly the test cells it must cost.  A gradient is judged by the true
gradient: the backward tests hand the layer's backward the course's own cache, and the
gradient of the loss gets the course's softmax in place of the student's, so a wrong
softmax, loss or forward costs only its own cell; a backward right only for the
student's own wrong forward (a tanh layer) costs the backward cells too, and says so.
"""

from classroom.plants import Plant

NB = "softmax_layer"


def _backward(
    delta="dJ_da * a * (1.0 - a)",
    dW="delta @ a_prev.T",
    db="delta.sum(axis=1, keepdims=True)",
    da_prev="W.T @ delta",
):
    return f"""
from course.activations import sigmoid_prime

def sigmoid_layer_backward(dJ_da, cache):
    a_prev, W, b, z, a = cache
    delta = {delta}
    return {da_prev}, {dW}, {db}
"""


def _edit_loss(old, new):
    from classroom.plants import edit_solution

    return edit_solution("03-softmax-layer", NB, "sl-ce-loss", (old, new))


LAYER_TESTS = ("sl-test-layer-dW", "sl-test-layer-db", "sl-test-layer-da-prev")

_FD_THROUGH_FORWARD = """
def sigmoid_layer_backward(dJ_da, cache):
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

PLANTS = [
    # ---------------------------------------------------------------- softmax
    Plant(
        "softmax without the max shift",
        NB,
        {
            "sl-softmax": """
def softmax(z):
    e = np.exp(z)
    return e / e.sum(axis=0, keepdims=True)
"""
        },
        failing=("sl-test-softmax",),
        bug="03.softmax.unstable",
    ),
    Plant(
        "softmax shifted by the global max",
        NB,
        {
            "sl-softmax": """
def softmax(z):
    e = np.exp(z - np.max(z))
    return e / e.sum(axis=0, keepdims=True)
"""
        },
        failing=("sl-test-softmax",),
        bug="03.softmax.unstable",
    ),
    Plant(
        "softmax normalised over the wrong axis",
        NB,
        {
            "sl-softmax": """
def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
"""
        },
        # the gradient calls this softmax: the test hands it the course's in its place
        failing=("sl-test-softmax",),
        bug="03.softmax.wrong-axis",
    ),
    Plant(
        "softmax not normalised",
        NB,
        {
            "sl-softmax": """
def softmax(z):
    return np.exp(z - z.max(axis=0, keepdims=True))
"""
        },
        failing=("sl-test-softmax",),
        bug="03.softmax.not-normalised",
    ),
    Plant(
        "softmax through log-sum-exp (correct)",
        NB,
        {
            "sl-softmax": """
def softmax(z):
    c = z.max(axis=0, keepdims=True)
    log_norm = c + np.log(np.sum(np.exp(z - c), axis=0, keepdims=True))
    return np.exp(z - log_norm)
"""
        },
    ),
    # ---------------------------------------------------------------- loss
    Plant(
        "loss without 1/N",
        NB,
        {
            "sl-ce-loss": """
def cross_entropy_loss(z, Y):
    return float(-np.sum(Y * np.log(softmax(z))))
"""
        },
        # the gradient is judged against the true loss: only the loss loses its point
        failing=("sl-test-ce-loss",),
        bug="03.loss.no-1/N",
    ),
    Plant(
        "loss with the sign flipped",
        NB,
        {
            "sl-ce-loss": """
def cross_entropy_loss(z, Y):
    return float(np.sum(Y * np.log(softmax(z))) / z.shape[1])
"""
        },
        failing=("sl-test-ce-loss",),
        bug="03.loss.sign",
    ),
    Plant(
        "loss averaged over classes too, gradient consistent with it",
        NB,
        {
            "sl-ce-loss": """
def cross_entropy_loss(z, Y):
    return float(-np.mean(Y * np.log(softmax(z))))
""",
            "sl-ce-grad": """
def softmax_cross_entropy_grad(z, Y):
    return (softmax(z) - Y) / z.size
""",
        },
        # the gradient is right only for the loss as written: it earns nothing either
        failing=("sl-test-ce-loss", "sl-test-ce-grad"),
        bug="03.loss.classes",
    ),
    Plant(
        "loss as log of softmax: -inf where a probability rounds to 0",
        NB,
        {
            "sl-ce-loss": """
def cross_entropy_loss(z, Y):
    N = z.shape[1]
    return -(Y * np.log(softmax(z))).sum() / N
"""
        },
        failing=("sl-test-ce-loss",),
        bug="03.loss.log-of-zero",
    ),
    Plant(
        "loss through log-sum-exp with scipy-style logaddexp (correct)",
        NB,
        {
            "sl-ce-loss": """
def cross_entropy_loss(z, Y):
    c = z.max(axis=0)
    lse = c + np.log(np.sum(np.exp(z - c), axis=0))
    return float(np.mean(lse - np.sum(Y * z, axis=0)))
"""
        },
    ),
    # ---------------------------------------------------------------- gradient
    Plant(
        "gradient without 1/N",
        NB,
        {"sl-ce-grad": "def softmax_cross_entropy_grad(z, Y):\n    return softmax(z) - Y\n"},
        failing=("sl-test-ce-grad",),
        bug="gradcheck.N-large",
    ),
    Plant(
        "gradient y - y_hat",
        NB,
        {
            "sl-ce-grad": "def softmax_cross_entropy_grad(z, Y):\n"
            "    return (Y - softmax(z)) / z.shape[1]\n"
        },
        failing=("sl-test-ce-grad",),
        bug="03.grad.sign",
    ),
    Plant(
        "gradient with respect to y_hat, not z",
        NB,
        {
            "sl-ce-grad": "def softmax_cross_entropy_grad(z, Y):\n"
            "    return -Y / softmax(z) / z.shape[1]\n"
        },
        failing=("sl-test-ce-grad",),
        bug="03.grad.wrt-yhat",
    ),
    Plant(
        "gradient with the diagonal of the Jacobian only",
        NB,
        {
            "sl-ce-grad": """
def softmax_cross_entropy_grad(z, Y):
    y_hat = softmax(z)
    return y_hat * (1 - y_hat) * (-Y / y_hat) / z.shape[1]
"""
        },
        failing=("sl-test-ce-grad",),
        bug="03.grad.diagonal",
    ),
    Plant(
        "gradient from logits",
        NB,
        {"sl-ce-grad": "def softmax_cross_entropy_grad(z, Y):\n    return (z - Y) / z.shape[1]\n"},
        failing=("sl-test-ce-grad",),
        bug="03.grad.logits",
    ),
    Plant(
        "gradient through the full Jacobian, one example at a time (correct)",
        NB,
        {
            "sl-ce-grad": """
def softmax_cross_entropy_grad(z, Y):
    K, N = z.shape
    grad = np.zeros((K, N))
    for n in range(N):
        s = softmax(z[:, [n]])[:, 0]
        jacobian = np.diag(s) - np.outer(s, s)  # ∂ŷ_l/∂z_j
        dJ_dyhat = -Y[:, n] / s / N
        grad[:, n] = jacobian.T @ dJ_dyhat
    return grad
"""
        },
    ),
    # ---------------------------------------------------------------- layer forward
    Plant(
        "forward without the bias",
        NB,
        {
            "sl-layer-forward": """
def sigmoid_layer_forward(a_prev, W, b):
    z = W @ a_prev
    a = sigmoid(z)
    return a, (a_prev, W, b, z, a)
"""
        },
        # the backward gets the sigmoid layer's cache: only the forward loses its point
        failing=("sl-test-layer-forward",),
        bug="03.layer.no-bias",
    ),
    Plant(
        "forward without the sigmoid",
        NB,
        {
            "sl-layer-forward": """
def sigmoid_layer_forward(a_prev, W, b):
    z = W @ a_prev + b
    return z, (a_prev, W, b, z, z)
"""
        },
        failing=("sl-test-layer-forward",),
        bug="03.layer.no-sigma",
    ),
    Plant(
        "tanh layer, forward and backward consistent",
        NB,
        {
            "sl-layer-forward": """
def sigmoid_layer_forward(a_prev, W, b):
    z = W @ a_prev + b
    a = np.tanh(z)
    return a, (a_prev, W, b, z, a)
""",
            "sl-layer-backward": _backward(delta="dJ_da * (1.0 - a * a)"),
        },
        # The backward is the derivative of this forward, not of the sigmoid layer: it
        # earns nothing, and its message names the tanh forward.
        failing=("sl-test-layer-forward", *LAYER_TESTS),
        bug="03.layer.tanh",
    ),
    Plant(
        "forward with separate statements (correct)",
        NB,
        {
            "sl-layer-forward": """
def sigmoid_layer_forward(a_prev, W, b):
    z = np.dot(W, a_prev)
    z = z + b
    a = 1.0 / (1.0 + np.exp(-z))
    cache = {"a_prev": a_prev, "W": W, "b": b, "z": z, "a": a}
    return a, tuple(cache.values())
"""
        },
    ),
    # ---------------------------------------------------------------- layer backward
    Plant(
        "backward missing sigma'",
        NB,
        {"sl-layer-backward": _backward(delta="dJ_da")},
        failing=LAYER_TESTS,
        bug="03.layer.no-sigma-prime",
    ),
    Plant(
        "backward with sigma' of a instead of z",
        NB,
        {"sl-layer-backward": _backward(delta="dJ_da * sigmoid_prime(a)")},
        failing=LAYER_TESTS,
        bug="03.layer.sigma-prime-of-a",
    ),
    Plant(
        "backward with W instead of its transpose in da_prev",
        NB,
        {"sl-layer-backward": _backward(da_prev="W @ delta")},
        # W is 4 x 3 in the visible case: the product cannot run, so every gradient fails.
        failing=LAYER_TESTS,
        bug="03.layer.W-not-transposed",
    ),
    Plant(
        "backward with dW transposed",
        NB,
        {"sl-layer-backward": _backward(dW="a_prev @ delta.T")},
        failing=("sl-test-layer-dW",),
        bug="03.layer.dW-transposed",
    ),
    Plant(
        "backward with db averaged",
        NB,
        {"sl-layer-backward": _backward(db="delta.mean(axis=1, keepdims=True)")},
        failing=("sl-test-layer-db",),
        bug="03.layer.bias-mean",
    ),
    Plant(
        "backward with db summed over the wrong axis",
        NB,
        {"sl-layer-backward": _backward(db="delta.sum(axis=0, keepdims=True)")},
        failing=("sl-test-layer-db",),
        bug="gradcheck.axis",
    ),
    Plant(
        "backward with the layer below's sigma' in da_prev",
        NB,
        {"sl-layer-backward": _backward(da_prev="(W.T @ delta) * a_prev * (1 - a_prev)")},
        failing=("sl-test-layer-da-prev",),
        bug="03.layer.prime-of-input",
    ),
    Plant(
        "backward with einsum (correct)",
        NB,
        {
            "sl-layer-backward": _backward(
                dW="np.einsum('jn,in->ji', delta, a_prev)",
                db="np.einsum('jn->j', delta)[:, None]",
                da_prev="np.einsum('ji,jn->in', W, delta)",
            )
        },
    ),
    Plant(
        "backward one example at a time (correct)",
        NB,
        {
            "sl-layer-backward": """
def sigmoid_layer_backward(dJ_da, cache):
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
        },
    ),
    # issue 12: large logits, numerical differentiation
    Plant(
        "loss shifted by + max (overflows at large logits)",
        NB,
        {
            "sl-ce-loss": """
def cross_entropy_loss(z, Y):
    N = z.shape[1]
    shifted = z + z.max(axis=0, keepdims=True)
    log_y_hat = shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True))
    return float(-np.sum(Y * log_y_hat) / N)
"""
        },
        failing=("sl-test-ce-loss",),
        bug="03.loss.unstable",
    ),
    Plant(
        "gradient by numerical differentiation of the loss",
        NB,
        {
            "sl-ce-grad": """
from course.gradcheck import numerical_gradient

def softmax_cross_entropy_grad(z, Y):
    return numerical_gradient(lambda zz: cross_entropy_loss(zz, Y), np.array(z, dtype=float))
"""
        },
        failing=("sl-test-ce-grad",),
        bug="03.grad.numerical",
    ),
    Plant(
        "layer backward by numerical differentiation of the forward",
        NB,
        {
            "sl-layer-backward": """
from course.gradcheck import numerical_gradient

def sigmoid_layer_backward(dJ_da, cache):
    a_prev, W, b = (np.array(v, dtype=float) for v in cache[:3])
    def J(a_prev_, W_, b_):
        return float(np.sum(dJ_da * sigmoid_layer_forward(a_prev_, W_, b_)[0]))
    return (
        numerical_gradient(lambda x: J(x, W, b), a_prev),
        numerical_gradient(lambda x: J(a_prev, x, b), W),
        numerical_gradient(lambda x: J(a_prev, W, x), b),
    )
""",
        },
        # the course's numerical gradient gives every backward test away
        failing=LAYER_TESTS,
        bug="03.layer.numerical",
    ),
    Plant(
        "gradient from logits without 1/N",
        NB,
        {"sl-ce-grad": "def softmax_cross_entropy_grad(z, Y):\n    return z - Y\n"},
        failing=("sl-test-ce-grad",),
        bug="03.grad.logits-no-1/N",
    ),
    Plant(
        "backward with only a of a(1 - a)",
        NB,
        {"sl-layer-backward": _backward(delta="dJ_da * a")},
        failing=LAYER_TESTS,
        bug="03.layer.half-prime",
    ),
    Plant(
        "loss divided by N twice",
        NB,
        {
            "sl-ce-loss": _edit_loss(
                "return float(-np.sum(Y * log_y_hat) / N)",
                "return float(-np.sum(Y * log_y_hat) / N / N)",
            )
        },
        failing=("sl-test-ce-loss",),
        bug="03.loss.1/N-twice",
    ),
    Plant(
        "loss over every class's log probability",
        NB,
        {
            "sl-ce-loss": _edit_loss(
                "return float(-np.sum(Y * log_y_hat) / N)", "return float(-np.sum(log_y_hat) / N)"
            )
        },
        failing=("sl-test-ce-loss",),
        bug="03.loss.all-classes",
    ),
    Plant(
        "loss with the logits for log y_hat",
        NB,
        {
            "sl-ce-loss": "def cross_entropy_loss(z, Y):\n    return float(-np.sum(Y * z) / z.shape[1])\n"
        },
        failing=("sl-test-ce-loss",),
        bug="03.loss.logits",
    ),
    Plant(
        "softmax normalised by the total of the batch",
        NB,
        {
            "sl-softmax": "def softmax(z):\n    e = np.exp(z - z.max(axis=0, keepdims=True))\n"
            "    return e / e.sum()\n",
        },
        failing=("sl-test-softmax",),
        bug="03.softmax.columns",
    ),
    Plant(
        "gradient adding the target",
        NB,
        {
            "sl-ce-grad": "def softmax_cross_entropy_grad(z, Y):\n    return (softmax(z) + Y) / z.shape[1]\n"
        },
        failing=("sl-test-ce-grad",),
        bug="03.grad.plus",
    ),
    Plant(
        "loss multiplied by N",
        NB,
        {
            "sl-ce-loss": _edit_loss(
                "return float(-np.sum(Y * log_y_hat) / N)",
                "return float(-np.sum(Y * log_y_hat) * N)",
            )
        },
        failing=("sl-test-ce-loss",),
        bug="03.loss.times-N",
    ),
    Plant(
        "backward with a(1 + a)",
        NB,
        {"sl-layer-backward": _backward(delta="dJ_da * a * (1.0 + a)")},
        failing=LAYER_TESTS,
        bug="03.layer.prime-form",
    ),
    # ---------------------------------------------------------------- issue 18
    Plant(
        "gradient with the softmax written out (correct)",
        NB,
        {
            "sl-ce-grad": """
def softmax_cross_entropy_grad(z, Y):
    e = np.exp(z - z.max(axis=0, keepdims=True))
    return (e / e.sum(axis=0, keepdims=True) - Y) / z.shape[1]
"""
        },
    ),
    Plant(
        "forward with the cache as a list (correct)",
        NB,
        {
            "sl-layer-forward": """
def sigmoid_layer_forward(a_prev, W, b):
    z = W @ a_prev + b
    a = sigmoid(z)
    return a, [a_prev, W, b, z, a]
"""
        },
    ),
    Plant(
        "backward with sigmoid_prime of the cached z (correct)",
        NB,
        {"sl-layer-backward": _backward(delta="dJ_da * sigmoid_prime(z)")},
    ),
    Plant(
        "backward recomputing a with sigmoid_layer_forward (correct)",
        NB,
        {
            "sl-layer-backward": """
def sigmoid_layer_backward(dJ_da, cache):
    a_prev, W, b = cache[:3]
    a, _ = sigmoid_layer_forward(a_prev, W, b)
    delta = dJ_da * a * (1 - a)
    return W.T @ delta, delta @ a_prev.T, delta.sum(axis=1, keepdims=True)
"""
        },
    ),
    Plant(
        "forward without the bias, backward recomputing a with it",
        NB,
        {
            "sl-layer-forward": """
def sigmoid_layer_forward(a_prev, W, b):
    z = W @ a_prev
    a = sigmoid(z)
    return a, (a_prev, W, b, z, a)
""",
            "sl-layer-backward": """
def sigmoid_layer_backward(dJ_da, cache):
    a_prev, W, b = cache[:3]
    a, _ = sigmoid_layer_forward(a_prev, W, b)
    delta = dJ_da * a * (1 - a)
    return W.T @ delta, delta @ a_prev.T, delta.sum(axis=1, keepdims=True)
""",
        },
        # the backward's call of sigmoid_layer_forward gets the course's sigmoid layer
        failing=("sl-test-layer-forward",),
        bug="03.layer.no-bias",
    ),
    Plant(
        "forward subtracting the bias",
        NB,
        {
            "sl-layer-forward": """
def sigmoid_layer_forward(a_prev, W, b):
    z = W @ a_prev - b
    a = sigmoid(z)
    return a, (a_prev, W, b, z, a)
"""
        },
        failing=("sl-test-layer-forward",),
        bug="03.layer.minus-bias",
    ),
    Plant(
        "forward in the old layout (a_prev, W, a)",
        NB,
        {
            "sl-layer-forward": """
def sigmoid_layer_forward(a_prev, W, b):
    a = sigmoid(W @ a_prev + b)
    return a, (a_prev, W, a)
"""
        },
        failing=("sl-test-layer-forward",),
        says="(a_prev, W, b, z, a)",
    ),
    Plant(
        "forward with z and a swapped in the cache",
        NB,
        {
            "sl-layer-forward": """
def sigmoid_layer_forward(a_prev, W, b):
    z = W @ a_prev + b
    a = sigmoid(z)
    return a, (a_prev, W, b, a, z)
"""
        },
        failing=("sl-test-layer-forward",),
        says="cache[3] holds a, not z",
    ),
    Plant(
        "linear layer, forward and backward consistent",
        NB,
        {
            "sl-layer-forward": """
def sigmoid_layer_forward(a_prev, W, b):
    z = W @ a_prev + b
    return z, (a_prev, W, b, z, z)
""",
            "sl-layer-backward": _backward(delta="dJ_da"),
        },
        # a derivative of a linear stand-in for the sigmoid layer earns nothing
        failing=("sl-test-layer-forward", *LAYER_TESTS),
        bug="03.layer.no-sigma",
    ),
    Plant(
        "backward with tanh's derivative",
        NB,
        {"sl-layer-backward": _backward(delta="dJ_da * (1.0 - a * a)")},
        failing=LAYER_TESTS,
        bug="03.layer.tanh-prime",
    ),
    Plant(
        "loss and gradient of the sum of the logits",
        NB,
        {
            "sl-ce-loss": """
def cross_entropy_loss(z, Y):
    return float(np.sum(z)) / z.shape[1]
""",
            "sl-ce-grad": """
def softmax_cross_entropy_grad(z, Y):
    return np.ones_like(z) / z.shape[1]
""",
        },
        # a self-consistent pair: the gradient is the derivative of the wrong J
        failing=("sl-test-ce-loss", "sl-test-ce-grad"),
        says="cross_entropy_loss",
    ),
    Plant(
        "the library's softmax as the answer",
        NB,
        {"sl-softmax": "from course.losses import softmax\n"},
        failing=("sl-test-softmax",),
        says="is course.losses.softmax itself",
    ),
    Plant(
        "the library's log_softmax inside softmax",
        NB,
        {
            "sl-softmax": """
from course import losses

def softmax(z):
    return np.exp(losses.log_softmax(z))
"""
        },
        failing=("sl-test-softmax",),
        says="calls course.losses.log_softmax",
    ),
    Plant(
        "the library's cross-entropy as the loss",
        NB,
        {
            "sl-ce-loss": """
from course import losses

def cross_entropy_loss(z, Y):
    return losses.softmax_cross_entropy(z, Y)[0]
"""
        },
        failing=("sl-test-ce-loss",),
        says="calls course.losses.softmax_cross_entropy",
    ),
    Plant(
        "the library's cross-entropy gradient as the gradient",
        NB,
        {
            "sl-ce-grad": """
from course import losses

def softmax_cross_entropy_grad(z, Y):
    return losses.softmax_cross_entropy(z, Y)[1]
"""
        },
        failing=("sl-test-ce-grad",),
        says="calls course.losses.softmax_cross_entropy",
    ),
    Plant(
        "the library's dense layer in the forward",
        NB,
        {
            "sl-layer-forward": """
from course.layers import dense_forward

def sigmoid_layer_forward(a_prev, W, b):
    z, _ = dense_forward(a_prev, W, b)
    a = sigmoid(z)
    return a, (a_prev, W, b, z, a)
"""
        },
        failing=("sl-test-layer-forward",),
        says="calls course.layers.dense_forward",
    ),
    Plant(
        "the library's dense layer in the backward",
        NB,
        {
            "sl-layer-backward": """
from course.layers import dense_backward

def sigmoid_layer_backward(dJ_da, cache):
    a_prev, W, b, z, a = cache
    return dense_backward(dJ_da * a * (1.0 - a), (a_prev, W))
"""
        },
        failing=LAYER_TESTS,
        says="calls course.layers.dense_backward",
    ),
    Plant(
        "gradient that gives up on large logits",
        NB,
        {
            "sl-ce-grad": """
def softmax_cross_entropy_grad(z, Y):
    if z.size > 10**4:
        return np.zeros_like(z)
    return (softmax(z) - Y) / z.shape[1]
"""
        },
        failing=("sl-test-ce-grad",),
        says="not computed by backpropagation",
    ),
    Plant(
        "layer backward that gives up on a big layer",
        NB,
        {
            "sl-layer-backward": """
def sigmoid_layer_backward(dJ_da, cache):
    a_prev, W, b, z, a = cache
    if W.size > 10**4:
        return np.zeros_like(a_prev), np.zeros_like(W), np.zeros_like(b)
    delta = dJ_da * a * (1.0 - a)
    return W.T @ delta, delta @ a_prev.T, delta.sum(axis=1, keepdims=True)
"""
        },
        failing=("sl-test-layer-dW",),
        says="not computed by backpropagation",
    ),
    # finite differences through the name the backward tests bind (to the course's layer):
    # they would differentiate the course's forward, not the student's work
    Plant(
        "layer backward by central differences through sigmoid_layer_forward, by hand",
        NB,
        {"sl-layer-backward": _FD_THROUGH_FORWARD},
        failing=LAYER_TESTS,
        bug="03.layer.numerical",
    ),
]

# issue 21: the −Y forgotten in the gradient
PLANTS += [
    Plant(
        "gradient without the target: softmax(z)/N",
        NB,
        {
            "sl-ce-grad": "def softmax_cross_entropy_grad(z, Y):\n    return softmax(z) / z.shape[1]\n"
        },
        failing=("sl-test-ce-grad",),
        bug="03.grad.no-target",
    ),
]
