"""Minibatch SGD with reshuffling, optional validation tracking and early stopping."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from .losses import LOSSES, l2_penalty
from .network import (
    _as_batch,
    _layer_activations,
    accuracy,
    forward,
    loss_and_grads,
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


@dataclass
class _Tracker:
    """Fills a History after each epoch and keeps the parameters of the best one."""

    history: History
    evaluate: object  # (params, X, Y) -> (loss, accuracy)
    train_set: tuple
    val_set: tuple | None
    best_params: dict | None = None
    best_val: float = np.inf

    def log(self, params, epoch):
        tl, ta = self.evaluate(params, *self.train_set)
        self.history.train_loss.append(tl)
        self.history.train_acc.append(ta)
        if self.val_set is not None:
            vl, va = self.evaluate(params, *self.val_set)
            self.history.val_loss.append(vl)
            self.history.val_acc.append(va)
            if vl < self.best_val:
                self.best_val, self.best_params = vl, copy.deepcopy(params)
                self.history.best_epoch = epoch


def _check_arguments(params, X, loss, activation, output_activation, l2):
    """X as a float64 (n_0, N) array, after the checks loss_and_grads makes, done
    once before the first epoch (so a bad argument fails before any evaluation)."""
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
    _layer_activations(activation, output_activation, n_layers(params))
    if l2:
        l2_penalty(params, l2)  # rejects λ < 0 with loss_and_grads's message
    return _as_batch(params, X)


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
    X = _check_arguments(params, X, loss, activation, output_activation, l2)
    history = History()
    tracker = _Tracker(
        history,
        lambda p, x, y: _evaluate(p, x, y, loss, activation, output_activation),
        (X, Y),
        None if X_val is None else (X_val, Y_val),
    )
    tracking = record or patience is not None
    model = (loss, activation, output_activation, l2, dropout)

    if tracking:
        tracker.log(params, 0)
    for epoch in range(1, epochs + 1):
        _sgd_epoch(params, X, Y, lr, batch_size, rng, model)
        if tracking:
            tracker.log(params, epoch)
        history.stopped_epoch = epoch
        if _out_of_patience(history, epoch, patience):
            break
    if patience is not None and tracker.best_params is not None:
        params.clear()
        params.update(tracker.best_params)
    return params, history


def _sgd_epoch(params, X, Y, lr, batch_size, rng, model):
    """One epoch of minibatch SGD on (X, Y) in a fresh order drawn from `rng`; `model`:
    the (loss, activation, output_activation, l2, dropout) of :func:`loss_and_grads`."""
    for x, y in _shuffled_batches(X, Y, batch_size, rng):
        _, grads, _ = loss_and_grads(params, x, y, *model, rng)
        sgd_step(params, grads, lr)


def _out_of_patience(history, epoch, patience):
    """True when early stopping stops after `epoch`: `patience` epochs since the best."""
    if patience is None or history.best_epoch is None:
        return False
    return epoch - history.best_epoch >= patience
