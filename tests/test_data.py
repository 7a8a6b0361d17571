"""course.data: the digits, the seeded split, standardisation, toy sets, augmentation."""

from collections import Counter

import numpy as np
import pytest

from course.data import (
    augment_with_shifts,
    digits_split,
    load_digits,
    make_circles,
    make_moons,
    make_xor,
    one_hot,
    shift_images,
    standardize,
)


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def _columns(X):
    return Counter(map(bytes, np.ascontiguousarray(X.T)))


def test_load_digits_shapes_and_values(digits):
    X, labels = digits
    assert X.shape == (64, 1797) and X.dtype == np.float64
    assert labels.shape == (1797,) and labels.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    assert set(labels.tolist()) == set(range(10))
    # About 180 of each digit.
    assert np.bincount(labels).min() >= 170
    # One image per column, row-major 8×8: a "1" is lit mostly in the middle columns.
    ones = X[:, labels == 1].mean(axis=1).reshape(8, 8)
    assert ones[:, 3:5].mean() > ones[:, [0, 7]].mean()


def test_split_sizes_partition_and_labels(digits):
    X, labels = digits
    s = digits_split(seed=0, standardized=False)
    assert s.X_train.shape == (64, 1078) and s.X_val.shape == (64, 359)
    assert s.X_test.shape == (64, 360)
    assert s.y_train.shape == (1078,) and s.y_val.shape == (359,) and s.y_test.shape == (360,)
    # Train, validation and test together are exactly the 1797 images, each once.
    parts = np.hstack([s.X_train, s.X_val, s.X_test])
    assert _columns(parts) == _columns(X)
    # ... and every image keeps its own label.
    pairs = Counter(
        zip(
            map(bytes, np.ascontiguousarray(parts.T)),
            np.hstack([s.y_train, s.y_val, s.y_test]).tolist(),
            strict=True,
        )
    )
    assert pairs == Counter(
        zip(map(bytes, np.ascontiguousarray(X.T)), labels.tolist(), strict=True)
    )
    # Shuffled: every class shows up in every part.
    for y in (s.y_train, s.y_val, s.y_test):
        assert set(y.tolist()) == set(range(10))


def test_split_is_disjoint():
    s = digits_split(seed=3, standardized=False)
    train, val, test = _columns(s.X_train), _columns(s.X_val), _columns(s.X_test)
    everything = train + val + test
    # An image that occurs once in the data set occurs in one part only.
    for image, count in everything.items():
        assert (train[image] > 0) + (val[image] > 0) + (test[image] > 0) <= count


def test_same_seed_same_split_other_seed_other_split():
    a, b, c = digits_split(seed=7), digits_split(seed=7), digits_split(seed=8)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.y_train, c.y_train)


def test_one_hot_properties_of_the_split():
    s = digits_split(seed=0)
    for Y, y in ((s.Y_train, s.y_train), (s.Y_val, s.y_val), (s.Y_test, s.y_test)):
        assert Y.shape == (10, y.size)
        np.testing.assert_array_equal(Y.argmax(axis=0), y)
        np.testing.assert_array_equal(Y.sum(axis=0), 1.0)


def test_standardisation_uses_training_statistics_only():
    raw = digits_split(seed=1, standardized=False)
    std = digits_split(seed=1, standardized=True)
    mean = raw.X_train.mean(axis=1, keepdims=True)
    sd = raw.X_train.std(axis=1, keepdims=True)
    constant = sd[:, 0] < 1e-8  # the always-blank border pixels
    assert constant.any()
    sd[constant] = 1.0
    for r, s in ((raw.X_train, std.X_train), (raw.X_val, std.X_val), (raw.X_test, std.X_test)):
        np.testing.assert_allclose(s, (r - mean) / sd, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(std.X_train.mean(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(std.X_train.std(axis=1)[~constant], 1.0, rtol=1e-12)
    # The validation set was not used: its own mean is not exactly zero.
    assert np.abs(std.X_val.mean(axis=1)).max() > 1e-3
    assert np.all(np.isfinite(std.X_test))


def test_standardize_function():
    X_train = np.array([[1.0, 3.0], [5.0, 5.0]])
    X_other = np.array([[2.0], [6.0]])
    a, b = standardize(X_train, X_other)
    np.testing.assert_allclose(a, [[-1.0, 1.0], [0.0, 0.0]])
    np.testing.assert_allclose(b, [[0.0], [1.0]])  # constant row: divided by 1


def test_n_train_keeps_a_prefix_and_the_other_sets():
    full = digits_split(seed=2, standardized=False)
    small = digits_split(seed=2, standardized=False, n_train=100)
    assert small.X_train.shape == (64, 100)
    np.testing.assert_array_equal(small.X_train, full.X_train[:, :100])
    np.testing.assert_array_equal(small.y_val, full.y_val)
    np.testing.assert_array_equal(small.X_test, full.X_test)


@pytest.mark.parametrize("fractions", [(0.5, 0.5), (0.6, 0.3, 0.3), (0.8, 0.2, 0.0)])
def test_bad_fractions(fractions):
    with pytest.raises(ValueError, match="fractions"):
        digits_split(fractions=fractions)


def test_one_hot():
    Y = one_hot([2, 0, 1, 2])
    np.testing.assert_array_equal(Y, [[0, 1, 0, 0], [0, 0, 1, 0], [1, 0, 0, 1]])
    assert one_hot([1], K=4).shape == (4, 1)
    with pytest.raises(ValueError, match="0..2"):
        one_hot([3], K=3)
    with pytest.raises(ValueError):
        one_hot([-1, 0], K=2)


@pytest.mark.parametrize("make", [make_xor, make_moons, make_circles])
def test_toy_sets_shapes_balance_and_seeds(make):
    X, labels = make(n=1000, rng=np.random.default_rng(0))
    assert X.shape == (2, 1000) and X.dtype == np.float64
    assert labels.shape == (1000,) and set(labels.tolist()) == {0, 1}
    assert 0.45 <= labels.mean() <= 0.55
    X2, labels2 = make(n=1000, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(labels, labels2)
    X3, _ = make(n=1000, rng=np.random.default_rng(1))
    assert not np.array_equal(X, X3)
    # Without an rng the sets are still reproducible.
    np.testing.assert_array_equal(make(n=50)[0], make(n=50)[0])


def test_toy_sets_geometry():
    X, labels = make_xor(n=400, noise=0.1, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(labels, (np.sign(X[0]) != np.sign(X[1])).astype(int))
    X, labels = make_circles(n=400, noise=0.0, factor=0.3, rng=np.random.default_rng(2))
    radius = np.hypot(X[0], X[1])
    np.testing.assert_allclose(radius[labels == 1], 0.3)
    np.testing.assert_allclose(radius[labels == 0], 1.0)
    X, labels = make_moons(n=400, noise=0.0, rng=np.random.default_rng(3))
    np.testing.assert_allclose(np.hypot(X[0, labels == 0], X[1, labels == 0]), 1.0)
    np.testing.assert_allclose(np.hypot(X[0, labels == 1] - 1, X[1, labels == 1] - 0.5), 1.0)


@pytest.mark.parametrize("dx,dy", [(1, 0), (-1, 0), (0, 1), (0, -1), (2, -1)])
def test_shift_moves_a_single_lit_pixel(dx, dy):
    img = np.zeros((8, 8))
    img[3, 4] = 1.0  # row 3, column 4
    X = np.column_stack([img.reshape(64), 0.5 * img.reshape(64)])
    shifted = shift_images(X, dx, dy)
    assert shifted.shape == (64, 2)
    expected = np.zeros((8, 8))
    expected[3 + dy, 4 + dx] = 1.0  # dx moves right, dy moves down
    np.testing.assert_array_equal(shifted[:, 0].reshape(8, 8), expected)
    np.testing.assert_array_equal(shifted[:, 1], 0.5 * expected.reshape(64))


def test_shift_fills_with_the_background_and_drops_the_edge():
    img = np.full((8, 8), -1.0)  # e.g. a standardised background
    img[:, 7] = 2.0  # the right-most column lit
    shifted = shift_images(img.reshape(64, 1), 1, 0)
    out = shifted[:, 0].reshape(8, 8)
    np.testing.assert_array_equal(out, np.full((8, 8), -1.0))
    back = shift_images(img.reshape(64, 1), -1, 0)[:, 0].reshape(8, 8)
    np.testing.assert_array_equal(back[:, 6], 2.0)
    np.testing.assert_array_equal(back[:, 7], -1.0)
    np.testing.assert_array_equal(shift_images(img.reshape(64, 1), 0, 1, fill=9.0)[:8, 0], 9.0)


def test_augment_with_shifts_gives_five_times_the_data(digits):
    X, labels = digits
    X, labels = X[:, :20], labels[:20]
    X_aug, labels_aug = augment_with_shifts(X, labels)
    assert X_aug.shape == (64, 100) and labels_aug.shape == (100,)
    np.testing.assert_array_equal(X_aug[:, :20], X)
    np.testing.assert_array_equal(labels_aug, np.tile(labels, 5))
    for k, (dx, dy) in enumerate([(1, 0), (-1, 0), (0, 1), (0, -1)], start=1):
        np.testing.assert_array_equal(X_aug[:, 20 * k : 20 * (k + 1)], shift_images(X, dx, dy))


def test_digits_read_directly_equal_sklearn_loader(digits, monkeypatch):
    """The fast path (reading scikit-learn's data file) and sklearn's own loader agree."""
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    X, labels = load_digits()  # now through sklearn.datasets.load_digits
    np.testing.assert_array_equal(X, digits[0])
    np.testing.assert_array_equal(labels, digits[1])
    assert X.flags.c_contiguous
