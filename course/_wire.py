"""Plain data on the wire between the grader and the student's kernel.

Both ends of :mod:`course.remote` use this encoding.  A message is one JSON header and a
list of binary blobs (NumPy ``.npy`` bytes).  What can travel as *data*:

- ``None``, ``bool``, ``int``, ``float`` (NaN and infinities included), ``str``;
- NumPy arrays and scalars of a boolean, integer or floating dtype (the dtype is kept,
  so a float32 result stays float32), read back with ``allow_pickle=False``;
- ``list``, ``tuple`` and ``dict`` (keys: str, int, float, bool or None) of those.

A ``tuple`` subclass (a ``namedtuple``) sent by the kernel travels as its items and a
handle to the original, ``{"$T": [handle, items]}``: the grader reads a
:class:`KeptTuple` (a tuple that remembers its handle), and passing it back hands the
student's function its own object, field names included.

Anything else is a *reference*: ``{"$h": id}`` to an object kept in the kernel (a
function, a cache object), ``{"$g": name}`` to a global of the student's namespace,
``{"$m": module, "q": qualname}`` to an importable ``course`` object.  The decoder of
the grader's side accepts data and ``$h`` handles only, checks every limit below and
raises :class:`WireError` for anything else: what the kernel sends is never trusted.
"""

from __future__ import annotations

import io
import json
import math
import struct

import numpy as np

#: Limits of one message (either direction).
MAX_MESSAGE_BYTES = 256 * 2**20
MAX_DEPTH = 40
MAX_ITEMS = 2_000_000
MAX_STR = 4 * 2**20
#: The JSON part of a message (arrays travel as blobs): parsing it costs about ten times
#: its size in memory, so it is bounded well below the message.
MAX_HEADER_BYTES = 16 * 2**20
ARRAY_KINDS = "biuf"

_HEADER = struct.Struct(">Q")
_KEY_TYPES = (str, int, float, type(None))


def _plain_key(key):
    for base in (bool, int, float, str):
        if isinstance(key, base):
            return base(key)
    return None


class WireError(ValueError):
    """A message that is not plain data within the limits."""


class KeptTuple(tuple):
    """The items of a kernel's tuple subclass (a namedtuple); ``handle`` is the original."""

    handle = None


class _Encoder:
    def __init__(self, reference, keep_tuple_types=False):
        self.blobs = []
        self.items = 0
        self.reference = reference
        self.keep_tuple_types = keep_tuple_types

    def blob(self, arr):
        buf = io.BytesIO()
        np.save(buf, arr, allow_pickle=False)
        self.blobs.append(buf.getvalue())
        return len(self.blobs) - 1

    def encode(self, value, depth=0):
        self.items += 1
        if depth > MAX_DEPTH or self.items > MAX_ITEMS:
            raise WireError("the value is nested too deeply or has too many items")
        # Subclasses travel as their base type: whatever they override stays behind.
        if value is None:
            return None
        if isinstance(value, np.ndarray):
            if value.dtype.kind in ARRAY_KINDS:
                return {"$a": self.blob(np.asarray(value))}
        elif isinstance(value, np.generic):
            if value.dtype.kind in ARRAY_KINDS:
                return {"$s": self.blob(np.asarray(value))}
        elif isinstance(value, bool):
            return bool(value)  # bool cannot be subclassed
        elif isinstance(value, int):
            value = int.__int__(value)  # the stored value, not an overridden __int__
            return value if -(2**63) <= value < 2**63 else {"$i": str(value)}
        elif isinstance(value, float):
            value = float.__float__(value)
            return value if math.isfinite(value) else {"$f": float.__repr__(value)}
        elif isinstance(value, str):
            return str.__str__(value)
        elif isinstance(value, tuple):
            items = [self.encode(v, depth + 1) for v in value]
            if self.keep_tuple_types and type(value) is not tuple:
                return {"$T": [self.reference(value), items]}
            return {"$t": items}
        elif isinstance(value, list):
            return [self.encode(v, depth + 1) for v in value]
        elif isinstance(value, dict) and all(isinstance(k, _KEY_TYPES) for k in value):
            return {"$d": [[_plain_key(k), self.encode(v, depth + 1)] for k, v in value.items()]}
        return self.reference(value)


def encode(value, reference, keep_tuple_types=False):
    """(tree, blobs): `value` as JSON-able data; `reference(obj)` encodes everything else.

    `keep_tuple_types` (the kernel's side): tuple subclasses go as ``$T``, items and a
    reference to the original."""
    enc = _Encoder(reference, keep_tuple_types)
    tree = enc.encode(value)
    return tree, enc.blobs


def pack(header, blobs=()):
    """One message: length, JSON header length, header, blob lengths, blobs."""
    head = json.dumps({**header, "blobs": [len(b) for b in blobs]}, allow_nan=False).encode()
    if len(head) > MAX_HEADER_BYTES:
        raise WireError(f"message header of {len(head)} bytes is over the limit")
    body = b"".join([_HEADER.pack(len(head)), head, *blobs])
    if len(body) > MAX_MESSAGE_BYTES:
        raise WireError(f"message of {len(body)} bytes is over the limit")
    return _HEADER.pack(len(body)) + body


def _recv_exact(sock, n):
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(min(n - got, 1 << 20))
        if not chunk:
            raise ConnectionError("the other end closed the connection")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def recv(sock):
    """Read one message from `sock`: (header dict, list of blob bytes)."""
    (size,) = _HEADER.unpack(_recv_exact(sock, _HEADER.size))
    if size > MAX_MESSAGE_BYTES:
        raise WireError(f"message of {size} bytes is over the limit")
    body = _recv_exact(sock, size)
    (head_len,) = _HEADER.unpack(body[: _HEADER.size])
    if head_len > MAX_HEADER_BYTES:
        raise WireError(f"message header of {head_len} bytes is over the limit")
    end = _HEADER.size + head_len
    if end > len(body):
        raise WireError("truncated message header")
    try:
        header = json.loads(body[_HEADER.size : end])
    except (ValueError, RecursionError) as exc:
        raise WireError(f"unreadable message header: {exc}") from None
    if not isinstance(header, dict) or not isinstance(header.get("blobs"), list):
        raise WireError("message header is not an object with blobs")
    blobs, pos = [], end
    for n in header["blobs"]:
        if type(n) is not int or n < 0 or pos + n > len(body):
            raise WireError("blob sizes do not match the message")
        blobs.append(body[pos : pos + n])
        pos += n
    return header, blobs


class _Decoder:
    def __init__(self, blobs, resolve):
        self.blobs = blobs
        self.resolve = resolve
        self.items = 0

    def array(self, index):
        if type(index) is not int or not 0 <= index < len(self.blobs):
            raise WireError("array reference out of range")
        try:
            arr = np.load(io.BytesIO(self.blobs[index]), allow_pickle=False)
        except Exception as exc:  # noqa: BLE001 - any malformed npy is a protocol error
            raise WireError(f"unreadable array: {exc}") from None
        if type(arr) is not np.ndarray or arr.dtype.kind not in ARRAY_KINDS:
            raise WireError("array of a dtype that is not bool, int or float")
        return arr

    def decode(self, tree, depth=0):
        self.items += 1
        if depth > MAX_DEPTH or self.items > MAX_ITEMS:
            raise WireError("the value is nested too deeply or has too many items")
        kind = type(tree)
        if tree is None or kind in (bool, int, float):
            return tree
        if kind is str:
            if len(tree) > MAX_STR:
                raise WireError("string over the size limit")
            return tree
        if kind is list:
            return [self.decode(v, depth + 1) for v in tree]
        if kind is not dict or len(tree) == 0:
            raise WireError(f"unexpected {kind.__name__} in a message")
        tag = next(iter(tree))
        body = tree[tag]
        if tag == "$t" and type(body) is list:
            return tuple(self.decode(v, depth + 1) for v in body)
        if tag == "$T" and type(body) is list and len(body) == 2 and type(body[1]) is list:
            if type(body[0]) is not dict or "$h" not in body[0]:
                raise WireError("a kept tuple without a handle")
            kept = KeptTuple(self.decode(v, depth + 1) for v in body[1])
            kept.handle = self.resolve(body[0])
            return kept
        if tag == "$d" and type(body) is list:
            out = {}
            for pair in body:
                if type(pair) is not list or len(pair) != 2:
                    raise WireError("malformed dict entry")
                key = pair[0]
                if type(key) not in (str, int, float, bool, type(None)):
                    raise WireError("dict key that is not a plain value")
                out[key] = self.decode(pair[1], depth + 1)
            return out
        if tag == "$a":
            return self.array(body)
        if tag == "$s":
            arr = self.array(body)
            if arr.ndim != 0:
                raise WireError("scalar that is not 0-dimensional")
            return arr[()]
        if tag == "$f" and body in ("nan", "inf", "-inf"):
            return float(body)
        if tag == "$i" and type(body) is str and len(body) < 5000:
            try:
                return int(body)
            except ValueError:
                raise WireError("malformed integer") from None
        if tag in ("$h", "$g", "$m", "$rng", "$obj"):
            return self.resolve(tree)
        raise WireError(f"unknown tag {tag!r} in a message")


def decode(tree, blobs, resolve):
    """The value encoded by :func:`encode`; `resolve(tag dict)` turns references into objects."""
    return _Decoder(blobs, resolve).decode(tree)


def rng_state(state):
    """A NumPy bit generator's state as data (it may hold uint arrays and numpy ints)."""
    if isinstance(state, dict):
        return {k: rng_state(v) for k, v in state.items()}
    if isinstance(state, np.ndarray):
        return {"$array": state.tolist(), "dtype": str(state.dtype)}
    if isinstance(state, np.integer):
        return int(state)
    return state


def rng_state_back(data):
    """The inverse of :func:`rng_state`."""
    if isinstance(data, dict):
        if "$array" in data:
            return np.array(data["$array"], dtype=data.get("dtype", "uint64"))
        return {k: rng_state_back(v) for k, v in data.items()}
    return data
