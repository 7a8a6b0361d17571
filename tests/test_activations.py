"""course.activations: derivatives against finite differences, stability, the registry."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from course import activations
from course.activations import ACTIVATIONS, Activation, get_activation
from course.gradcheck import numerical_gradient, relative_error

NAMES = ["sigmoid", "tanh", "relu", "identity"]


def _points(rng):
    # Away from relu's kink at 0, where the derivative is not defined.
    z = rng.normal(0.0, 2.0, size=(5, 7))
    return np.where(np.abs(z) < 1e-3, 0.5, z)


@pytest.mark.parametrize("name", NAMES)
def test_derivative_matches_finite_differences(name):
    act = ACTIVATIONS[name]
    z = _points(np.random.default_rng(0))
    # f is elementwise, so Σ f(z) has gradient f'(z) entry by entry.
    numeric = numerical_gradient(lambda x: act.f(x).sum(), z)
    assert relative_error(act.f_prime(z), numeric) < 1e-7


@pytest.mark.parametrize("name", NAMES)
def test_derivative_from_output_equals_derivative(name):
    act = ACTIVATIONS[name]
    z = _points(np.random.default_rng(1))
    np.testing.assert_allclose(act.f_prime_from_output(act.f(z)), act.f_prime(z), rtol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_float64_same_shape_and_no_aliasing(name):
    act = ACTIVATIONS[name]
    z = np.arange(6, dtype=np.int64).reshape(2, 3) - 3
    for out in (act.f(z), act.f_prime(z)):
        assert out.dtype == np.float64
        assert out.shape == z.shape
    zf = z.astype(np.float64)
    before = zf.copy()
    act.f(zf)
    act.f_prime(zf)
    np.testing.assert_array_equal(zf, before)


def test_known_values():
    z = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_allclose(activations.sigmoid(z), 1 / (1 + np.exp(-z)), rtol=1e-15)
    assert activations.sigmoid_prime(np.array([0.0]))[0] == 0.25
    assert activations.tanh_prime(np.array([0.0]))[0] == 1.0
    np.testing.assert_array_equal(activations.relu(z), [0.0, 0.0, 2.0])
    np.testing.assert_array_equal(activations.identity(z), z)
    np.testing.assert_array_equal(activations.identity_prime(z), [1.0, 1.0, 1.0])


def test_sigmoid_no_overflow_warning_and_limits():
    z = np.array([-1000.0, -745.0, -40.0, 0.0, 40.0, 745.0, 1000.0])
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        s = activations.sigmoid(z)
        ds = activations.sigmoid_prime(z)
        scalar = activations.sigmoid(-1000.0)
    assert np.all(np.isfinite(s)) and np.all(np.isfinite(ds))
    assert s[0] == 0.0 and s[-1] == 1.0 and s[3] == 0.5
    assert ds[0] == 0.0 and ds[-1] == 0.0
    assert float(scalar) == 0.0
    assert np.all(np.diff(s) >= 0)


def test_sigmoid_error_state_is_left_as_found():
    # The overflow is silenced inside sigmoid only, not for the caller.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        activations.sigmoid(np.array([-1000.0]))
        with pytest.raises(RuntimeWarning):
            np.exp(np.array([1000.0]))


def test_tanh_limits():
    z = np.array([-1000.0, 1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(activations.tanh(z), [-1.0, 1.0])
        np.testing.assert_array_equal(activations.tanh_prime(z), [0.0, 0.0])


def test_relu_prime_convention_at_zero():
    z = np.array([-1e-300, 0.0, -0.0, 1e-300])
    np.testing.assert_array_equal(activations.relu_prime(z), [0.0, 0.0, 0.0, 1.0])
    np.testing.assert_array_equal(ACTIVATIONS["relu"].f_prime_from_output(np.zeros(2)), [0, 0])


@pytest.mark.parametrize("name", NAMES)
def test_registry_lookup(name):
    act = get_activation(name)
    assert isinstance(act, Activation) and act.name == name
    assert get_activation(act) is act
    z = np.linspace(-2, 2, 5)
    np.testing.assert_array_equal(act(z), act.f(z))


@pytest.mark.parametrize("bad", ["softplus", "Sigmoid", "", None, ["relu"]])
def test_unknown_activation_names_the_known_ones(bad):
    with pytest.raises(ValueError) as info:
        get_activation(bad)
    text = str(info.value)
    assert repr(bad) in text
    for name in NAMES:
        assert name in text


@settings(max_examples=40, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 4), st.integers(1, 4)),
        elements=st.floats(-1e6, 1e6, allow_nan=False),
    )
)
def test_sigmoid_range_and_symmetry(z):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = activations.sigmoid(z)
        s_neg = activations.sigmoid(-z)
    assert np.all((s >= 0) & (s <= 1))
    # σ(−z) = 1 − σ(z) up to round-off.
    np.testing.assert_allclose(s + s_neg, 1.0, atol=1e-15)
    assert np.all(activations.sigmoid_prime(z) <= 0.25)
