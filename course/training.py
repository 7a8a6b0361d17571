"""Minibatch SGD with reshuffling, optional validation tracking and early stopping."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from .losses import LOSS_GRADIENTS, LOSSES, l2_penalty
from .network import (
    _as_batch,
    _forward_layers,
    _layer_activations,
    accuracy,
    backward,
    forward,
    n_layers,
)

__all__ = ["History", "best_epoch", "minibatches", "sgd_step", "train"]


@dataclass
class History:
    """Per-epoch metrics of a training run (epoch 0 = before any update)."""

    train_loss: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_acc: list = field(default_factory=list)
    best_epoch: int | None = None
    stopped_epoch: int | None = None


def minibatches(N, batch_size, rng=None, shuffle=True):
    """Index arrays of consecutive minibatches over a (re)shuffled order of 0..N−1.

    Parameters
    ----------
    N : int
    batch_size : int
    rng : numpy.random.Generator, optional
        Required when `shuffle` is true; call once per epoch for a fresh order.
    shuffle : bool

    Yields
    ------
    ndarray of int
        The last batch may be smaller.
    """
    order = _epoch_order(N, rng, shuffle)
    for start in range(0, N, batch_size):
        yield order[start : start + batch_size]


def _epoch_order(N, rng, shuffle=True):
    if not shuffle:
        return np.arange(N)
    if rng is None:
        raise ValueError("shuffling needs rng=np.random.default_rng(seed)")
    return rng.permutation(N)


def _shuffled_batches(X, Y, batch_size, rng):
    """(x, y) for each minibatch of :func:`minibatches` (the same draw from `rng`).

    One shuffled copy per epoch, then every minibatch is a view of it: a gather per
    step would cost about 3% of a training epoch on the digits.
    """
    order = _epoch_order(X.shape[1], rng)
    X, Y = X[:, order], Y[:, order]
    for start in range(0, X.shape[1], batch_size):
        stop = start + batch_size
        yield X[:, start:stop], Y[:, start:stop]


def sgd_step(params, grads, lr):
    """W^m ← W^m − α ∂J/∂W^m and b^m ← b^m − α ∂J/∂b^m, in place.

    Parameters
    ----------
    params : dict
    grads : dict
        Same keys as `params`.
    lr : float
        Learning rate α.
    """
    for k, g in grads.items():
        params[k] -= lr * g


def best_epoch(val_losses, patience=None):
    """Early stopping on a validation-loss history.

    Parameters
    ----------
    val_losses : sequence of float
        One value per epoch.
    patience : int, optional
        Stop after this many epochs without improvement (None: never stop early).

    Returns
    -------
    best : int
        Epoch with the lowest validation loss seen up to the stop (first one on ties).
    stop : int
        Epoch at which training stops (the last one if patience never runs out).
    """
    losses = list(val_losses)
    if not losses:
        raise ValueError("empty validation-loss history")
    best, best_loss = 0, losses[0]
    for epoch, value in enumerate(losses):
        if value < best_loss:
            best, best_loss = epoch, value
        elif patience is not None and epoch - best >= patience:
            return best, epoch
    return best, len(losses) - 1


def _evaluate(params, X, Y, loss, activation, output_activation):
    out, _ = forward(params, X, activation, output_activation)
    return LOSSES[loss](out, Y)[0], accuracy(out, Y)


def train(
    params,
    X,
    Y,
    *,
    epochs,
    lr,
    batch_size=32,
    rng,
    loss="softmax_ce",
    activation="sigmoid",
    output_activation="identity",
    l2=0.0,
    dropout=0.0,
    X_val=None,
    Y_val=None,
    patience=None,
    record=True,
):
    """Minibatch SGD, reshuffling every epoch; updates `params` in place.

    Parameters
    ----------
    params : dict
        Initial parameters (from :func:`course.network.init_params`).
    X : ndarray, shape (n_0, N)
    Y : ndarray, shape (n_M, N)
    epochs : int
    lr : float
        Learning rate α.
    batch_size : int
    rng : numpy.random.Generator
        Shuffles (and draws dropout masks).
    loss, activation, output_activation, l2, dropout
        As in :func:`course.network.loss_and_grads`.
    X_val, Y_val : ndarray, optional
        Validation set, evaluated after every epoch.
    patience : int, optional
        Early stopping: stop after `patience` epochs without a lower validation loss
        and restore the parameters of the best epoch (needs a validation set).
    record : bool
        Evaluate losses and accuracies every epoch (turn off for pure timing).

    Returns
    -------
    params : dict
        The trained parameters (the best epoch's with early stopping).
    history : History
    """
    if patience is not None and X_val is None:
        raise ValueError("early stopping needs a validation set (X_val, Y_val)")
    history = History()
    best_params, best_val = None, np.inf

    def log(epoch):
        nonlocal best_params, best_val
        if not record and patience is None:
            return
        tl, ta = _evaluate(params, X, Y, loss, activation, output_activation)
        history.train_loss.append(tl)
        history.train_acc.append(ta)
        if X_val is not None:
            vl, va = _evaluate(params, X_val, Y_val, loss, activation, output_activation)
            history.val_loss.append(vl)
            history.val_acc.append(va)
            if vl < best_val:
                best_val, best_params, history.best_epoch = vl, copy.deepcopy(params), epoch

    # What network.loss_and_grads would look up and check on every minibatch is settled
    # once here; each step then computes exactly what it computes (J itself is not
    # needed for the update).
    try:
        loss_gradient = LOSS_GRADIENTS[loss]
    except KeyError:
        raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}") from None
    acts = _layer_activations(activation, output_activation, n_layers(params))
    X = _as_batch(params, X)
    if l2:
        l2_penalty(params, l2)  # rejects λ < 0 with loss_and_grads's message
    weights = [k for k in params if k.startswith("W")] if l2 else []

    log(0)
    for epoch in range(1, epochs + 1):
        for x, y in _shuffled_batches(X, Y, batch_size, rng):
            out, caches = _forward_layers(params, x, acts, dropout, rng)
            grads = backward(caches, loss_gradient(out, y))
            for k in weights:  # the L2 penalty's gradient λ W^m, weights only
                grads[k] = grads[k] + l2 * params[k]
            sgd_step(params, grads, lr)
        log(epoch)
        history.stopped_epoch = epoch
        if patience is not None and history.best_epoch is not None:
            if epoch - history.best_epoch >= patience:
                break
    if patience is not None and best_params is not None:
        params.clear()
        params.update(best_params)
    return params, history
