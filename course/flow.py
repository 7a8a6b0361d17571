"""The numbers behind the gradient-flow widgets: per-layer gradient norms and friends.

Everything here is plain NumPy on top of :mod:`course.network`, so tests check the
numbers without a browser and :mod:`course.widgets` only draws them.  Norms are
computed in float64: in the vanishing regime ‖δ^1‖ reaches 1e-10 and below, and
float32 would round the small ones to zero.

The δ^m recursion (BP2 in the course's notation)::

    δ^M = ∂J/∂z^M   (softmax + cross-entropy on identity outputs)
    δ^m = f'(z^m) ∘ (W^{m+1})ᵀ δ^{m+1},      ∂J/∂W^m = δ^m (a^{m-1})ᵀ

shows why depth matters: each layer multiplies by (W^{m+1})ᵀ and by f'(z^m); for the
sigmoid f' ≤ 1/4, so ‖δ^m‖ ≤ (1/4) ‖W^{m+1}‖₂ ‖δ^{m+1}‖.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np

from . import data, network
from .activations import sigmoid_prime
from .losses import softmax_cross_entropy
from .training import minibatches, sgd_step

__all__ = [
    "DATASETS",
    "INITS",
    "Flow",
    "build_params",
    "gradient_flow",
    "init_std",
    "layer_sizes",
    "make_batch",
    "sgd_loss_curve",
    "sigmoid_bound",
    "sigmoid_curves",
    "single_threaded_blas",
    "spectral_norms",
    "symmetry_trajectories",
]

#: Initialisations offered by the explorer, mapped to course.network schemes.
INITS = {
    "normal": "normal",  # N(0, scale²), the scale comes from a slider
    "lecun": "lecun",  # N(0, 1/n_{m-1}): σ = 1/√n_{m-1}
    "xavier": "xavier",  # N(0, 2/(n_{m-1} + n_m)), Glorot & Bengio
    "he": "he",  # N(0, 2/n_{m-1}), for relu
}

DATASETS = ("digits", "moons", "circles", "xor")

_DIGITS_CACHE = {}
_CONTROLLER = []


@contextlib.contextmanager
def single_threaded_blas():
    """Run BLAS on one thread inside the block.

    The explorer multiplies small matrices (64 × 64 by 64 × 256): one thread is as
    fast as two on an idle machine, and when other processes compete for the cores a
    multi-threaded OpenBLAS waits on its own threads and becomes 10-20× slower
    (measured here: 8 ms vs 70-150 ms for the 93 products of a depth-30 pass).
    """
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # threadpoolctl comes with scikit-learn; without it, do nothing
        yield
        return
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    with _CONTROLLER[0].limit(limits=1, user_api="blas"):
        yield


def make_batch(kind="digits", n=256, seed=0):
    """A batch of inputs and one-hot targets, examples in columns.

    Parameters
    ----------
    kind : {"digits", "moons", "circles", "xor"}
        "digits": n standardised 8×8 digit images (n_0 = 64, 10 classes); the others
        are 2-D toy problems with 2 classes.
    n : int
        Batch size N.
    seed : int
        Which examples (digits) or which noise (toy data).

    Returns
    -------
    X : ndarray, shape (n_0, N)
    Y : ndarray, shape (K, N)
        One-hot targets.
    """
    rng = np.random.default_rng(seed)
    if kind == "digits":
        if "split" not in _DIGITS_CACHE:
            _DIGITS_CACHE["split"] = data.digits_split(seed=0)
        s = _DIGITS_CACHE["split"]
        idx = rng.choice(s.X_train.shape[1], size=min(n, s.X_train.shape[1]), replace=False)
        return s.X_train[:, idx].copy(), s.Y_train[:, idx].copy()
    makers = {"moons": data.make_moons, "circles": data.make_circles, "xor": data.make_xor}
    if kind not in makers:
        raise ValueError(f"unknown data {kind!r}; choose one of {', '.join(DATASETS)}")
    X, labels = makers[kind](n=n, rng=rng)
    return np.asarray(X, dtype=np.float64), data.one_hot(labels, 2)


def layer_sizes(depth, width, n_in, n_out):
    """[n_0, width × depth, n_out]: `depth` hidden layers, so M = depth + 1.

    Parameters
    ----------
    depth : int
        Number of hidden layers (1..30 in the explorer).
    width : int
        Units per hidden layer.
    n_in, n_out : int
        Input dimension n_0 and number of classes n_M.

    Returns
    -------
    list of int
    """
    if depth < 1 or width < 1:
        raise ValueError(f"depth and width must be positive, got {depth}, {width}")
    return [int(n_in)] + [int(width)] * int(depth) + [int(n_out)]


def build_params(depth, width, n_in, n_out, init="lecun", scale=1.0, seed=0):
    """Initial parameters of a `depth`-hidden-layer net (see :data:`INITS`).

    Parameters
    ----------
    depth, width, n_in, n_out : int
        As in :func:`layer_sizes`.
    init : {"normal", "lecun", "xavier", "he"}
    scale : float
        σ of the "normal" initialisation (ignored by the others).
    seed : int

    Returns
    -------
    dict
        "W1", "b1", ..., "WM", "bM" in float64, M = depth + 1.
    """
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
    return network.init_params(
        layer_sizes(depth, width, n_in, n_out),
        INITS[init],
        np.random.default_rng(seed),
        scale=float(scale) if init == "normal" else None,
    )


def init_std(init, n_in, n_out, scale=1.0):
    """σ of the Gaussian a scheme draws W^m (n_out, n_in) from (see :data:`INITS`).

    Parameters
    ----------
    init : {"normal", "lecun", "xavier", "he"}
    n_in, n_out : int
        n_{m-1} and n_m.
    scale : float
        σ of "normal" (the others ignore it).

    Returns
    -------
    float
        "normal": scale; "lecun": 1/√n_in; "xavier": √(2/(n_in + n_out)); "he": √(2/n_in).
    """
    stds = {
        "normal": lambda: float(scale),
        "lecun": lambda: (1.0 / n_in) ** 0.5,
        "xavier": lambda: (2.0 / (n_in + n_out)) ** 0.5,
        "he": lambda: (2.0 / n_in) ** 0.5,
    }
    if init not in stds:
        raise ValueError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
    return stds[init]()


@dataclass
class Flow:
    """Per-layer quantities of one forward/backward pass (index m − 1 holds layer m).

    Attributes
    ----------
    J : float
        Softmax cross-entropy loss of the batch.
    delta_norms : ndarray, shape (M,)
        ‖δ^m‖, the Frobenius norm of δ^m (n_m, N), which carries the loss's 1/N.
    dW_norms : ndarray, shape (M,)
        ‖∂J/∂W^m‖ (Frobenius).
    W_norms : ndarray, shape (M,)
        ‖W^m‖ (Frobenius).
    z_samples : list of ndarray
        Up to `max_samples` entries of z^m per layer (for the histograms).
    mean_f_prime : ndarray, shape (M − 1,)
        Average f'(z^m) over units and examples of each hidden layer: near 0 means
        saturated (sigmoid, tanh) or dead (relu) units.
    """

    J: float
    delta_norms: np.ndarray
    dW_norms: np.ndarray
    W_norms: np.ndarray
    z_samples: list
    mean_f_prime: np.ndarray

    @property
    def M(self):
        return len(self.delta_norms)

    @property
    def ratio(self):
        """‖δ^1‖ / ‖δ^{M−1}‖: how much the last hidden layer's signal shrinks by layer 1."""
        if self.M < 2:
            return 1.0
        return float(self.delta_norms[0] / self.delta_norms[self.M - 2])


def gradient_flow(params, X, Y, activation="sigmoid", max_samples=2000):
    """Forward and backward pass of a softmax classifier, reduced to per-layer norms.

    Parameters
    ----------
    params : dict
        "W1", "b1", ..., "WM", "bM".
    X : ndarray, shape (n_0, N)
    Y : ndarray, shape (n_M, N)
        One-hot targets.
    activation : {"sigmoid", "tanh", "relu"}
        f of the hidden layers; the output layer gives logits (identity), and the loss
        is softmax cross-entropy.
    max_samples : int
        About how many entries of each z^m to keep for histograms (whole examples).

    Returns
    -------
    Flow
    """
    with single_threaded_blas():
        return _gradient_flow(params, X, Y, activation, max_samples)


def _gradient_flow(params, X, Y, activation, max_samples):
    out, caches = network.forward(params, X, activation, "identity")
    J, delta = softmax_cross_entropy(out, Y)  # ∂J/∂z^M: the output is the identity
    M = len(caches)
    delta_norms = np.empty(M)
    dW_norms = np.empty(M)
    W_norms = np.empty(M)
    mean_f_prime = np.empty(M - 1)
    for m in range(M, 0, -1):
        c = caches[m - 1]
        delta_norms[m - 1] = np.linalg.norm(delta)
        dW_norms[m - 1] = np.linalg.norm(delta @ c["a_prev"].T)
        W_norms[m - 1] = np.linalg.norm(c["W"])
        if m > 1:
            below = caches[m - 2]
            f_prime = below["act"].f_prime_from_output(below["h"])
            mean_f_prime[m - 2] = f_prime.mean()
            delta = f_prime * (c["W"].T @ delta)  # δ^{m-1} = f'(z^{m-1}) ∘ (W^m)ᵀ δ^m
    # The first columns are a sample already: batches are drawn at random.  (Drawing
    # random entries instead costs more than the whole backward pass at depth 30.)
    z_samples = [c["z"][:, : max(1, max_samples // c["z"].shape[0])].ravel() for c in caches]
    return Flow(float(J), delta_norms, dW_norms, W_norms, z_samples, mean_f_prime)


def sgd_loss_curve(
    params, X, Y, activation="sigmoid", steps=300, lr=0.1, batch_size=32, seed=0, progress=None
):
    """Loss J after each of `steps` SGD steps on minibatches of the batch (X, Y).

    Parameters
    ----------
    params : dict
        Starting point; not modified (a copy is trained).
    X : ndarray, shape (n_0, N)
    Y : ndarray, shape (n_M, N)
    activation : str
    steps : int
    lr : float
        Learning rate α.
    batch_size : int
    seed : int
        Order of the minibatches.
    progress : callable, optional
        ``progress(step)`` after every 10th step and the last (e.g. to move a progress bar).

    Returns
    -------
    losses : ndarray, shape (steps + 1,)
        J on the whole batch before training and after every step.
    first_layer_change : float
        ‖W^1_final − W^1_start‖ / ‖W^1_start‖: how much the first layer learned.
    """
    rng = np.random.default_rng(seed)
    work = {k: v.copy() for k, v in params.items()}
    N = X.shape[1]
    losses = np.empty(steps + 1)
    losses[0] = network.loss_and_grads(work, X, Y, "softmax_ce", activation)[0]
    step = 0
    with single_threaded_blas(), np.errstate(over="ignore", invalid="ignore"):
        while step < steps:
            for idx in minibatches(N, batch_size, rng):
                batch = (X[:, idx], Y[:, idx], "softmax_ce", activation)
                _, grads, _ = network.loss_and_grads(work, *batch)
                sgd_step(work, grads, lr)
                step += 1
                losses[step] = network.loss_and_grads(work, X, Y, "softmax_ce", activation)[0]
                if progress is not None and (step % 10 == 0 or step == steps):
                    progress(step)
                if step == steps:
                    break
    W1 = params["W1"]
    change = np.linalg.norm(work["W1"] - W1) / max(np.linalg.norm(W1), 1e-300)
    return losses, float(change)


def spectral_norms(params):
    """‖W^m‖₂, the largest singular value of each W^m, shape (M,)."""
    M = network.n_layers(params)
    return np.array([np.linalg.norm(params[f"W{m}"], 2) for m in range(1, M + 1)])


def sigmoid_bound(params, top_delta_norm=1.0):
    """Upper bound on ‖δ^m‖ for a sigmoid net, from σ' ≤ 1/4 (index m − 1 holds layer m).

    ‖δ^m‖ ≤ (1/4) ‖W^{m+1}‖₂ ‖δ^{m+1}‖ for every hidden layer, so
    ‖δ^m‖ ≤ ‖δ^M‖ ∏_{k=m+1}^{M} (1/4) ‖W^k‖₂: the 0.25^{M−m} times the weight norms.

    Parameters
    ----------
    params : dict
    top_delta_norm : float
        ‖δ^M‖ at the output.

    Returns
    -------
    ndarray, shape (M,)
    """
    s = spectral_norms(params)
    M = len(s)
    bound = np.empty(M)
    bound[M - 1] = top_delta_norm
    for m in range(M - 1, 0, -1):
        bound[m - 1] = 0.25 * s[m] * bound[m]
    return bound


def sigmoid_curves(z):
    """σ(z) and σ'(z) on a grid, for the saturation widget.

    Parameters
    ----------
    z : ndarray, shape (K,)

    Returns
    -------
    sigma, sigma_prime : ndarray, shape (K,)
    """
    z = np.asarray(z, dtype=np.float64)
    return 1.0 / (1.0 + np.exp(-z)), sigmoid_prime(z)


def symmetry_trajectories(init="zeros", hidden=4, steps=400, lr=1.0, record_every=10, seed=0):
    """Hidden units' incoming weight vectors (rows of W^1) while a 2-H-2 net trains.

    With "zeros" every hidden unit computes the same function and receives the same
    gradient, so all rows of W^1 move together forever; with "random" (N(0, 1))
    they differ from the start and each learns its own feature.

    Parameters
    ----------
    init : {"zeros", "random"}
    hidden : int
        Number of hidden units H.
    steps : int
        Full-batch gradient descent steps on the moons data.
    lr : float
    record_every : int
    seed : int

    Returns
    -------
    ndarray, shape (steps // record_every + 1, hidden, 2)
        trajectory[t, j] = (W^1_{j1}, W^1_{j2}) after t · record_every steps.
    """
    X, Y = make_batch("moons", n=200, seed=seed)
    rng = np.random.default_rng(seed)
    if init == "zeros":
        params = network.init_params([2, hidden, 2], "zeros")
    elif init == "random":
        params = network.init_params([2, hidden, 2], "normal", rng, scale=1.0)
    else:
        raise ValueError(f"init must be 'zeros' or 'random', got {init!r}")
    frames = [params["W1"].copy()]
    with single_threaded_blas():
        for step in range(1, steps + 1):
            _, grads, _ = network.loss_and_grads(params, X, Y, "softmax_ce", "sigmoid")
            for k, g in grads.items():
                params[k] -= lr * g
            if step % record_every == 0:
                frames.append(params["W1"].copy())
    return np.stack(frames)
