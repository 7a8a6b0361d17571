"""Plain data on the wire between the grader and the student's kernel.

A message is one JSON header and a list of binary blobs (NumPy ``.npy`` bytes).  What can
travel as *data*:

- ``None``, ``bool``, ``int``, ``float`` (NaN and infinities included), ``str``;
- the standard library's exact numbers ``fractions.Fraction`` and ``decimal.Decimal``,
  as the float they round to (a hand answer written ``Fraction(3, 2)`` is the number
  1.5; the conversion is the standard library's, never a subclass's);
- NumPy arrays and scalars of a boolean, integer or floating dtype (the dtype is kept, so
  a float32 result stays float32), never pickled;
- ``list``, ``tuple`` and ``dict`` (keys: str, int, float, bool or None) of those.

Subclasses travel as their base type's stored value (an overridden ``__float__``,
``__eq__`` or ``__array__`` stays behind).  A ``tuple`` subclass (a ``namedtuple``) sent
by the kernel travels as its items and a handle to the original, ``{"$T": [handle,
items]}``: the grader reads a :class:`KeptTuple`, and passing it back hands the student's
function its own object.

Anything else is a *reference*, a one-key dict whose key is one of :data:`REFERENCES`:

- ``{"$h": id}``: an object kept in the kernel (a student's function, a cache object);
- ``{"$g": name}``: a global of the student's namespace;
- ``{"$c": target}``: a function that runs in the grader (a course function, a check's
  recording function); the kernel calls it through :mod:`.stubs`;
- ``{"$o": id}``: another object that lives in the grader (a generator, a figure);
- ``{"$rec": {"type": ..., "fields": ...}}``: a record (a course dataclass of plain
  data), rebuilt on the other side;
- ``{"$rng": state}``: a NumPy random generator, by its state;
- ``{"$local": name}``: one of the activation functions the kernel computes itself
  (:mod:`.elementwise`);
- ``{"$arg": i}``: in the answer to a call, the caller's own argument ``i`` (a course
  function that updates a dict in place and returns it, as ``training.train`` does).

Which references an end accepts is its ``resolve`` function's business.  Every limit below
is checked while reading, before anything is converted: the grader's decoder trusts
nothing it receives.  Arrays are read without pickle and without a copy (a view of the
message), after their ``.npy`` header was checked against the blob.
"""

from __future__ import annotations

import ast
import decimal
import fractions
import json
import math
import struct

import numpy as np

#: Limits of one message (either direction).  The grader reads with a lower limit of its
#: own (``autograder.remote.MAX_REPLY_BYTES``).
MAX_MESSAGE_BYTES = 256 * 2**20
MAX_DEPTH = 40
MAX_ITEMS = 2_000_000
MAX_STR = 4 * 2**20
#: The JSON part of a message (arrays travel as blobs): parsing it costs about ten times
#: its size in memory, so it is bounded well below the message.
MAX_HEADER_BYTES = 16 * 2**20
ARRAY_KINDS = "biuf"
#: The reference tags (see the module docstring).
REFERENCES = ("$h", "$g", "$c", "$o", "$rec", "$rng", "$local", "$arg")
#: References whose body holds encoded values (decoded before they are resolved).
NESTED = ("$rec",)

_LENGTH = struct.Struct(">Q")
_KEY_TYPES = (str, int, float, type(None))
_NPY_MAGIC = b"\x93NUMPY"


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


_NPY_HEADERS = {}


def npy_parts(arr):
    """The ``.npy`` bytes of `arr` as (header, data): version 1.0 header, C order, the
    data a view of the array (nothing copied for a C-contiguous array)."""
    arr = np.asarray(arr)
    if not arr.flags.c_contiguous:
        arr = arr.copy(order="C")
    key = (arr.dtype.str, arr.shape)
    head = _NPY_HEADERS.get(key)
    if head is None:
        header = {"descr": np.lib.format.dtype_to_descr(arr.dtype), "fortran_order": False}
        header["shape"] = arr.shape
        text = repr(header).encode("latin1")
        pad = 64 - (len(_NPY_MAGIC) + 4 + len(text) + 1) % 64
        start = _NPY_MAGIC + b"\x01\x00" + struct.pack("<H", len(text) + pad + 1)
        head = b"".join([start, text, b" " * pad, b"\n"])
        if len(_NPY_HEADERS) > 4096:
            _NPY_HEADERS.clear()
        _NPY_HEADERS[key] = head
    data = memoryview(arr.reshape(-1).view(np.uint8)) if arr.size else memoryview(b"")
    return head, data


def npy_bytes(arr):
    """The ``.npy`` bytes of `arr` (version 1.0 header, C order), without pickle."""
    head, data = npy_parts(arr)
    return head + bytes(data)


class Nested:
    """What a `reference` function returns for a reference whose body holds values
    (a record's fields): ``{tag: encoded body}``."""

    __slots__ = ("tag", "body")

    def __init__(self, tag, body):
        self.tag = tag
        self.body = body


def _exact_float(value):
    """The float an exact Fraction or Decimal rounds to, or None (a signalling NaN, a
    number beyond the floats)."""
    try:
        return float(value)
    except (ValueError, OverflowError, ArithmeticError):
        return None


class Encoder:
    """Turns a value into (tree, blobs); `reference(obj)` encodes what is not data (a
    tree, or a :class:`Nested` whose body is encoded here)."""

    def __init__(self, reference, keep_tuple_types=False):
        self.blobs = []
        self.items = 0
        self.reference = reference
        self.keep_tuple_types = keep_tuple_types

    def blob(self, arr):
        self.blobs.append(npy_parts(arr))
        return len(self.blobs) - 1

    def encode(self, value, depth=0):
        self.items += 1
        if depth > MAX_DEPTH or self.items > MAX_ITEMS:
            raise WireError("the value is nested too deeply or has too many items")
        kind = type(value)
        # The exact built-in types first (the common case, and cheap to check) ...
        if kind is np.ndarray and value.dtype.kind in ARRAY_KINDS:
            return {"$a": self.blob(value)}
        if kind is dict:
            if all(type(k) is str for k in value):
                return {"$d": [[k, self.encode(v, depth + 1)] for k, v in value.items()]}
        elif kind is list:
            return [self.encode(v, depth + 1) for v in value]
        elif kind is float:
            return value if math.isfinite(value) else {"$f": float.__repr__(value)}
        elif kind is str or kind is bool or value is None:
            return value
        elif kind is int:
            return value if -(2**63) <= value < 2**63 else {"$i": str(value)}
        elif kind is tuple:
            return {"$t": [self.encode(v, depth + 1) for v in value]}
        elif kind is fractions.Fraction or kind is decimal.Decimal:
            number = _exact_float(value)
            if number is not None:
                return number if math.isfinite(number) else {"$f": float.__repr__(number)}
        return self._encode_other(value, depth)

    def _encode_other(self, value, depth):
        """Subclasses travel as their base type: whatever they override stays behind."""
        if isinstance(value, KeptTuple) and value.handle is not None:
            return self.reference(value.handle)  # the kernel's own tuple subclass, back
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
        ref = self.reference(value)
        if isinstance(ref, Nested):
            return {ref.tag: self.encode(ref.body, depth + 1)}
        return ref


def encode(value, reference, keep_tuple_types=False):
    """(tree, blobs): `value` as JSON-able data; `reference(obj)` encodes everything else.

    `keep_tuple_types` (the kernel's side): tuple subclasses go as ``$T``, items and a
    reference to the original."""
    enc = Encoder(reference, keep_tuple_types)
    tree = enc.encode(value)
    return tree, enc.blobs


def _parts(blob):
    return blob if isinstance(blob, tuple) else (blob,)


def _nbytes(part):
    return part.nbytes if isinstance(part, memoryview) else len(part)


def pack_parts(header, blobs=(), max_bytes=MAX_MESSAGE_BYTES):
    """One message as a list of buffers: length, JSON header length, header, blobs (their
    lengths in the header).  A blob is bytes or the (header, data) of :func:`npy_parts`."""
    sizes = [sum(_nbytes(p) for p in _parts(b)) for b in blobs]
    head = json.dumps({**header, "blobs": sizes}, allow_nan=False).encode()
    if len(head) > MAX_HEADER_BYTES:
        raise WireError(f"message header of {len(head)} bytes is over the limit")
    size = _LENGTH.size + len(head) + sum(sizes)
    if size > max_bytes:
        raise WireError(f"a message of {size} bytes is over the limit of {max_bytes} bytes")
    parts = [_LENGTH.pack(size) + _LENGTH.pack(len(head)) + head]
    for blob in blobs:
        parts.extend(p for p in _parts(blob) if _nbytes(p))
    return parts


def pack(header, blobs=(), max_bytes=MAX_MESSAGE_BYTES):
    """One message as bytes (see :func:`pack_parts`)."""
    return b"".join(bytes(p) for p in pack_parts(header, blobs, max_bytes))


def send(sock, parts):
    """Send the buffers `parts` of one message, without joining them."""
    views = [memoryview(p).cast("B") for p in parts]
    while views:
        sent = sock.sendmsg(views[:512])
        while sent:
            if sent >= views[0].nbytes:
                sent -= views[0].nbytes
                views.pop(0)
            else:
                views[0] = views[0][sent:]
                sent = 0


def _recv_into(sock, buf):
    view, got = memoryview(buf), 0
    while got < len(view):
        n = sock.recv_into(view[got:], min(len(view) - got, 1 << 22))
        if not n:
            raise ConnectionError("the other end closed the connection")
        got += n
    return buf


def recv(sock, max_bytes=MAX_MESSAGE_BYTES):
    """Read one message from `sock`: (header dict, list of blobs as memoryviews).

    A message over `max_bytes` is refused from its length, before it is read (the
    connection is then out of step and must be closed)."""
    (size,) = _LENGTH.unpack(_recv_into(sock, bytearray(_LENGTH.size)))
    if size > max_bytes:
        raise WireError(f"a message of {size} bytes is over the limit of {max_bytes} bytes")
    return _split(_recv_into(sock, bytearray(size)))


class Reader:
    """Reads whole messages from a socket, small ones in one system call."""

    def __init__(self, sock, max_bytes=MAX_MESSAGE_BYTES):
        self.sock = sock
        self.max_bytes = max_bytes
        self.buf = bytearray()

    def _more(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("the other end closed the connection")
        self.buf += chunk

    def read(self):
        """(header dict, list of blobs as memoryviews) of the next message."""
        while len(self.buf) < _LENGTH.size:
            self._more()
        (size,) = _LENGTH.unpack_from(self.buf)
        if size > self.max_bytes:
            raise WireError(
                f"a message of {size} bytes is over the limit of {self.max_bytes} bytes"
            )
        end = _LENGTH.size + size
        if len(self.buf) >= end:
            body = self.buf[_LENGTH.size : end]
            del self.buf[:end]
        else:
            body = bytearray(size)
            have = len(self.buf) - _LENGTH.size
            body[:have] = self.buf[_LENGTH.size :]
            self.buf = bytearray()
            _recv_into(self.sock, memoryview(body)[have:])
        return _split(body)


def _split(body):
    (head_len,) = _LENGTH.unpack_from(body)
    if head_len > MAX_HEADER_BYTES:
        raise WireError(f"message header of {head_len} bytes is over the limit")
    end = _LENGTH.size + head_len
    if end > len(body):
        raise WireError("truncated message header")
    try:
        header = json.loads(bytes(body[_LENGTH.size : end]))
    except (ValueError, RecursionError) as exc:
        raise WireError(f"unreadable message header: {exc}") from None
    if not isinstance(header, dict) or not isinstance(header.get("blobs"), list):
        raise WireError("message header is not an object with blobs")
    blobs, pos, view = [], end, memoryview(body)
    for n in header["blobs"]:
        if type(n) is not int or n < 0 or pos + n > len(body):
            raise WireError("blob sizes do not match the message")
        blobs.append(view[pos : pos + n])
        pos += n
    return header, blobs


def npy_header(blob):
    """(dtype, shape, offset) of ``.npy`` bytes, checked against the blob's length.

    Raises
    ------
    WireError
        Not ``.npy`` bytes, a dtype that is not bool, int or float (objects, structures,
        strings), or a length that does not match the shape.
    """
    head = bytes(blob[:10])
    if len(head) < 10 or head[:6] != _NPY_MAGIC:
        raise WireError("an array that is not .npy bytes")
    major = head[6]
    if major == 1:
        (n,) = struct.unpack("<H", head[8:10])
        start = 10
    elif major in (2, 3):
        (n,) = struct.unpack("<I", bytes(blob[8:12]))
        start = 12
    else:
        raise WireError(f"an .npy version {major} array")
    if n > 65536 or start + n > len(blob):
        raise WireError("an .npy header over its limit")
    dtype, shape, fortran = _parse_npy_header(bytes(blob[start : start + n]))
    if dtype.kind not in ARRAY_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise WireError("array of a dtype that is not bool, int or float")
    if not all(type(d) is int and d >= 0 for d in shape) or len(shape) > 32:
        raise WireError("an array of a malformed shape")
    if type(fortran) is not bool:
        raise WireError("an unreadable .npy header")
    count = math.prod(shape)
    offset = start + n
    if offset + count * dtype.itemsize != len(blob):
        raise WireError("an array whose bytes do not match its shape")
    return dtype, shape, offset, fortran


_HEADERS = {}


def _parse_npy_header(text):
    """(dtype, shape, fortran order) of an .npy header dict (cached: a check sends the
    same shapes again and again, and parsing costs more than the rest of a message)."""
    found = _HEADERS.get(text)
    if found is not None:
        return found
    try:
        meta = ast.literal_eval(text.decode("latin1"))
        dtype = np.dtype(np.lib.format.descr_to_dtype(meta["descr"]))
        shape = tuple(meta["shape"])
        fortran = meta["fortran_order"]
    except (ValueError, TypeError, KeyError, SyntaxError, MemoryError, RecursionError):
        raise WireError("an unreadable .npy header") from None
    if len(_HEADERS) > 4096:
        _HEADERS.clear()
    _HEADERS[text] = (dtype, shape, fortran)
    return dtype, shape, fortran


def array_from_npy(blob):
    """The array in ``.npy`` bytes, as a view of them (no pickle, no copy)."""
    dtype, shape, offset, fortran = npy_header(blob)
    flat = np.frombuffer(blob, dtype=dtype, count=math.prod(shape), offset=offset)
    return flat.reshape(shape, order="F" if fortran else "C")


class Decoder:
    """Turns (tree, blobs) back into a value; `resolve(tag dict)` turns references into
    objects (and raises WireError for a reference its end does not accept)."""

    def __init__(self, blobs, resolve):
        self.blobs = blobs
        self.resolve = resolve
        self.items = 0

    def array(self, index):
        if type(index) is not int or not 0 <= index < len(self.blobs):
            raise WireError("array reference out of range")
        return array_from_npy(self.blobs[index])

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
        if kind is not dict or len(tree) != 1:
            raise WireError(f"unexpected {kind.__name__} in a message")
        ((tag, body),) = tree.items()
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
        if tag in NESTED:
            return self.resolve({tag: self.decode(body, depth + 1)})
        if tag in REFERENCES:
            return self.resolve(tree)
        raise WireError(f"unknown tag {tag!r} in a message")


def decode(tree, blobs, resolve):
    """The value encoded by :func:`encode`; `resolve(tag dict)` turns references into objects."""
    return Decoder(blobs, resolve).decode(tree)


def rng_state(state):
    """A NumPy bit generator's state as data (it may hold uint arrays and numpy ints)."""
    if isinstance(state, dict):
        return {str(k): rng_state(v) for k, v in state.items()}
    if isinstance(state, np.ndarray):
        return {"$array": state.tolist(), "dtype": str(state.dtype)}
    if isinstance(state, np.integer):
        return int(state)
    return state


def rng_state_back(data):
    """The inverse of :func:`rng_state`."""
    if isinstance(data, dict):
        if "$array" in data:
            dtype = data.get("dtype", "uint64")
            if dtype not in ("uint64", "uint32", "uint8", "int64"):
                raise WireError("a random state of an unexpected dtype")
            return np.array(data["$array"], dtype=dtype)
        return {k: rng_state_back(v) for k, v in data.items()}
    return data


#: Bit generators a random state may name (NumPy's own).
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


def rng_reference(rng):
    """``{"$rng": ...}`` for a NumPy Generator."""
    bitgen = rng.bit_generator
    return {"$rng": {"bitgen": type(bitgen).__name__, "state": rng_state(bitgen.state)}}


def rng_from_reference(body):
    """A fresh Generator in the state a ``$rng`` reference describes."""
    if type(body) is not dict or body.get("bitgen") not in BIT_GENERATORS:
        raise WireError("a random generator of an unknown kind")
    bitgen = getattr(np.random, body["bitgen"])()
    try:
        bitgen.state = rng_state_back(body.get("state"))
    except (TypeError, ValueError, KeyError) as exc:
        raise WireError(f"an unreadable random state: {exc}") from None
    return np.random.Generator(bitgen)
