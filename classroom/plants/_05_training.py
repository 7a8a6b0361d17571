"""Planted bugs and correct alternatives for 05-training (notebook training.ipynb)."""

from classroom.plants import Plant

NB = "training"

_SGD_HEAD = """def train_sgd(params, X, Y, *, epochs, lr, batch_size, rng, activation="sigmoid"):
    N = X.shape[1]
"""


def _sgd(body):
    return _SGD_HEAD + body


_CORRECT_LOOP = """    for _ in range(epochs):
        order = rng.permutation(N)
        for start in range(0, N, batch_size):
            idx = order[start : start + batch_size]
            _, grads, _ = network.loss_and_grads(params, X[:, idx], Y[:, idx], activation=activation)
            for k in params:
                params[k] = params[k] - lr * grads[k]
    return params
"""

PLANTS = [
    Plant(
        "the library's answer: training.train for the loop",
        NB,
        {
            "train_sgd": _sgd(
                """    params, _ = training.train(
        params, X, Y, epochs=epochs, lr=lr, batch_size=batch_size, rng=rng,
        activation=activation, record=False,
    )
    return params
"""
            )
        },
        failing=("test_sgd_batches", "test_sgd_reshuffle", "test_sgd_step"),
        says="training.train",
    ),
    Plant(
        "no reshuffle: one permutation for all epochs",
        NB,
        {
            "train_sgd": _sgd(
                """    order = rng.permutation(N)
    for _ in range(epochs):
        for start in range(0, N, batch_size):
            idx = order[start : start + batch_size]
            _, grads, _ = network.loss_and_grads(params, X[:, idx], Y[:, idx], activation=activation)
            for k in params:
                params[k] = params[k] - lr * grads[k]
    return params
"""
            )
        },
        failing=("test_sgd_reshuffle",),
        bug="05.sgd.no-reshuffle",
    ),
    Plant(
        "no shuffle at all",
        NB,
        {"train_sgd": _sgd(_CORRECT_LOOP.replace("rng.permutation(N)", "np.arange(N)"))},
        failing=("test_sgd_batches", "test_sgd_reshuffle"),
        bug="05.sgd.no-shuffle",
    ),
    Plant(
        "shuffle from numpy's global generator",
        NB,
        {
            "train_sgd": _sgd(
                _CORRECT_LOOP.replace("rng.permutation(N)", "np.random.permutation(N)")
            )
        },
        failing=("test_sgd_reshuffle",),
        bug="05.sgd.global-rng",
    ),
    Plant(
        "last partial minibatch dropped",
        NB,
        {
            "train_sgd": _sgd(
                _CORRECT_LOOP.replace(
                    "range(0, N, batch_size)", "range(0, N - batch_size + 1, batch_size)"
                )
            )
        },
        failing=("test_sgd_batches", "test_sgd_reshuffle", "test_sgd_step"),
        bug="05.sgd.batches",
    ),
    Plant(
        "update sign flipped",
        NB,
        {
            "train_sgd": _sgd(
                _CORRECT_LOOP.replace("params[k] - lr * grads[k]", "params[k] + lr * grads[k]")
            )
        },
        failing=("test_sgd_step",),
        bug="05.sgd.sign",
    ),
    Plant(
        "learning rate missing",
        NB,
        {
            "train_sgd": _sgd(
                _CORRECT_LOOP.replace("params[k] - lr * grads[k]", "params[k] - grads[k]")
            )
        },
        failing=("test_sgd_step",),
        bug="05.sgd.no-lr",
    ),
    Plant(
        "correct: in-place shuffle and in-place update",
        NB,
        {
            "train_sgd": _sgd(
                """    idx_all = np.arange(N)
    for epoch in range(epochs):
        rng.shuffle(idx_all)
        batches = [idx_all[s : s + batch_size] for s in range(0, N, batch_size)]
        for idx in batches:
            J, g, _ = network.loss_and_grads(params, X[:, idx], Y[:, idx], activation=activation)
            for name, grad in g.items():
                params[name] -= lr * grad
    return params
"""
            )
        },
    ),
    Plant(
        "chosen learning rate too large",
        NB,
        {"chosen-lr": "chosen_lr = 100.0\n"},
        failing=("test_chosen_lr",),
        bug="05.lr.too-large",
    ),
    Plant(
        "chosen learning rate too small",
        NB,
        {"chosen-lr": "chosen_lr = 0.01\n"},
        failing=("test_chosen_lr",),
        bug="05.lr.too-small",
    ),
    Plant(
        "unit spread within each row instead of across units",
        NB,
        {
            "unit-spread": "def unit_spread(W):\n"
            "    return float(np.max(W.max(axis=1) - W.min(axis=1)))\n"
        },
        failing=("test_unit_spread",),
        bug="05.spread.rows",
    ),
    Plant(
        "random initialisation in the symmetric run",
        NB,
        {
            "train-constant": """def train_constant_init(X, Y, n_hidden, value, steps, lr):
    rng = np.random.default_rng(0)
    params = network.init_params([X.shape[0], n_hidden, Y.shape[0]], "xavier", rng)
    for _ in range(steps):
        _, grads, _ = network.loss_and_grads(params, X, Y)
        for k in params:
            params[k] = params[k] - lr * grads[k]
    return params
"""
        },
        failing=("test_symmetry",),
        bug="05.symmetry.random",
    ),
    Plant(
        "symmetric run one step short",
        NB,
        {
            "train-constant": """def train_constant_init(X, Y, n_hidden, value, steps, lr):
    params = network.init_params([X.shape[0], n_hidden, Y.shape[0]], "constant", scale=value)
    for _ in range(steps - 1):
        _, grads, _ = network.loss_and_grads(params, X, Y)
        for k in params:
            params[k] = params[k] - lr * grads[k]
    return params
"""
        },
        failing=("test_symmetry",),
        bug="05.symmetry.steps",
    ),
    Plant(
        "correct: ptp spread, symmetric run through train_sgd with one full batch",
        NB,
        {
            "unit-spread": "def unit_spread(W):\n    return np.ptp(W, axis=0).max()\n",
            "train-constant": """def train_constant_init(X, Y, n_hidden, value, steps, lr):
    params = network.init_params([X.shape[0], n_hidden, Y.shape[0]], "constant", scale=value)
    N = X.shape[1]
    return train_sgd(params, X, Y, epochs=steps, lr=lr, batch_size=N,
                     rng=np.random.default_rng(0))
""",
        },
    ),
    Plant(
        "digits undertrained",
        NB,
        {
            "train-digits": """def train_digits(split, rng):
    params = network.init_params([64, 100, 10], "xavier", rng)
    params = train_sgd(params, split.X_train, split.Y_train, epochs=1, lr=0.01,
                       batch_size=32, rng=rng)
    return params, "sigmoid"
"""
        },
        failing=("test_digits",),
        bug="05.digits.undertrained",
    ),
    Plant(
        "confusion matrix transposed",
        NB,
        {
            "confusion": """def confusion_matrix(y_true, y_pred, K):
    C = np.zeros((K, K))
    for t, p in zip(y_true, y_pred):
        C[p, t] += 1
    return C
"""
        },
        failing=("test_confusion",),
        bug="05.confusion.transposed",
    ),
    Plant(
        "correct: digits with tanh and the student's SGD, confusion by loops",
        NB,
        {
            "train-digits": """def train_digits(split, rng):
    params = network.init_params([64, 64, 10], "lecun", rng)
    for epoch in range(25):
        params = train_sgd(params, split.X_train, split.Y_train, epochs=1, lr=0.1,
                           batch_size=16, rng=rng, activation="tanh")
    return params, "tanh"
""",
            "confusion": """def confusion_matrix(y_true, y_pred, K):
    C = np.zeros((K, K), dtype=int)
    for t, p in zip(y_true, y_pred):
        C[t][p] = C[t][p] + 1
    return C
""",
        },
    ),
    # issue 12: the activation passed on
    Plant(
        "activation not passed on to loss_and_grads",
        NB,
        {"train_sgd": _sgd(_CORRECT_LOOP.replace(", activation=activation)", ")"))},
        failing=("test_sgd_step",),
        bug="05.sgd.activation",
    ),
    Plant(
        "SGD step of lr / batch size",
        NB,
        {
            "train_sgd": _sgd(
                _CORRECT_LOOP.replace(
                    "params[k] - lr * grads[k]", "params[k] - lr / len(idx) * grads[k]"
                )
            )
        },
        failing=("test_sgd_step",),
        bug="05.sgd.scaled",
    ),
    Plant(
        "SGD updates only the weights",
        NB,
        {
            "train_sgd": _sgd(
                _CORRECT_LOOP.replace(
                    "for k in params:", "for k in [k for k in params if k[0] == 'W']:"
                )
            )
        },
        failing=("test_sgd_step",),
        bug="05.sgd.not-updated",
    ),
    Plant(
        "confusion matrix counting each example twice",
        NB,
        {
            "confusion": """def confusion_matrix(y_true, y_pred, K):
    C = np.zeros((K, K))
    np.add.at(C, (y_true, y_pred), 2)
    return C
"""
        },
        failing=("test_confusion",),
        bug="05.confusion.count",
    ),
]

# issue 21: a wrong train_sgd under a good digits recipe sends the student to train_sgd
PLANTS += [
    Plant(
        "update sign flipped, digits trained with it",
        NB,
        {
            "train_sgd": _sgd(
                _CORRECT_LOOP.replace("params[k] - lr * grads[k]", "params[k] + lr * grads[k]")
            ),
            "train-digits": """def train_digits(split, rng):
    params = network.init_params([64, 100, 10], "xavier", rng)
    params = train_sgd(params, split.X_train, split.Y_train, epochs=20, lr=0.5,
                       batch_size=32, rng=rng)
    return params, "sigmoid"
""",
        },
        failing=("test_sgd_step", "test_digits"),
        # test_digits names the downstream diagnosis and quotes test_sgd_step's: both
        # cells say the sign is flipped
        bug="05.digits.train-sgd",
        says="the sign is flipped",
    ),
]
