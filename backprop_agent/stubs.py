"""What ``import course`` gives inside a grading kernel: stubs whose work is the grader's.

No code of the ``course`` package exists in a grading kernel.  :func:`install` puts a
finder first on ``sys.meta_path`` that answers every ``course`` module with a
:class:`CourseModule`: reading one of its names asks the grader, which answers with plain
data (a constant), a :class:`CourseFunction` (a function that runs in the grader), a
record (a course dataclass of plain data, rebuilt here as a dataclass) or a
:class:`GraderObject` (anything else, e.g. a generator or a figure: its attributes,
calls and iteration go to the grader too).  Calling a course function sends the arguments
to the grader as plain data (the student's own objects as handles), and what it prints or
displays there comes back and is printed or displayed here.

The same stubs stand in for a function a check hands to the student's code (a recording
``grad_fn``, the reference forward pass a check binds in the student's namespace).
Which course functions exist, and which of them the kernel may call at all (the
graders' references may not), is the grader's decision: this module only asks.
"""

from __future__ import annotations

import builtins
import dataclasses
import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import weakref

from . import elementwise, wire
from .changes import apply_changes

#: The package the stubs stand in for.
PACKAGE = "course"


class CourseError(Exception):
    """An exception a course function raised in the grader, of a type not built in."""


#: Exceptions a course function may raise here by their own type.
_BUILTIN_ERRORS = {
    name: getattr(builtins, name)
    for name in (
        "ValueError",
        "TypeError",
        "KeyError",
        "IndexError",
        "AttributeError",
        "ZeroDivisionError",
        "FloatingPointError",
        "OverflowError",
        "NotImplementedError",
        "RuntimeError",
        "AssertionError",
        "LookupError",
        "ArithmeticError",
        "StopIteration",
        "ImportError",
        "ModuleNotFoundError",
        "MemoryError",
        "TimeoutError",
    )
}


def _raise(error):
    kind = error.get("type") if isinstance(error, dict) else None
    message = str(error.get("message", "")) if isinstance(error, dict) else str(error)
    cls = _BUILTIN_ERRORS.get(kind)
    if cls is None:
        raise CourseError(f"{kind}: {message}" if kind else message)
    if cls is KeyError:
        raise KeyError(message.strip("'\""))
    raise cls(message)


def _show(reply):
    """Print and display what the grader's side printed and displayed."""
    out = reply.get("out")
    if isinstance(out, str) and out:
        sys.stdout.write(out)
    shown = reply.get("display")
    if isinstance(shown, list) and shown:
        try:
            from IPython.display import display
        except ImportError:
            return
        for item in shown[:20]:
            if isinstance(item, dict) and isinstance(item.get("data"), dict):
                meta = item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
                display(item["data"], metadata=meta, raw=True)


def ask(agent, op, payload, values=()):
    """One request to the grader; the decoded ``value`` of its answer.

    The entries of `payload` named in `values` are encoded as values (the student's
    objects in them travel as handles, random generators by their state, which comes
    back advanced); the others go as they are.
    """
    if agent is None:
        raise ImportError("the course library is not available: no grader is connected")
    rngs = []
    enc = agent.encoder(rngs)
    header = {"op": op}
    for key, value in payload.items():
        header[key] = enc.encode(value) if key in values else value
    reply, reply_blobs = agent.ask_grader(header, enc.blobs)
    if "fault" in reply:
        raise CourseError(f"the grader could not answer: {reply['fault']}")
    _advance(rngs, reply.get("rngs"))
    _show(reply)
    if reply.get("timeout"):  # the call this one belongs to ran out of time: stop it
        from .agent import GraderTimeout

        raise GraderTimeout()
    if "error" in reply:
        _raise(reply["error"])
    args = payload.get("args") if isinstance(payload.get("args"), list) else []
    kwargs = payload.get("kwargs") if isinstance(payload.get("kwargs"), dict) else {}

    def resolve(tag):
        if "$arg" in tag:
            index = tag["$arg"]
            if type(index) is not int or not 0 <= index < len(args):
                raise wire.WireError("a reference to an argument that was not given")
            return args[index]
        return agent.resolve(tag)

    dec = wire.Decoder(reply_blobs, resolve)
    if reply.get("changes"):  # what the course function did to our arguments in place
        apply_changes(args, kwargs, dec.decode(reply["changes"]))
    return dec.decode(reply.get("value"))


def _advance(rngs, states):
    """Put the states the grader's copies of our random generators ended in into ours."""
    if not isinstance(states, list):
        return
    for item in states[: len(rngs)]:
        if isinstance(item, list) and len(item) == 2 and type(item[0]) is int:
            slot, state = item
            if 0 <= slot < len(rngs):
                try:
                    rngs[slot].bit_generator.state = wire.rng_state_back(state)
                except (TypeError, ValueError, KeyError, wire.WireError):
                    pass


# -- functions and objects of the grader ---------------------------------------------------


class CourseFunction:
    """A function that runs in the grader (a course function, or one a check provides)."""

    def __init__(self, agent, target, name=None, module=None):
        self._agent = agent
        self._target = target
        self.__name__ = name or "function"
        self.__qualname__ = self.__name__
        self.__module__ = module or PACKAGE

    def __call__(self, *args, **kwargs):
        payload = {"target": self._target, "args": list(args), "kwargs": kwargs}
        return ask(self._agent, "lib", payload, ("args", "kwargs"))

    def __repr__(self):
        where = f"{self.__module__}.{self.__name__}"
        return f"<function {where} (runs in the grader)>"


class GraderObject:
    """An object that lives in the grader; what you do with it is done there."""

    __slots__ = ("_agent", "_gid", "_type", "__weakref__")

    def __init__(self, agent, gid, type_name):
        object.__setattr__(self, "_agent", agent)
        object.__setattr__(self, "_gid", gid)
        object.__setattr__(self, "_type", type_name)
        weakref.finalize(self, agent.released.append, gid)

    def _ask(self, what, **payload):
        values = tuple(k for k in ("args", "kwargs", "value", "key") if k in payload)
        payload = {"target": {"$o": {"id": self._gid}}, "what": what, **payload}
        return ask(self._agent, "obj", payload, values)

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self._ask("getattr", name=name)

    def __setattr__(self, name, value):
        self._ask("setattr", name=name, value=value)

    def __call__(self, *args, **kwargs):
        return self._ask("call", args=list(args), kwargs=kwargs)

    def __iter__(self):
        return self._ask("iter")

    def __next__(self):
        done, value = self._ask("next")
        if done:
            raise StopIteration
        return value

    def __len__(self):
        return self._ask("len")

    def __getitem__(self, key):
        return self._ask("getitem", key=key)

    def __bool__(self):
        return self._ask("bool")

    def __repr__(self):
        return self._ask("repr")

    def __str__(self):
        return self._ask("str")

    def _repr_mimebundle_(self, include=None, exclude=None):
        return self._ask("mime")


_RECORD_TYPES = {}


def _record_type(agent, type_name, names, is_callable):
    key = (id(agent), type_name, tuple(names), is_callable)
    if key not in _RECORD_TYPES:
        short = type_name.rsplit(".", 1)[-1]
        namespace = {}
        if is_callable:

            def __call__(self, *args, **kwargs):  # noqa: N807 - the record's own call
                payload = {"target": {"record_call": type_name}, "args": [self, *args]}
                return ask(agent, "lib", {**payload, "kwargs": kwargs}, ("args", "kwargs"))

            namespace["__call__"] = __call__
        cls = dataclasses.make_dataclass(
            short, [(n, object) for n in names], frozen=True, namespace=namespace
        )
        cls.__module__ = type_name.rsplit(".", 1)[0]
        cls.__record_of__ = type_name
        _RECORD_TYPES[key] = cls
    return _RECORD_TYPES[key]


def _record(agent, body):
    if type(body) is not dict or not isinstance(body.get("type"), str):
        raise wire.WireError("a malformed record")
    fields = body.get("fields")
    extra = body.get("extra") or {}
    if type(fields) is not dict or type(extra) is not dict:
        raise wire.WireError("a malformed record")
    cls = _record_type(agent, body["type"], list(fields), body.get("callable") is True)
    obj = cls(**fields)
    for name, value in extra.items():  # the class's properties, computed by the grader
        if isinstance(name, str) and name.isidentifier() and name not in fields:
            object.__setattr__(obj, name, value)
    return obj


def from_reference(agent, kind, body):
    """The object a grader's reference stands for (``$c``, ``$o``, ``$rec``)."""
    if kind == "$c":
        if type(body) is not dict or not isinstance(body.get("name"), str):
            raise wire.WireError("a malformed function reference")
        return CourseFunction(agent, body.get("target"), body["name"], body.get("module"))
    if kind == "$o":
        if type(body) is not dict or type(body.get("id")) is not int:
            raise wire.WireError("a malformed object reference")
        return GraderObject(agent, body["id"], str(body.get("type", "object")))
    if kind == "$rec":
        return _record(agent, body)
    if kind == "$local":
        if not isinstance(body, str) or body not in elementwise.NAMES:
            raise wire.WireError(f"no local function {body!r}")
        return elementwise.NAMES[body]
    raise wire.WireError(f"a reference the kernel does not take: {kind}")


def reference_of(obj, rngs=None):
    """The grader's reference for one of its own objects held here (or, with `rngs`, a
    random generator by its state, noted in `rngs`), else None."""
    import numpy as np

    local = elementwise.name_of(obj)
    if local is not None:
        return {"$local": local}
    if isinstance(obj, CourseFunction):
        return {"$c": {"target": obj._target}}
    if isinstance(obj, GraderObject):
        return {"$o": {"id": obj._gid}}
    record_of = getattr(type(obj), "__record_of__", None)
    if record_of and dataclasses.is_dataclass(obj):
        fields = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
        return wire.Nested("$rec", {"type": record_of, "fields": fields})
    if rngs is not None and isinstance(obj, np.random.Generator):
        ref = wire.rng_reference(obj)
        ref["$rng"]["slot"] = len(rngs)
        rngs.append(obj)
        return ref
    return None


# -- the modules -------------------------------------------------------------------------------


class CourseModule(types.ModuleType):
    """A module of the course library whose names are answered by the grader."""

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            if name == "__all__":
                value = ask(self.__agent, "names", {"module": self.__name__})
                self.__dict__["__all__"] = value
                return value
            raise AttributeError(name)
        value = ask(self.__agent, "attr", {"module": self.__name__, "name": name})
        if isinstance(value, dict) and set(value) == {"$module"}:
            value = self.__importer(value["$module"])
        self.__dict__[name] = value
        return value

    def __dir__(self):
        names = ask(self.__agent, "names", {"module": self.__name__})
        return sorted(set(self.__dict__) | set(names))

    def __repr__(self):
        return f"<module {self.__name__!r} (its functions run in the grader)>"


def _new_module(agent, name, package, importer):
    module = CourseModule(name)
    module.__dict__["_CourseModule__agent"] = agent
    module.__dict__["_CourseModule__importer"] = importer
    module.__file__ = None
    if package:
        module.__path__ = []
    return module


def _lookup(agent, fullname):
    found = ask(agent, "import", {"module": fullname})
    if not isinstance(found, dict) or not found.get("exists"):
        reason = found.get("reason") if isinstance(found, dict) else None
        raise ModuleNotFoundError(reason or f"No module named {fullname!r}", name=fullname)
    return bool(found.get("package"))


class _Loader(importlib.abc.Loader):
    def __init__(self, agent, package):
        self.agent = agent
        self.package = package

    def create_module(self, spec):
        return _new_module(self.agent, spec.name, self.package, importlib.import_module)

    def exec_module(self, module):
        pass


class CourseFinder(importlib.abc.MetaPathFinder):
    """Answers ``import course...`` with :class:`CourseModule` stubs, as the grader allows."""

    def __init__(self, agent):
        self.agent = agent

    def find_spec(self, fullname, path=None, target=None):
        if fullname != PACKAGE and not fullname.startswith(PACKAGE + "."):
            return None
        package = _lookup(self.agent, fullname)
        spec = importlib.machinery.ModuleSpec(
            fullname, _Loader(self.agent, package), is_package=package
        )
        if package:
            spec.submodule_search_locations = []
        return spec


def install(agent):
    """Make ``import course`` give the grader's stubs in this process (before any cell)."""
    for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
        del sys.modules[name]
    sys.meta_path.insert(0, CourseFinder(agent))


def importer(agent):
    """An ``__import__`` that gives the grader's stubs for ``course`` (``importlib``'s
    ``import_module`` too) and the usual modules otherwise, without touching
    ``sys.modules`` (for a namespace run in the grader's own process, as the course's fast
    test runner does: there, ``sys.modules`` itself still holds the real course)."""
    modules = {}
    real_import = builtins.__import__

    def module(name):
        if name not in modules:
            parent, _, leaf = name.rpartition(".")
            package = _lookup(agent, name)
            modules[name] = _new_module(agent, name, package, module)
            if parent:
                module(parent).__dict__.setdefault(leaf, modules[name])
        return modules[name]

    def import_module(name, package=None):
        if name == PACKAGE or name.startswith(PACKAGE + "."):
            return module(name)
        return importlib.import_module(name, package)

    importlib_view = types.ModuleType("importlib")
    importlib_view.__dict__.update(vars(importlib))
    importlib_view.import_module = import_module

    def stub_import(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0 and name == "importlib":
            return importlib_view  # its import_module gives the stubs too
        if level == 0 and (name == PACKAGE or name.startswith(PACKAGE + ".")):
            leaf = module(name)
            for item in fromlist or ():
                sub = f"{name}.{item}"
                if item != "*" and item not in leaf.__dict__:
                    try:
                        module(sub)
                    except ModuleNotFoundError:
                        try:  # here, not in `from ... import`, which would look in sys.modules
                            getattr(leaf, item)
                        except AttributeError as exc:
                            raise ImportError(
                                f"cannot import name {item!r} from {name!r}: {exc}"
                            ) from None
            return leaf if fromlist else module(name.split(".")[0])
        return real_import(name, globals, locals, fromlist, level)

    return stub_import
