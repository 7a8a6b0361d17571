"""The grader's end of the connection to a sandboxed kernel (its agent: :mod:`backprop_agent`).

Under ``backprop-grade grade`` the test cells run here, in the grader, never in the
student's kernel.  A name the student defined arrives as plain data (a number, an array,
a dict of arrays) or, for anything else (a function, a class, a ``Node``), as a
:class:`Handle`: calling it, reading or setting its attributes sends one request to the
kernel and gets plain data back.  The checks of ``course.checks`` (drivers, references,
spies, random generators) therefore all run here, and drive the student's objects through
handles.

The other way round, the kernel has no course code at all: ``import course`` there gives
stubs (:mod:`backprop_agent.stubs`) whose calls come here, to :class:`Library`, which runs
the real function on plain data and answers with plain data.  That is also where a check
sees which course functions the student's code called (:meth:`Library.recording`), where
a check's spy replaces one (:meth:`Library.replacing`), and where the graders' references
stay out of reach: the kernel may import the student-facing modules and read the few
constants a notebook's locked cells use, nothing of ``course.checks`` beyond them.

:class:`SessionBackend` is what :func:`course.grading.calls_through` uses while a test cell
runs here.  Nothing the kernel sends is trusted: every message is checked
(:mod:`backprop_agent.wire`), every reply bounded in size and time.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import importlib
import inspect
import socket
import sys
import threading
import time
import types

import numpy as np

from backprop_agent import wire
from backprop_agent.budget import Budget
from backprop_agent.changes import apply_changes, changes_of, snapshot
from backprop_agent.channel import Broken, Channel
from course import grading, variant_tables
from course.grading import StudentError

from . import capture

#: With BACKPROP_LIBRARY_STATS set: how often each course function was called back.
STATS = (
    __import__("collections").Counter()
    if __import__("os").environ.get("BACKPROP_LIBRARY_STATS")
    else None
)

#: ``__name__`` of the namespace in which the grader re-creates a notebook's locked cells.
NOTEBOOK_MODULE = "__notebook__"

#: Seconds a request may take beyond its budget before the kernel counts as gone.
GRACE = 3.0

#: The largest reply read from the kernel.  A student's value that large (e.g. a forward
#: pass returning a 250 MiB array) is refused from its length, before it is read.
MAX_REPLY_BYTES = 64 * 2**20

#: The modules of the course library a grading kernel may import, whose public
#: functions run here for it.  Everything of ``course.checks`` is importable too (the
#: notebooks' setup cells import it) but gives the kernel only the constants a module
#: lists in ``KERNEL_NAMES``.
STUDENT_MODULES = (
    "course",
    "course.activations",
    "course.losses",
    "course.layers",
    "course.network",
    "course.lecture",
    "course.training",
    "course.data",
    "course.gradcheck",
    "course.graph",
    "course.flow",
    "course.widgets",
    "course.grading",
    "course.variants",
)
CHECKS = "course.checks"

#: Course functions that change their arguments in place: the kernel's objects get the
#: same changes (the student's own params dict is updated, as in their JupyterLab).
MUTATES = ("course.training.train", "course.training.sgd_step")


class KernelGone(StudentError):
    """The kernel stopped answering (crashed, killed, or its agent was disabled)."""

    def __init__(self, detail=""):
        super().__init__(
            "KernelGone",
            "your kernel stopped answering (it crashed, ran out of memory or time, or the "
            "code that answers the grader was disabled)" + (f": {detail}" if detail else ""),
        )


class CallTimedOut(StudentError):
    """A call ran past its budget and was stopped."""

    def __init__(self, seconds):
        super().__init__("TimeoutError", f"it did not finish within {seconds:.3g} s")
        self.seconds = seconds
        self.timed_out = True

    def describe(self, name):
        return f"{name} did not finish within {self.seconds:.3g} s and was stopped."


class CallbackTimeout(BaseException):
    """Raised in the grader's thread when a course function the kernel called runs too long."""


class Handle:
    """A student's object kept in the kernel: call it, read or set its attributes, pass it back.

    Every operation is one request to the kernel, on the conversation this thread serves
    (so a handle used inside a course function the kernel called answers in order).
    """

    __slots__ = ("_session", "_id", "_type", "_name", "_callable", "__weakref__")

    def __init__(self, session, handle_id, type_name="object", name=None, is_callable=False):
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_id", handle_id)
        object.__setattr__(self, "_type", type_name)
        object.__setattr__(self, "_name", name or type_name)
        object.__setattr__(self, "_callable", is_callable)

    @property
    def __name__(self):
        return self._name

    def __repr__(self):
        return f"<{self._name}: a {self._type} in the student's kernel>"

    def __call__(self, *args, **kwargs):
        return self._session.call(self, args, kwargs, in_place=_IN_PLACE.get())

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self._session.getattr(self, name)

    def __setattr__(self, name, value):
        self._session.setattr(self, name, value)


def _involves_handles(fn, args, kwargs):
    if isinstance(fn, Handle):
        return True
    stack = [*args, *kwargs.values()]
    while stack:
        item = stack.pop()
        if isinstance(item, Handle):
            return True
        if isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
    return False


# -- the course library, served to the kernel ---------------------------------------------------

_RECORDING = contextvars.ContextVar("backprop_library_recording", default=None)
#: Inside a check's driver called with in_place=True: the handles it calls mirror the
#: changes the student's code makes to their arguments, as the driver's own call would.
_IN_PLACE = contextvars.ContextVar("backprop_in_place", default=False)
_OVERRIDES = contextvars.ContextVar("backprop_library_overrides", default=None)


def _is_course_object(obj):
    module = getattr(obj, "__module__", None) or ""
    return module == "course" or module.startswith("course.")


def _course_owned(obj):
    """Whether `obj` is the course's own: a course function or class, an instance of a
    course class, or a method bound to one (what the kernel may use of the grader's)."""
    if isinstance(obj, types.MethodType):
        return _course_owned(obj.__self__)
    return _is_course_object(obj) or _is_course_object(type(obj))


def public_path(obj):
    """``module.name`` when `obj` is a public function or class of a student-facing
    module (what the kernel may call by name), else None."""
    module = getattr(obj, "__module__", None)
    name = getattr(obj, "__name__", None)
    if module not in STUDENT_MODULES or not isinstance(name, str) or name.startswith("_"):
        return None
    found = getattr(sys.modules.get(module), name, None)
    return f"{module}.{name}" if found is obj else None


class _NotData(Exception):
    pass


class _ArgRef:
    """In a course function's result: the kernel's own argument `index` (returned as is)."""

    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index


def _aliases(value, args):
    """`value` with the caller's own argument objects (dicts, lists) marked as such."""
    ids = {id(a): i for i, a in enumerate(args) if type(a) in (dict, list)}
    if not ids:
        return value
    if id(value) in ids:
        return _ArgRef(ids[id(value)])
    if type(value) is tuple:
        return tuple(_ArgRef(ids[id(v)]) if id(v) in ids else v for v in value)
    return value


def _local_names():
    """The course objects a kernel computes itself (``$local``: :mod:`backprop_agent.elementwise`)."""
    from backprop_agent import elementwise
    from course import activations

    found = {}
    for name in elementwise.NAMES:
        if name.startswith("ACTIVATIONS."):
            found[name] = activations.ACTIVATIONS[name.split(".", 1)[1]]
        else:
            found[name] = getattr(activations, name)
    return found


_LOCAL = _local_names()
_LOCAL_IDS = {id(v): k for k, v in _LOCAL.items() if not isinstance(v, dict)}


_PROPERTIES = {}


def _properties(cls):
    """The public properties of class `cls` (cached: records are sent often)."""
    if cls not in _PROPERTIES:
        _PROPERTIES[cls] = [
            name
            for name, attr in inspect.getmembers(cls)
            if isinstance(attr, property) and not name.startswith("_")
        ]
    return _PROPERTIES[cls]


def _data_only(obj):
    raise _NotData(type(obj).__name__)


class Library:
    """The course functions a grading kernel calls, run here on plain data.

    One per session.  Objects it hands the kernel that are not data (a generator, a
    figure, a function a check provides) are kept in :attr:`objects` until the kernel
    lets them go.
    """

    def __init__(self, session):
        self.session = session
        self.objects = {}
        self.shared = {}
        self.pinned = set()
        self.next_id = 1

    # -- what the checks use ------------------------------------------------------------

    @staticmethod
    @contextlib.contextmanager
    def recording():
        """Collect the paths of the course functions the kernel calls (for a check)."""
        found = set()
        token = _RECORDING.set(found)
        try:
            yield found
        finally:
            _RECORDING.reset(token)

    @staticmethod
    @contextlib.contextmanager
    def replacing(path, replacement):
        """Serve the kernel's calls of course function `path` with `replacement` (a spy)."""
        token = _OVERRIDES.set({**(_OVERRIDES.get() or {}), path: replacement})
        try:
            yield
        finally:
            _OVERRIDES.reset(token)

    def keep(self, obj, shared=False):
        """An id for `obj` in :attr:`objects`; with `shared`, the same id every time (a
        function sent again and again), kept for the session."""
        if shared and id(obj) in self.shared:
            return self.shared[id(obj)]
        if len(self.objects) >= 100_000:
            raise wire.WireError("the kernel holds too many of the grader's objects")
        gid = self.next_id
        self.next_id += 1
        self.objects[gid] = obj
        if shared:
            self.shared[id(obj)] = gid
            self.pinned.add(gid)
        return gid

    # -- encoding for the kernel --------------------------------------------------------

    def granted(self, obj):
        """Encode `obj` (not data) as the check hands it to the kernel: a function by id."""
        return self._reference(obj, by_path=False)

    def result(self, obj):
        """Encode `obj` (not data) as a course function's result: course functions by path."""
        return self._reference(obj, by_path=True)

    def _reference(self, obj, by_path):
        if isinstance(obj, _ArgRef):
            return {"$arg": obj.index}
        if isinstance(obj, Handle):
            if obj._session is not self.session:
                raise TypeError("a handle of another kernel")
            return {"$h": obj._id}
        if isinstance(obj, np.random.Generator):
            return wire.rng_reference(obj)
        local = _LOCAL_IDS.get(id(obj))
        if local is not None and _LOCAL[local] is obj:
            return {"$local": local}
        if isinstance(obj, types.ModuleType):
            if obj.__name__ in STUDENT_MODULES:
                return {"$d": [["$module", obj.__name__]]}
            # never a handle on another module (os, json, numpy, course.variant_tables):
            # its attributes would run anything in the grader
            raise wire.WireError(f"the module {obj.__name__} is not the kernel's to use")
        if callable(obj) and getattr(obj, "__module__", None) == NOTEBOOK_MODULE:
            name = getattr(obj, "__qualname__", "")
            if name and "." not in name:
                return {"$g": name}  # a locked cell's function: the kernel's own
        record = self._record(obj)
        if record is not None:
            return record
        name = getattr(obj, "__name__", None) or type(obj).__name__
        if inspect.isroutine(obj) or isinstance(obj, type):
            path = public_path(obj) if by_path else None
            target = {"path": path} if path else {"id": self.keep(obj, shared=True)}
            module = getattr(obj, "__module__", None) or "course"
            return {"$c": {"target": target, "name": str(name)[:100], "module": str(module)}}
        return {"$o": {"id": self.keep(obj), "type": type(obj).__name__}}

    def _record(self, obj):
        """A course dataclass as a record: its fields (functions in them as functions of
        the grader, other objects as objects of the grader) and its properties' values."""
        cls = type(obj)
        if not (dataclasses.is_dataclass(obj) and not isinstance(obj, type)):
            return None
        if not _is_course_object(cls):
            return None
        fields = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
        extra = {}
        for name in _properties(cls):
            with contextlib.suppress(Exception):
                extra[name] = getattr(obj, name)
        body = {"type": f"{cls.__module__}.{cls.__qualname__}", "fields": fields, "extra": extra}
        if "__call__" in vars(cls):
            body["callable"] = True
        return wire.Nested("$rec", body)

    # -- decoding what the kernel sends -------------------------------------------------

    def resolve(self, tag):
        ((kind, body),) = tag.items()
        if kind == "$h":
            return self.session.handle_from(body)
        if kind == "$rng":
            return wire.rng_from_reference(body)
        if kind == "$c":
            target = body.get("target") if type(body) is dict else None
            return self._target(target)
        if kind == "$o":
            gid = body.get("id") if type(body) is dict else None
            if type(gid) is not int or gid not in self.objects:
                raise wire.WireError("an unknown object of the grader")
            return self.objects[gid]
        if kind == "$rec":
            return self._rebuild(body)
        if kind == "$local":
            if not isinstance(body, str) or body not in _LOCAL:
                raise wire.WireError(f"no local function {body!r}")
            return _LOCAL[body]
        raise wire.WireError(f"a reference the grader does not take: {kind}")

    @staticmethod
    def _record_type(kind):
        if not isinstance(kind, str) or "." not in kind:
            raise wire.WireError("a malformed record")
        module, _, name = kind.rpartition(".")
        if module not in STUDENT_MODULES or name.startswith("_"):
            raise wire.WireError(f"a record of an unknown type {kind}")
        cls = getattr(sys.modules.get(module) or importlib.import_module(module), name, None)
        if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
            raise wire.WireError(f"a record of an unknown type {kind}")
        return cls

    def _rebuild(self, body):
        kind = body.get("type") if type(body) is dict else None
        fields = body.get("fields") if type(body) is dict else None
        if type(fields) is not dict:
            raise wire.WireError("a malformed record")
        cls = self._record_type(kind)
        known = {f.name for f in dataclasses.fields(cls) if f.init}
        try:
            return cls(**{k: v for k, v in fields.items() if k in known})
        except (TypeError, ValueError) as exc:
            raise wire.WireError(f"a record that does not fit {kind}: {exc}") from None

    def _target(self, target):
        """The grader's function a ``$c`` target names (a course path or a kept id)."""
        if type(target) is not dict:
            raise wire.WireError("a malformed function reference")
        if "record_call" in target:
            cls = self._record_type(target["record_call"])
            return lambda obj, *args, **kwargs: cls.__call__(obj, *args, **kwargs)
        if "id" in target:
            gid = target["id"]
            if type(gid) is not int or gid not in self.objects:
                raise wire.WireError("an unknown function of the grader")
            return self.objects[gid]
        path = target.get("path")
        if not isinstance(path, str) or "." not in path:
            raise wire.WireError("a malformed function reference")
        module, _, name = path.rpartition(".")
        fn = self._attribute(module, name)
        # Only a public function or class of the course, by its own name: a name that
        # reaches it another way (a re-export, ``course.flow.softmax_cross_entropy``) is
        # recorded, spied on and judged as the function it is (public_path), and a
        # name for anything else a course module imported (``pathlib.Path``...) is refused.
        if not callable(fn) or public_path(fn) is None:
            raise wire.WireError(f"{path} is not a function of the course")
        return fn

    @staticmethod
    def _attribute(module, name):
        if module not in STUDENT_MODULES or name.startswith("_"):
            raise wire.WireError(f"{module}.{name} is not a function the kernel may call")
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            raise wire.WireError(f"{module}.{name} does not exist") from None

    # -- the kernel's requests ----------------------------------------------------------

    def serve(self, header, blobs):
        """Answer one request of the kernel (``import``, ``names``, ``attr``, ``lib``, ``obj``)."""
        released = header.get("release")
        for gid in released[:10000] if isinstance(released, list) else []:
            if gid not in self.pinned:
                self.objects.pop(gid, None)
        op = header.get("op")
        if op == "import":
            return self._value(self._import(header.get("module")))
        if op == "names":
            return self._value(self._names(header.get("module")))
        if op == "attr":
            return self._attr(header.get("module"), header.get("name"))
        if op in ("lib", "obj"):
            return self._run(op, header, blobs)
        raise ValueError(f"unknown request {op!r}")

    def _value(self, value, extra=None):
        tree, blobs = wire.encode(value, self.result)
        return {"value": tree, **(extra or {})}, blobs

    @staticmethod
    def _import(module):
        if not isinstance(module, str):
            return {"exists": False}
        if module in STUDENT_MODULES:
            mod = importlib.import_module(module)
            return {"exists": True, "package": hasattr(mod, "__path__")}
        if module == CHECKS or module.startswith(CHECKS + "."):
            if any(part.startswith("_") for part in module.split(".")):
                return {"exists": False}
            try:
                mod = importlib.import_module(module)
            except ImportError:
                return {"exists": False}
            return {"exists": True, "package": hasattr(mod, "__path__")}
        return {"exists": False}

    @staticmethod
    def _names(module):
        if module in STUDENT_MODULES:
            mod = importlib.import_module(module)
            names = getattr(mod, "__all__", None) or [n for n in vars(mod) if not n.startswith("_")]
            return [n for n in names if isinstance(n, str)]
        if isinstance(module, str) and module.startswith(CHECKS):
            mod = sys.modules.get(module)
            return list(getattr(mod, "KERNEL_NAMES", ()))
        return []

    def _attr(self, module, name):
        if not isinstance(module, str) or not isinstance(name, str):
            raise ValueError("attr needs a module and a name")
        if module in STUDENT_MODULES and not name.startswith("_"):
            mod = importlib.import_module(module)
            sub = f"{module}.{name}"
            if sub in STUDENT_MODULES or (module == "course" and name == "checks"):
                return self._value({"$module": sub})
            value = getattr(mod, name, None)
            if isinstance(value, types.ModuleType) or (
                callable(value) and not _is_course_object(value)
            ):  # what a course module imported (os, np, json...) is not the course's API
                return {
                    "error": {
                        "type": "AttributeError",
                        "message": f"{module}.{name} is not available in the grading kernel",
                    }
                }, []
            if not hasattr(mod, name):
                return {
                    "error": {
                        "type": "AttributeError",
                        "message": f"module {module!r} has no attribute {name!r}",
                    }
                }, []
            return self._value(getattr(mod, name))
        if module == CHECKS or module.startswith(CHECKS + "."):
            sub = f"{module}.{name}"
            if self._import(sub).get("exists"):
                return self._value({"$module": sub})
            mod = importlib.import_module(module)
            if name in getattr(mod, "KERNEL_NAMES", ()):
                value = getattr(mod, name)
                try:
                    tree, blobs = wire.encode(value, _data_only)
                except _NotData:
                    pass
                else:
                    return {"value": tree}, blobs
            return {
                "error": {
                    "type": "AttributeError",
                    "message": f"{module}.{name} is not available in the grading kernel: the "
                    "tests run in the grader, and the checks' code is not yours to call",
                }
            }, []
        return {"error": {"type": "AttributeError", "message": f"no module {module!r}"}}, []

    def _run(self, op, header, blobs):
        """Run a course function (``lib``) or use one of the grader's objects (``obj``)."""
        session = self.session
        rngs, args, kwargs, snaps = [], [], {}, None
        try:
            dec = wire.Decoder(blobs, lambda tag: self._resolve_noting(tag, rngs))
            if op == "lib":
                work, args, kwargs, snaps = self._library_work(dec, header)
            else:
                work = self._object_work(dec, header)
        except wire.WireError as exc:
            return {
                "error": {"type": "TypeError", "message": f"the grader cannot take it: {exc}"}
            }, []
        out, shown = capture.Buffer(), []
        budget = Budget(threading.get_ident(), session.time_left(), CallbackTimeout)
        try:
            with capture.output(out), capture.displays(shown), grading.quiet():
                value = work()
        except budget.exc:
            message = "it ran past the time limit of the call it belongs to"
            return {"error": {"type": "TimeoutError", "message": message}, "timeout": True}, []
        except Broken:
            raise
        except StudentError as exc:
            return {"error": {"type": exc.type_name, "message": exc.message}, "out": out.text()}, []
        except Exception as exc:  # noqa: BLE001 - a course function's error, as data
            return {
                "error": {"type": type(exc).__name__, "message": str(exc)[:2000]},
                "out": out.text(),
            }, []
        finally:
            budget.stop()
        try:
            enc = wire.Encoder(self.result)
            reply = {"value": enc.encode(_aliases(value, args)), "out": out.text()}
            if snaps is not None:
                reply["changes"] = enc.encode(changes_of(snaps, args, kwargs))
        except wire.WireError as exc:
            return {"error": {"type": "ValueError", "message": str(exc)}}, []
        reply["display"] = shown
        reply["rngs"] = [[slot, wire.rng_state(g.bit_generator.state)] for slot, g in rngs]
        return reply, enc.blobs

    def _library_work(self, dec, header):
        """(work, args, kwargs, snapshots) of a call of a course function: its target
        (noted when recording, replaced when overridden), its decoded arguments, and
        their snapshots when the function changes them in place (None otherwise).

        Raises
        ------
        wire.WireError
            Arguments that are not a list and a dict of named values.
        """
        fn = self._target(header.get("target"))
        if STATS is not None:
            STATS[str(getattr(fn, "__qualname__", fn))] += 1
        by_path = isinstance(header.get("target"), dict) and "path" in header["target"]
        path = public_path(fn) if by_path else None
        if path:
            recording = _RECORDING.get()
            if recording is not None:
                recording.add(path)
            fn = (_OVERRIDES.get() or {}).get(path, fn)
        args = dec.decode(header.get("args"))
        kwargs = dec.decode(header.get("kwargs"))
        if type(args) is not list or type(kwargs) is not dict:
            raise wire.WireError("malformed arguments")
        if not all(isinstance(k, str) for k in kwargs):
            raise wire.WireError("keyword arguments must have names")
        snaps = snapshot(args, kwargs) if path in MUTATES else None
        return (lambda: fn(*args, **kwargs)), args, kwargs, snaps

    def _resolve_noting(self, tag, rngs):
        """:meth:`resolve`, noting the kernel's random generators (their states go back)."""
        value = self.resolve(tag)
        body = tag.get("$rng")
        if isinstance(body, dict) and type(body.get("slot")) is int:
            rngs.append((body["slot"], value))
        return value

    def _object_work(self, dec, header):
        obj = dec.decode(header.get("target"))
        what = header.get("what")
        name = header.get("name")
        if what in ("getattr", "setattr", "call") and not _course_owned(obj):
            # a figure's savefig, a generator's frame, a builtin's module: the grader's
            # objects the kernel may use are the course's own, and nothing they lead to
            raise wire.WireError(f"a {type(obj).__name__} of the grader is not the kernel's to use")
        if what in ("getattr", "setattr"):
            if not isinstance(name, str) or name.startswith("_"):
                raise wire.WireError("attributes starting with _ are not shared")
            if what == "getattr":
                return lambda: getattr(obj, name)
            value = dec.decode(header.get("value"))
            return lambda: setattr(obj, name, value)
        if what == "call":
            args, kwargs = dec.decode(header.get("args")), dec.decode(header.get("kwargs"))
            if type(args) is not list or type(kwargs) is not dict:
                raise wire.WireError("malformed arguments")
            return lambda: obj(*args, **kwargs)
        if what == "getitem":
            key = dec.decode(header.get("key"))
            return lambda: obj[key]
        simple = {
            "iter": lambda: iter(obj),
            "next": lambda: _next(obj),
            "len": lambda: len(obj),
            "bool": lambda: bool(obj),
            "repr": lambda: repr(obj),
            "str": lambda: str(obj),
            "mime": lambda: capture.mime_bundle(obj),
        }
        if what not in simple:
            raise wire.WireError(f"unknown object request {what!r}")
        return simple[what]


def _next(iterator):
    try:
        return (False, next(iterator))
    except StopIteration:
        return (True, None)


# -- the session -------------------------------------------------------------------------------


class Session:
    """The grader's connection to the agent of one sandboxed kernel.

    Parameters
    ----------
    path : str
        The agent's Unix socket, as the grader reaches it.
    call_timeout : float
        Default budget of one request, in seconds.
    """

    def __init__(self, path=None, call_timeout=60.0, connect_timeout=15.0, socks=None):
        self.path = path
        self.call_timeout = float(call_timeout)
        #: Monotonic time by which the current test cell must end (its calls are cut there).
        self.deadline = None
        #: Monotonic time by which the kernel's current cell must end (for its library calls).
        self.cell_deadline = None
        self.broken = ""
        #: assignment -> course.variants.Assigned of the submission graded (the grader's).
        self.variants = {}
        self.library = Library(self)
        self.lock = threading.RLock()
        self._serving = threading.local()
        self.calls = self.lib = None
        capture.install()
        socks = socks or self._connect(path, connect_timeout)
        if socks is None:
            return
        calls, lib = socks
        self.calls = Channel(calls, self._serve_library, MAX_REPLY_BYTES, (CallbackTimeout,))
        self.lib = Channel(lib, self._serve_library, MAX_REPLY_BYTES, (CallbackTimeout,))
        self._thread = threading.Thread(target=self._serve_lib, daemon=True)
        self._thread.start()

    def _connect(self, path, timeout):
        end = time.monotonic() + timeout
        socks = []
        for role in ("calls", "library"):
            while True:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sock.connect(path)
                    hello = {"op": "hello", "role": role, "max_bytes": MAX_REPLY_BYTES}
                    sock.sendall(wire.pack(hello))
                    socks.append(sock)
                    break
                except OSError as exc:
                    sock.close()
                    if time.monotonic() > end:
                        self.broken = f"no agent at {path}: {exc}"
                        for s in socks:
                            s.close()
                        return None
                    time.sleep(0.02)
        return socks

    @property
    def requests(self):
        """Round trips the grader asked for so far."""
        return sum(c.requests for c in (self.calls, self.lib) if c is not None)

    def close(self):
        for channel in (self.calls, self.lib):
            if channel is not None:
                channel.close()

    def time_left(self):
        """Seconds the work in progress may still take: the request this thread waits for
        (a timed call's budget), else the test cell's or the kernel cell's time."""
        stack = getattr(self._serving, "deadlines", None)
        if stack:
            return max(0.05, stack[-1] - time.monotonic())
        ends = [d for d in (self.deadline, self.cell_deadline) if d is not None]
        if self._channel() is self.calls and self.deadline is not None:
            ends = [self.deadline]
        if not ends:
            return self.call_timeout
        return max(0.05, min(ends) - time.monotonic())

    # -- the library conversation (the kernel asks, this thread answers) ------------------

    def _serve_lib(self):
        channel = self.lib
        self._serving.channel = channel
        while not channel.broken:
            try:
                msg, blobs = channel._recv(None)
            except Broken:
                return
            if type(msg.get("id")) is not int or not isinstance(msg.get("op"), str):
                channel.close("a message that is not a request")
                return
            with self.lock:
                try:
                    channel.serve_one(msg, blobs)
                except Broken:
                    return

    def _serve_library(self, header, blobs):
        # the kernel's course calls (variants.mine...) see the submission's variant
        with variant_tables.grading_as(self.variants):
            return self.library.serve(header, blobs)

    def _channel(self):
        return getattr(self._serving, "channel", None) or self.calls

    # -- requests to the kernel -------------------------------------------------------

    def _request(self, header, encoder=None, budget=None):
        channel = self._channel()
        if channel is None or self.broken:
            raise KernelGone(self.broken)
        limit = self.time_left() if budget is None else min(float(budget), self.time_left())
        header = {**header, "budget": limit}
        blobs = encoder.blobs if encoder is not None else []
        with self.lock:
            try:
                reply, reply_blobs = channel.request(
                    header, blobs, time.monotonic() + limit + GRACE
                )
            except Broken as exc:
                self.broken = str(exc)
                self.close()
                raise KernelGone(self.broken) from None
            except (wire.WireError, TypeError, ValueError) as exc:
                raise StudentError("GradingError", f"the grader could not send it: {exc}") from None
        if "fault" in reply:
            fault = str(reply["fault"])
            if "over the limit" in fault:
                raise StudentError(
                    "ValueError",
                    f"what it returned is larger than the grader takes "
                    f"({MAX_REPLY_BYTES // 2**20} MB): {fault}",
                )
            raise StudentError("GradingError", f"the kernel could not run it: {fault}")
        return reply, reply_blobs

    def _decode(self, tree, blobs):
        try:
            return wire.decode(tree, blobs, self.library.resolve)
        except wire.WireError as exc:
            raise StudentError(
                "GradingError", f"the kernel sent something that is not data: {exc}"
            ) from None

    def handle_from(self, body):
        if type(body) is not dict or type(body.get("id")) is not int:
            raise wire.WireError("malformed handle")
        name, type_name = body.get("name"), body.get("type")
        return Handle(
            self,
            body["id"],
            type_name[:100] if isinstance(type_name, str) else "object",
            name[:100] if isinstance(name, str) else None,
            body.get("callable") is True,
        )

    def _encoder(self):
        return wire.Encoder(self.library.granted)

    def lookup(self, name):
        """The value of `name` in the student's namespace; KeyError when it is not there."""
        reply, blobs = self._request({"op": "get", "name": name})
        if reply.get("missing"):
            raise KeyError(name)
        return self._decode(reply.get("value"), blobs)

    def names(self):
        """Public names of the student's namespace."""
        reply, _ = self._request({"op": "names"})
        names = reply.get("names")
        return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []

    def bind(self, name, value):
        """Set `name` in the student's namespace; returns a function that puts back what was there."""
        enc = self._encoder()
        reply, blobs = self._request({"op": "bind", "name": name, "value": enc.encode(value)}, enc)
        if reply.get("missing"):
            return lambda: self._request({"op": "bind", "name": name, "delete": True})
        previous = self._decode(reply.get("previous"), blobs)

        def restore():
            enc = self._encoder()
            self._request({"op": "bind", "name": name, "value": enc.encode(previous)}, enc)

        return restore

    def _guarded(self, op, target, payload, budget=None):
        enc = self._encoder()
        header = {"op": op, "target": enc.encode(target), "strict": grading.is_strict()}
        for key, value in payload.items():
            header[key] = enc.encode(value) if key in ("argsets", "value") else value
        start = time.perf_counter()
        reply, blobs = self._request(header, enc, budget)
        seconds = time.perf_counter() - start
        out = reply.get("out")
        grading._echo(out if isinstance(out, str) else "")
        if reply.get("timeout"):
            raise CallTimedOut(self.time_left() if budget is None else float(budget))
        error = reply.get("error")
        if isinstance(error, dict):
            frames = error.get("frames") if isinstance(error.get("frames"), list) else []
            raise StudentError(
                str(error.get("type", "Error"))[:100],
                str(error.get("message", ""))[:2000],
                [tuple(f) for f in frames if isinstance(f, list) and len(f) == 4][-3:],
            )
        payload = self._decode(reply.get("value"), blobs)
        if not isinstance(payload, dict) or not isinstance(payload.get("values"), list):
            raise StudentError("GradingError", "the kernel's answer has the wrong form")
        return payload["values"], payload.get("changes") or [], seconds

    def getattr(self, handle, name):
        values, _, _ = self._guarded("getattr", handle, {"name": name})
        return values[0] if values else None

    def setattr(self, handle, name, value):
        self._guarded("setattr", handle, {"name": name, "value": value})

    def _run(self, fn, argsets, budget=None, in_place=False):
        sets = [[list(args), dict(kwargs)] for args, kwargs in argsets]
        values, changes, seconds = self._guarded(
            "call", fn, {"argsets": sets, "in_place": in_place}, budget
        )
        if len(values) != len(argsets):
            raise StudentError("GradingError", "the kernel answered a different number of calls")
        if in_place:
            for (args, kwargs), found in zip(argsets, changes, strict=False):
                apply_changes(args, kwargs, found)
        return values, seconds

    def call(self, fn, args, kwargs, in_place=False):
        return self._run(fn, [(tuple(args), dict(kwargs))], in_place=in_place)[0][0]

    def call_each(self, fn, argsets, in_place=False):
        return self._run(fn, argsets, in_place=in_place)[0]

    def call_timed(self, fn, args, kwargs, budget, in_place=False):
        values, seconds = self._run(fn, [(tuple(args), dict(kwargs))], budget, in_place)
        return values[0], seconds


class SessionBackend:
    """How :mod:`course.grading` calls student code while a test cell runs in the grader.

    A :class:`Handle` is called in the kernel; anything else is a check's driver (given
    handles), which runs here, in this thread, and drives them.
    """

    def __init__(self, session):
        self.session = session

    @staticmethod
    def _driver(fn, args, kwargs, in_place=False):
        token = _IN_PLACE.set(in_place)
        try:
            with grading._floating():
                return fn(*args, **kwargs)
        except (grading.GradingFailure, StudentError, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - a driver tripped over the student's object
            raise StudentError.from_exception(exc) from None
        finally:
            _IN_PLACE.reset(token)

    def call(self, fn, args, kwargs, in_place=False):
        if isinstance(fn, Handle):
            return self.session.call(fn, args, kwargs, in_place)
        return self._driver(fn, args, kwargs, in_place)

    def call_each(self, fn, argsets, in_place=False):
        if isinstance(fn, Handle):
            return self.session.call_each(fn, argsets, in_place)
        return [self._driver(fn, a, k, in_place) for a, k in argsets]

    def call_timed(self, fn, args, kwargs, budget, in_place=False):
        if isinstance(fn, Handle):
            return self.session.call_timed(fn, args, kwargs, budget, in_place)
        start = time.perf_counter()
        value = self._driver(fn, args, kwargs, in_place)
        return value, time.perf_counter() - start

    def private(self, fn, args, kwargs):
        """Arguments as the call should see them: copies for a driver run here."""
        if isinstance(fn, Handle):
            return args, kwargs  # the wire copies them
        return grading._private(args), grading._private(kwargs)

    def replacing(self, path, replacement, fn=None):
        return Library.replacing(path, replacement)

    def recording(self):
        return Library.recording()

    def bind(self, fn, name, value):
        """Bind `name` to `value` in the student's namespace, for a while."""
        if not isinstance(fn, Handle):
            return grading.LOCAL.bind(fn, name, value)
        return _bound(self.session, name, value)


@contextlib.contextmanager
def _bound(session, name, value):
    restore = session.bind(name, value)
    try:
        yield
    finally:
        with contextlib.suppress(StudentError):
            restore()
