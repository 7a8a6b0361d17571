"""course.training: SGD on the digits, reshuffling, early stopping, the update rule."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from course.data import digits_split
from course.network import accuracy, init_params, loss_and_grads, predict
from course.training import History, best_epoch, minibatches, sgd_step, train


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    # The suite runs in parallel workers on few cores: a multi-threaded BLAS on top of
    # them only spins (10x slower matrix products here), and the results do not change.
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="module")
def split():
    return digits_split(seed=0)


def test_digits_one_hidden_sigmoid_layer_reaches_95_percent(split):
    # 64-100-10, sigmoid hidden layer, softmax cross-entropy, plain minibatch SGD.
    params = init_params([64, 100, 10], "xavier", np.random.default_rng(0))
    params, history = train(
        params,
        split.X_train,
        split.Y_train,
        epochs=20,
        lr=0.5,
        batch_size=32,
        rng=np.random.default_rng(1),
        X_val=split.X_val,
        Y_val=split.Y_val,
    )
    test_acc = accuracy(predict(params, split.X_test), split.y_test)
    assert test_acc >= 0.95, f"test accuracy {test_acc:.3f}"
    assert history.train_loss[-1] < 0.2 * history.train_loss[0]
    assert history.val_acc[-1] >= 0.95
    # epoch 0 (before any update) plus one entry per epoch
    assert len(history.train_loss) == len(history.val_acc) == 21
    assert history.stopped_epoch == 20


def test_same_seed_same_training(split):
    def run(seed):
        params = init_params([64, 10, 10], "xavier", np.random.default_rng(0))
        X, Y = split.X_train[:, :200], split.Y_train[:, :200]
        return train(params, X, Y, epochs=2, lr=0.3, rng=np.random.default_rng(seed))[0]

    a, b, c = run(5), run(5), run(6)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["W1"], c["W1"])


def test_train_updates_in_place_and_record_false(split):
    params = init_params([64, 8, 10], "xavier", np.random.default_rng(0))
    W1 = params["W1"]
    before = W1.copy()
    out, history = train(
        params,
        split.X_train[:, :100],
        split.Y_train[:, :100],
        epochs=1,
        lr=0.1,
        rng=np.random.default_rng(0),
        record=False,
    )
    assert out is params and params["W1"] is W1
    assert not np.array_equal(W1, before)
    assert isinstance(history, History) and history.train_loss == [] and history.val_loss == []


def test_epochs_split_into_calls_equal_one_call(split):
    """Resuming with the same rng continues the same sequence of shuffles."""
    X, Y = split.X_train[:, :150], split.Y_train[:, :150]
    p1 = init_params([64, 6, 10], "xavier", np.random.default_rng(0))
    p2 = {k: v.copy() for k, v in p1.items()}
    train(p1, X, Y, epochs=3, lr=0.2, rng=np.random.default_rng(1), record=False)
    rng = np.random.default_rng(1)
    for _ in range(3):
        train(p2, X, Y, epochs=1, lr=0.2, rng=rng, record=False)
    for k in p1:
        np.testing.assert_array_equal(p1[k], p2[k])


def test_training_with_l2_and_dropout_lowers_the_loss(split):
    X, Y = split.X_train[:, :300], split.Y_train[:, :300]
    params = init_params([64, 30, 10], "he", np.random.default_rng(0))
    _, history = train(
        params,
        X,
        Y,
        epochs=5,
        lr=0.1,
        rng=np.random.default_rng(0),
        activation="relu",
        l2=1e-3,
        dropout=0.2,
    )
    assert history.train_loss[-1] < history.train_loss[0]


def test_square_loss_training(split):
    X, Y = split.X_train[:, :300], split.Y_train[:, :300]
    params = init_params([64, 20, 10], "xavier", np.random.default_rng(0))
    _, history = train(
        params,
        X,
        Y,
        epochs=5,
        lr=1.0,
        rng=np.random.default_rng(0),
        loss="square",
        output_activation="sigmoid",
    )
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]


# --------------------------------------------------------------------- early stopping


def test_early_stopping_restores_the_best_epoch(split):
    # 40 training examples and a big step: the validation loss soon turns up.
    X, Y = split.X_train[:, :40], split.Y_train[:, :40]
    params = init_params([64, 50, 10], "xavier", np.random.default_rng(0))
    patience = 3
    params, history = train(
        params,
        X,
        Y,
        epochs=200,
        lr=1.0,
        batch_size=8,
        rng=np.random.default_rng(0),
        X_val=split.X_val,
        Y_val=split.Y_val,
        patience=patience,
    )
    val = history.val_loss
    assert history.stopped_epoch < 200, "validation loss never rose: no early stop to test"
    assert history.best_epoch == int(np.argmin(val))
    assert history.stopped_epoch - history.best_epoch == patience
    assert len(val) == history.stopped_epoch + 1
    # The returned parameters are the best epoch's, not the last epoch's.
    J_best = loss_and_grads(params, split.X_val, split.Y_val)[0]
    assert J_best == pytest.approx(val[history.best_epoch], rel=1e-12)
    assert J_best < val[-1]
    assert best_epoch(val, patience) == (history.best_epoch, history.stopped_epoch)


def test_early_stopping_needs_validation_data(split):
    params = init_params([64, 5, 10], "xavier", np.random.default_rng(0))
    with pytest.raises(ValueError, match="validation set"):
        train(params, split.X_train, split.Y_train, epochs=1, lr=0.1, rng=None, patience=2)


@pytest.mark.parametrize(
    "losses,patience,expected",
    [
        ([5.0, 4.0, 3.0, 3.5, 3.2, 3.1], 2, (2, 4)),
        ([5.0, 4.0, 3.0, 3.5, 3.2, 3.1], 3, (2, 5)),
        ([5.0, 4.0, 3.0, 3.5, 3.2, 3.1], None, (2, 5)),
        ([5.0, 4.0, 3.0, 3.5, 2.9, 3.1, 3.3], 2, (4, 6)),
        ([1.0, 1.0, 1.0, 1.0], 2, (0, 2)),  # ties do not count as improvement
        ([3.0, 2.0, 1.0], 1, (2, 2)),
        ([2.0], 1, (0, 0)),
        ([1.0, 2.0, 3.0], 1, (0, 1)),
    ],
)
def test_best_epoch_on_hand_made_histories(losses, patience, expected):
    assert best_epoch(losses, patience) == expected


def test_best_epoch_empty_history():
    with pytest.raises(ValueError, match="empty"):
        best_epoch([])


# ------------------------------------------------------------------ minibatches, sgd


def test_minibatches_cover_every_example_once_and_reshuffle():
    rng = np.random.default_rng(0)
    epochs = [list(minibatches(10, 4, rng)) for _ in range(3)]
    for batches in epochs:
        assert [len(b) for b in batches] == [4, 4, 2]
        assert sorted(np.concatenate(batches).tolist()) == list(range(10))
    orders = [np.concatenate(batches).tolist() for batches in epochs]
    # One rng, called once per epoch: a fresh order every epoch.
    assert orders[0] != orders[1] and orders[1] != orders[2]
    assert orders[0] != list(range(10))


def test_minibatches_without_shuffle_and_errors():
    batches = list(minibatches(5, 2, shuffle=False))
    assert [b.tolist() for b in batches] == [[0, 1], [2, 3], [4]]
    with pytest.raises(ValueError, match="rng"):
        list(minibatches(5, 2))


def test_sgd_step_in_place():
    params = {"W1": np.array([[1.0, 2.0]]), "b1": np.array([[0.5]])}
    arrays = dict(params)
    grads = {"W1": np.array([[0.5, -1.0]]), "b1": np.array([[1.0]])}
    assert sgd_step(params, grads, lr=0.1) is None
    assert all(params[k] is arrays[k] for k in params)
    np.testing.assert_allclose(params["W1"], [[0.95, 2.1]])
    np.testing.assert_allclose(params["b1"], [[0.4]])


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"loss": "square", "output_activation": "sigmoid", "activation": "tanh"},
        {"l2": 0.01, "activation": ["relu", "sigmoid"]},
        {"dropout": 0.3},
    ],
)
def test_train_is_exactly_the_textbook_loop(split, options):
    """train = for each epoch, for each reshuffled minibatch: loss_and_grads, then sgd_step."""
    X, Y = split.X_train[:, :100], split.Y_train[:, :100]
    sizes = [64, 7, 5, 10] if isinstance(options.get("activation"), list) else [64, 7, 10]
    p1 = init_params(sizes, "xavier", np.random.default_rng(0))
    p2 = {k: v.copy() for k, v in p1.items()}
    train(p1, X, Y, epochs=2, lr=0.3, batch_size=16, rng=np.random.default_rng(4), **options)
    rng = np.random.default_rng(4)
    for _ in range(2):
        for idx in minibatches(X.shape[1], 16, rng):
            _, grads, _ = loss_and_grads(p2, X[:, idx], Y[:, idx], rng=rng, **options)
            sgd_step(p2, grads, 0.3)
    for k in p1:
        np.testing.assert_array_equal(p1[k], p2[k])


def test_train_argument_errors(split):
    params = init_params([64, 5, 10], "xavier", np.random.default_rng(0))
    X, Y = split.X_train[:, :10], split.Y_train[:, :10]
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        train(params, X, Y, epochs=1, lr=0.1, rng=rng, loss="hinge")
    with pytest.raises(ValueError, match="≥ 0"):
        train(params, X, Y, epochs=1, lr=0.1, rng=rng, l2=-0.1)
    with pytest.raises(ValueError, match=r"X must have shape \(n_0, N\) = \(64, N\)"):
        train(params, X.T, Y, epochs=1, lr=0.1, rng=rng)
    with pytest.raises(ValueError, match="unknown activation"):
        train(params, X, Y, epochs=1, lr=0.1, rng=rng, activation="softsign")
