"""The channel between the grader and the student's kernel: plain data only, checked.

The agent (the kernel's end) runs here in a thread with a dict as the student's
namespace, which is all it needs; the sandboxed kernel around it is tested in
tests/test_hostile.py.
"""

import io
import socket
import struct
import time
from collections import namedtuple

import numpy as np
import pytest

from course import _wire, grading, remote
from course._kernel_agent import Agent


def _round_trip(value):
    tree, blobs = _wire.encode(value, lambda obj: {"$h": 1})
    a, b = socket.socketpair()
    with a, b:
        a.sendall(_wire.pack({"v": tree}, blobs))
        header, got = _wire.recv(b)
    return _wire.decode(header["v"], got, lambda tag: ("handle", tag["$h"]))


def test_plain_data_round_trips_with_dtypes_and_containers():
    value = {
        "W": np.arange(6, dtype=np.float32).reshape(2, 3),
        "n": np.int16(3),
        "xs": (1, 2.5, float("nan"), float("-inf"), None, "δ", True, 2**70),
        3: [np.float64(0.5), np.zeros((0, 2))],
    }
    back = _round_trip(value)
    assert back["W"].dtype == np.float32 and np.array_equal(back["W"], value["W"])
    assert back["n"].dtype == np.int16 and back["n"] == 3
    assert back["xs"][:2] == (1, 2.5) and np.isnan(back["xs"][2]) and back["xs"][3] == -np.inf
    assert back["xs"][4:] == (None, "δ", True, 2**70)
    assert back[3][0] == 0.5 and back[3][1].shape == (0, 2)
    assert _round_trip(lambda: 0) == ("handle", 1)


def test_subclasses_travel_as_their_stored_value():
    class Liar(float):
        def __float__(self):
            return 0.25

        def __eq__(self, other):
            return True

    class LieArray(np.ndarray):
        def __sub__(self, other):
            return np.zeros(1)

    back = _round_trip([Liar(0.0), np.ones(2).view(LieArray)])
    assert back[0] == 0.0 and type(back[0]) is float
    assert type(back[1]) is np.ndarray and np.array_equal(back[1] - np.ones(2), [0, 0])


@pytest.mark.parametrize(
    "tree, blobs",
    [
        ({"$a": 0}, [b"not npy"]),
        ({"$x": 1}, []),
        ({"$a": 5}, []),
        ("x" * (_wire.MAX_STR + 1), []),
    ],
)
def test_the_decoder_refuses_what_is_not_plain_data(tree, blobs):
    with pytest.raises(_wire.WireError):
        _wire.decode(tree, blobs, lambda tag: None)


def test_pickled_arrays_are_never_loaded():
    buf = io.BytesIO()
    np.save(buf, np.array([object()], dtype=object), allow_pickle=True)
    with pytest.raises(_wire.WireError):
        _wire.decode({"$a": 0}, [buf.getvalue()], lambda tag: None)


def test_nesting_and_message_size_are_bounded():
    deep = []
    for _ in range(_wire.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(_wire.WireError):
        _wire.encode(deep, lambda o: None)
    a, b = socket.socketpair()
    with a, b:
        a.sendall(_wire._HEADER.pack(_wire.MAX_MESSAGE_BYTES + 1))
        with pytest.raises(_wire.WireError):
            _wire.recv(b)


def test_a_json_header_is_bounded_before_it_is_parsed():
    head = b'{"blobs": [], "x": [' + b"1.5," * (_wire.MAX_HEADER_BYTES // 4) + b"1.5]}"
    body = struct.pack(">Q", len(head)) + head
    a, b = socket.socketpair()
    with a, b:
        a.setblocking(False)
        b.settimeout(10)
        import threading

        sender = threading.Thread(target=lambda: _send_all(a, _wire._HEADER.pack(len(body)) + body))
        sender.start()
        with pytest.raises(_wire.WireError, match="header"):
            _wire.recv(b)
        sender.join()


def _send_all(sock, data):
    sock.setblocking(True)
    sock.sendall(data)


# -- an agent in a thread, a session to it ------------------------------------------------


def forward(params, X):
    print("forward ran")
    return params["W"] @ X, {"X": X, "opaque": object()}


def backward_from(cache):
    return cache["X"].sum()


def sgd(params, lr):
    params["W"] -= lr  # in place: the caller sees it
    params["b"] = params["b"] - lr  # rebinding: the caller's array stays
    params.pop("tmp", None)


def spin():
    while True:
        pass


def fails(x):
    y = x + 1
    return y / undefined_name  # noqa: F821


def draw(rng):
    return rng.normal(size=2)


Cache = namedtuple("Cache", "a z")


def forward_nt(X):
    return X * 2, Cache(X * 2, X)


def backward_nt(cache):
    return cache.a - cache.z  # field names: the student's own namedtuple came back


@pytest.fixture
def session(tmp_path):
    ns = {
        "forward": forward,
        "backward_from": backward_from,
        "sgd": sgd,
        "spin": spin,
        "fails": fails,
        "draw": draw,
        "forward_nt": forward_nt,
        "backward_nt": backward_nt,
        "alpha": 0.5,
        "arr": np.arange(3.0),
    }
    path = str(tmp_path / "agent.sock")
    Agent(ns, path).start()
    s = remote.Session(path, call_timeout=10)
    remote.open_session(s)
    yield s
    remote.open_session(None)
    s.close()


def test_names_arrive_as_data_or_handles(session):
    assert session.lookup("alpha") == 0.5
    assert np.array_equal(session.lookup("arr"), [0, 1, 2])
    f = session.lookup("forward")
    assert isinstance(f, remote.Handle) and f.__name__ == "forward"
    with pytest.raises(KeyError):
        session.lookup("nothing")


def test_calls_return_data_keep_objects_as_handles_and_echo_prints(session, capsys):
    f = session.lookup("forward")
    a, cache = grading.call(f, {"W": np.eye(2)}, np.ones((2, 3)))
    assert np.array_equal(a, np.ones((2, 3)))
    assert isinstance(cache["opaque"], remote.Handle)
    assert grading.call(session.lookup("backward_from"), cache) == 6.0
    assert "forward ran" in capsys.readouterr().out


def test_in_place_changes_are_mirrored_only_when_the_check_asks(session):
    W, b = np.ones((2, 2)), np.zeros((2, 1))
    params = {"W": W, "b": b, "tmp": 1}
    grading.call(session.lookup("sgd"), params, 0.5)
    assert np.all(W == 1) and params["b"] is b and "tmp" in params  # the check's own data
    grading.call(session.lookup("sgd"), params, 0.5, in_place=True)
    assert params["W"] is W and np.all(W == 0.5)  # changed in place
    assert params["b"] is not b and np.all(b == 0) and np.all(params["b"] == -0.5)
    assert "tmp" not in params


def test_a_generator_advances_as_it_would_in_process_when_asked(session):
    rng, twin = np.random.default_rng(3), np.random.default_rng(3)
    draw = session.lookup("draw")
    assert np.array_equal(grading.call(draw, rng, in_place=True), twin.normal(size=2))
    assert rng.normal() == twin.normal()
    assert np.array_equal(grading.call(draw, rng), twin.normal(size=2))
    assert rng.normal() != twin.normal()  # not advanced: the same draw comes next


def test_errors_name_the_student_line_and_budgets_stop_loops(session):
    with pytest.raises(grading.GradingFailure, match="NameError"):
        grading.call(session.lookup("fails"), 1)
    start = time.monotonic()
    with pytest.raises(grading.TimeBudgetExceeded):
        grading.call_timed(session.lookup("spin"), budget=0.3)
    assert time.monotonic() - start < 3
    assert session.lookup("alpha") == 0.5  # the agent still answers


def test_call_each_is_one_round_trip(session):
    before = session.requests
    values = grading.call_each(
        session.lookup("forward"),
        [(({"W": np.eye(1) * k}, np.ones((1, 1))), {}) for k in range(50)],
    )
    assert [float(v[0][0, 0]) for v in values] == list(range(50))
    assert session.requests - before == 2  # the lookup and the batch


def test_a_gone_agent_is_a_clear_failure(session):
    session.sock.close()
    with pytest.raises(grading.GradingFailure, match="stopped answering"):
        grading.call(remote.Handle(session, 1, "function", "forward"), 1)


def test_a_namedtuple_cache_comes_back_as_the_students_own(session):
    a, cache = grading.call(session.lookup("forward_nt"), np.ones(3))
    assert isinstance(cache, tuple) and np.array_equal(cache[0], 2 * np.ones(3))  # readable
    assert np.array_equal(grading.call(session.lookup("backward_nt"), cache), np.ones(3))
