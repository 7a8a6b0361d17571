"""The kernel's side of the grader's connection (backprop_agent): wire, channel, stubs.

Everything here runs in the student's kernel when grading, so it must refuse what is not
plain data, keep a conversation in step, import nothing of the course, and compute the
activations exactly as the course does.
"""

import io
import socket
import struct
import threading
import warnings

import numpy as np
import pytest

from backprop_agent import elementwise, wire
from backprop_agent.channel import Broken, Channel
from course import activations


def _round_trip(value):
    tree, blobs = wire.encode(value, lambda obj: {"$h": 1})
    a, b = socket.socketpair()
    with a, b:
        wire.send(a, wire.pack_parts({"v": tree}, blobs))
        header, got = wire.recv(b)
    return wire.decode(header["v"], got, lambda tag: ("handle", tag["$h"]))


def test_plain_data_round_trips_with_dtypes_and_containers():
    value = {
        "W": np.arange(6, dtype=np.float32).reshape(2, 3),
        "n": np.int16(3),
        "xs": (1, 2.5, float("nan"), float("-inf"), None, "δ", True, 2**70),
        3: [np.float64(0.5), np.zeros((0, 2)), np.asfortranarray(np.ones((2, 3)))],
    }
    back = _round_trip(value)
    assert back["W"].dtype == np.float32 and np.array_equal(back["W"], value["W"])
    assert back["n"].dtype == np.int16 and back["n"] == 3
    assert back["xs"][:2] == (1, 2.5) and np.isnan(back["xs"][2]) and back["xs"][3] == -np.inf
    assert back["xs"][4:] == (None, "δ", True, 2**70)
    assert back[3][0] == 0.5 and back[3][1].shape == (0, 2) and back[3][2].shape == (2, 3)
    assert _round_trip(lambda: 0) == ("handle", 1)


def test_arrays_arrive_writable_without_a_copy_of_the_message():
    back = _round_trip({"a": np.arange(4.0)})["a"]
    back += 1  # a check may work on what it received
    assert np.array_equal(back, [1, 2, 3, 4])


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


def test_the_standard_librarys_exact_numbers_travel_as_the_float_they_round_to():
    import decimal
    from fractions import Fraction

    back = _round_trip([Fraction(3, 2), decimal.Decimal("-0.1"), decimal.Decimal("NaN")])
    assert back[:2] == [1.5, -0.1] and all(type(v) is float for v in back)
    assert np.isnan(back[2])

    class Lying(Fraction):  # a subclass is not the standard library's number
        def __float__(self):
            return 0.25

    too_big = Fraction(10**400)
    assert _round_trip([Lying(3, 2), too_big, decimal.Decimal("sNaN")]) == [("handle", 1)] * 3


def _npy(arr):
    return wire.npy_bytes(arr)


@pytest.mark.parametrize(
    "tree, blobs",
    [
        ({"$a": 0}, [b"not npy"]),
        ({"$x": 1}, []),
        ({"$a": 5}, []),
        ({"$a": 0}, [_npy(np.ones(3))[:-8]]),  # bytes short of the shape
        ({"$a": 0}, [_npy(np.ones(3)) + b"\0" * 8]),  # bytes beyond it
        ({"$a": 0, "$h": 1}, []),
        ("x" * (wire.MAX_STR + 1), []),
    ],
)
def test_the_decoder_refuses_what_is_not_plain_data(tree, blobs):
    with pytest.raises(wire.WireError):
        wire.decode(tree, blobs, lambda tag: None)


def test_pickled_and_object_arrays_are_never_loaded():
    buf = io.BytesIO()
    np.save(buf, np.array([object()], dtype=object), allow_pickle=True)
    with pytest.raises(wire.WireError):
        wire.decode({"$a": 0}, [buf.getvalue()], lambda tag: None)
    buf = io.BytesIO()
    np.save(buf, np.array(["text"]))
    with pytest.raises(wire.WireError):
        wire.decode({"$a": 0}, [buf.getvalue()], lambda tag: None)


def test_nesting_and_message_size_are_bounded_before_reading():
    deep = []
    for _ in range(wire.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(wire.WireError):
        wire.encode(deep, lambda o: None)
    a, b = socket.socketpair()
    with a, b:
        a.sendall(struct.pack(">Q", 2**30))  # a gigabyte announced, nothing sent
        with pytest.raises(wire.WireError, match="over the limit"):
            wire.Reader(b, max_bytes=64 * 2**20).read()


def test_a_json_header_is_bounded_before_it_is_parsed():
    head = b'{"blobs": [], "x": [' + b"1.5," * (wire.MAX_HEADER_BYTES // 4) + b"1.5]}"
    body = struct.pack(">Q", len(head)) + head
    a, b = socket.socketpair()
    with a, b:
        sender = threading.Thread(target=lambda: a.sendall(struct.pack(">Q", len(body)) + body))
        sender.start()
        with pytest.raises(wire.WireError, match="header"):
            wire.recv(b)
        sender.join()


# -- the conversation ---------------------------------------------------------------------


def _pair(serve_a, serve_b):
    x, y = socket.socketpair()
    return Channel(x, serve_a), Channel(y, serve_b)


def test_calls_nest_both_ways_on_one_conversation():
    """a asks b; b, answering, asks a twice (and a, answering, asks b): one stack."""
    a, b = None, None

    def serve_a(header, blobs):  # runs on a's end: asks b through a
        if header["op"] == "double":
            return {"v": 2 * a.request({"op": "inc", "v": header["v"]})[0]["v"]}, []
        raise ValueError(header["op"])

    def serve_b(header, blobs):  # runs on b's end: asks a through b
        if header["op"] == "inc":
            return {"v": header["v"] + 1}, []
        first = b.request({"op": "double", "v": header["v"]})[0]["v"]
        return {"v": first + b.request({"op": "double", "v": 0})[0]["v"]}, []

    a, b = _pair(serve_a, serve_b)
    server = threading.Thread(target=b.serve_forever, daemon=True)
    server.start()
    reply, _ = a.request({"op": "outer", "v": 3})
    assert reply["v"] == 2 * 4 + 2 * 1
    a.close()
    server.join(5)


def test_an_answer_out_of_step_breaks_the_conversation():
    x, y = socket.socketpair()
    a = Channel(x, lambda h, b: ({}, []))
    y.sendall(wire.pack({"re": 999}))
    with pytest.raises(Broken):
        a.request({"op": "anything"})
    assert a.broken


def test_a_fault_while_answering_is_an_answer_not_a_hang():
    a, b = _pair(lambda h, bl: ({}, []), lambda h, bl: 1 / 0)
    threading.Thread(target=b.serve_forever, daemon=True).start()
    reply, _ = a.request({"op": "x"})
    assert "ZeroDivisionError" in reply["fault"]


# -- the activations the kernel computes itself --------------------------------------------


@pytest.mark.parametrize("name", [n for n in elementwise.NAMES if n.islower()])
def test_the_kernels_activations_equal_the_course(name):
    z = np.concatenate([np.linspace(-800, 800, 41), [-0.0, 0.0, 1e-300, -1e-300, 37.5]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same silence about overflow, too
        ours = getattr(elementwise, name)
        theirs = getattr(activations, name)
        if name == "get_activation":
            for key in activations.ACTIVATIONS:
                a, b = ours(key), theirs(key)
                for field in ("f", "f_prime", "f_prime_from_output"):
                    arg = np.tanh(z) if field == "f_prime_from_output" else z
                    np.testing.assert_array_equal(getattr(a, field)(arg), getattr(b, field)(arg))
            with pytest.raises(ValueError, match="unknown activation"):
                ours("softplus")
            return
        np.testing.assert_array_equal(ours(z), theirs(z))
        np.testing.assert_array_equal(ours(z[::3].reshape(1, -1)), theirs(z[::3].reshape(1, -1)))
        assert ours(0.5) == theirs(0.5)


def test_the_agent_loads_nothing_of_the_project():
    """What a grading kernel loads with the agent: no course, no grader, no test support."""
    import subprocess
    import sys

    code = (
        "import sys, backprop_agent.agent, backprop_agent.stubs, backprop_agent.elementwise\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('course', 'autograder', 'classroom')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
