"""In-place changes a call made to its arguments, as data, and their mirror on the caller.

A call that crosses between the grader and the kernel works on copies of its arguments.
Where the caller must see what the callee did to them (a check that looks at an update in
place; a course function such as ``training.train`` that updates the student's
parameters in place), the callee's end records the changes (:func:`changes_of`, after a
:func:`snapshot`) and the caller's end applies them to its own objects
(:func:`apply_changes`): arrays written, dict entries set or removed, lists replaced,
random generators advanced.
"""

from __future__ import annotations

import contextlib

import numpy as np

from . import wire


def _snapshot(obj):
    """What can change in place inside an argument: arrays, dicts, lists (with identities)."""
    if isinstance(obj, np.ndarray):
        return ("a", obj.copy())
    if isinstance(obj, np.random.Generator):
        return ("g", repr(obj.bit_generator.state))
    if type(obj) is dict:
        return ("d", {k: (id(v), v, _snapshot(v)) for k, v in obj.items()})
    if type(obj) in (list, tuple):
        return (type(obj).__name__[0], [(id(v), v, _snapshot(v)) for v in obj])
    return None


def _changes(snap, obj, path, out):
    """Append (path, op, value) for every in-place change of `obj` since `snap`."""
    if snap is None:
        return
    kind, before = snap
    if kind == "g":
        if repr(obj.bit_generator.state) != before:
            out.append((path, "rng", wire.rng_state(obj.bit_generator.state)))
    elif kind == "a":
        if obj.shape != before.shape or not np.array_equal(obj, before, equal_nan=True):
            out.append((path, "set", obj))
    elif kind == "d":
        for key in before:
            if key not in obj:
                out.append((path + [key], "del", None))
        for key, value in obj.items():
            if key not in before or id(value) != before[key][0]:
                out.append((path + [key], "assign", value))
            else:
                _changes(before[key][2], value, path + [key], out)
    else:
        same = len(obj) == len(before) and all(
            id(v) == b[0] for v, b in zip(obj, before, strict=False)
        )
        if kind == "l" and not same:
            out.append((path, "replace", obj))
            return
        for i, (value, b) in enumerate(zip(obj, before, strict=False)):
            _changes(b[2], value, path + [i], out)


def snapshot(args, kwargs):
    """What can change in the arguments of one call."""
    return ([_snapshot(a) for a in args], {k: _snapshot(v) for k, v in kwargs.items()})


def changes_of(snaps, args, kwargs):
    """The changes of the arguments since `snaps`, as (path, op, value) with paths
    ``["a", i, key...]`` or ``["k", name, key...]``."""
    found = []
    for i, a in enumerate(args):
        _changes(snaps[0][i], a, ["a", i], found)
    for k, v in kwargs.items():
        _changes(snaps[1][k], v, ["k", k], found)
    return found


def apply_changes(args, kwargs, changes):
    """Mirror the other end's in-place changes of the arguments in the caller's objects."""
    if not isinstance(changes, list):
        return
    for change in changes:
        try:
            path, op, value = change
            root = args[path[1]] if path[0] == "a" else kwargs[path[1]]
            keys = list(path[2:])
            if not keys:
                _apply_in_place(root, op, value)
                continue
            container = root
            for key in keys[:-1]:
                container = container[key]
            last = keys[-1]
            if op == "assign":
                container[last] = value
            elif op == "del":
                del container[last]
            else:
                _apply_in_place(container[last], op, value)
        except (TypeError, ValueError, KeyError, IndexError, AttributeError):
            continue  # a change that cannot be mirrored: the caller keeps its value


def _apply_in_place(target, op, value):
    if op == "set" and isinstance(target, np.ndarray) and isinstance(value, np.ndarray):
        if target.shape == value.shape:
            np.copyto(target, value, casting="unsafe")
    elif op == "replace" and isinstance(target, list) and isinstance(value, list):
        target[:] = value
    elif op == "rng" and isinstance(target, np.random.Generator) and isinstance(value, dict):
        with contextlib.suppress(TypeError, ValueError, KeyError, wire.WireError):
            target.bit_generator.state = wire.rng_state_back(value)
