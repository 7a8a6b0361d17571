"""The kernel's end of :mod:`course.remote`: start ipykernel with a call server beside it.

Run by the grader inside the sandbox, never by hand::

    python -m course._kernel_agent AGENT_SOCKET -f CONNECTION_FILE [ipykernel args]

It is an ordinary IPython kernel (cells arrive over Jupyter's protocol as usual) plus a
thread that listens on the Unix socket AGENT_SOCKET for the grader's requests: look up
a name of the notebook's namespace, call a function with arguments, keep an object as
a handle.  Results go back as plain data (:mod:`course._wire`).

Nothing here is a security boundary: it runs in the student's process, and the
student's code may change or stop it.  It only ever hands data to the grader, which
checks everything it receives and computes every verdict itself.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import io
import os
import socket
import sys
import threading
import time
import traceback
import warnings

import numpy as np

from . import _wire

#: Printed output of one call that travels back (the rest is counted, not sent).
OUTPUT_LIMIT = 8000


class CallTimeout(BaseException):
    """Raised inside a student's call that ran past its budget."""


class _Budget:
    """Raise CallTimeout in `thread_id` after `seconds`, again every 0.5 s until done."""

    def __init__(self, thread_id, seconds):
        self.thread_id = thread_id
        self.done = threading.Event()
        self.fired = False
        self.timer = None
        if seconds is not None and seconds > 0:
            self.timer = threading.Thread(target=self._run, args=(seconds,), daemon=True)
            self.timer.start()

    def _run(self, seconds):
        wait = seconds
        while not self.done.wait(wait):
            self.fired = True
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(self.thread_id), ctypes.py_object(CallTimeout)
            )
            wait = 0.5

    def stop(self):
        self.done.set()
        if self.timer is not None:
            self.timer.join()
            # An exception set just before the timer saw `done` is dropped here.
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self.thread_id), None)


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
            out.append((path, "rng", _wire.rng_state(obj.bit_generator.state)))
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


class Agent:
    """Serve the grader's requests on a Unix socket, one at a time, in a thread."""

    def __init__(self, user_ns, path):
        self.user_ns = user_ns
        self.path = path
        self.handles = {}
        self.next_id = 1

    def start(self):
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        server.bind(self.path)
        server.listen(1)
        thread = threading.Thread(target=self._serve, args=(server,), daemon=True)
        thread.start()
        return thread

    def _serve(self, server):
        while True:
            conn, _ = server.accept()
            with conn:
                while True:
                    try:
                        header, blobs = _wire.recv(conn)
                    except (ConnectionError, OSError, _wire.WireError):
                        break
                    try:
                        reply, out_blobs = self.handle(header, blobs)
                        message = _wire.pack(reply, out_blobs)
                    except (Exception, CallTimeout) as exc:  # noqa: BLE001 - to the grader
                        message = _wire.pack({"fault": f"{type(exc).__name__}: {exc}"[:2000]})
                    try:
                        conn.sendall(message)
                    except OSError:
                        break

    # -- encoding -----------------------------------------------------------------

    def _keep(self, obj):
        handle = self.next_id
        self.next_id += 1
        self.handles[handle] = obj
        name = getattr(obj, "__name__", None)
        return {
            "$h": handle,
            "type": type(obj).__name__,
            "name": name if isinstance(name, str) else None,
            "callable": callable(obj),
        }

    def _resolve(self, tag, blobs):
        if "$h" in tag:
            return self.handles[tag["$h"]]
        if "$g" in tag:
            return self.user_ns[tag["$g"]]
        if "$rng" in tag:
            body = tag["$rng"]
            bitgen = getattr(np.random, body["bitgen"])()
            bitgen.state = _wire.rng_state_back(body["state"])
            return np.random.Generator(bitgen)
        if "$obj" in tag:
            body = tag["$obj"]
            cls = self._course_object(body["m"], body["q"])
            return cls(**self._decode(body["fields"], blobs))
        return self._course_object(tag["$m"], tag.get("q", ""))

    def _course_object(self, module, qualname):
        if not (module == "course" or module.startswith("course.")):
            raise ValueError(f"not a course module: {module}")
        obj = importlib.import_module(module)
        for part in filter(None, qualname.split(".")):
            obj = getattr(obj, part)
        return obj

    def _encode(self, value):
        return _wire.encode(value, self._keep, keep_tuple_types=True)

    def _decode(self, tree, blobs):
        return _wire.decode(tree, blobs, lambda tag: self._resolve(tag, blobs))

    # -- requests -----------------------------------------------------------------

    def handle(self, header, blobs):
        op = header.get("op")
        if op == "get":
            name = header["name"]
            if name not in self.user_ns:
                return {"missing": True}, []
            tree, out = self._encode(self.user_ns[name])
            return {"value": tree}, out
        if op == "names":
            names = [k for k in self.user_ns if isinstance(k, str) and not k.startswith("_")]
            return {"names": names[:10000]}, []
        if op == "put":
            return {"value": self._keep(self._decode(header["value"], blobs))}, []
        if op == "drop":
            for h in header.get("handles", []):
                self.handles.pop(h, None)
            return {}, []
        if op in ("call", "map"):
            target = self._decode(header["target"], blobs)
            argsets = self._decode(header["argsets"], blobs)
            return self._calls(target, argsets, header)
        raise ValueError(f"unknown request {op!r}")

    def _calls(self, fn, argsets, header):
        results, changes, printed = [], [], io.StringIO()
        keep = header.get("keep", False)
        track = header.get("in_place") is True  # report in-place changes only when asked
        budget = _Budget(threading.get_ident(), header.get("budget"))
        start = time.perf_counter()
        try:
            for args, kwargs in argsets:
                if track:
                    snaps = (
                        [_snapshot(a) for a in args],
                        {k: _snapshot(v) for k, v in kwargs.items()},
                    )
                with (
                    np.errstate(all="ignore"),
                    warnings.catch_warnings(),
                    contextlib.redirect_stdout(printed),
                    contextlib.redirect_stderr(printed),
                ):
                    warnings.simplefilter("ignore")
                    value = fn(*args, **kwargs)
                results.append(value)
                if track:
                    found = []
                    for i, a in enumerate(args):
                        _changes(snaps[0][i], a, ["a", i], found)
                    for k, v in kwargs.items():
                        _changes(snaps[1][k], v, ["k", k], found)
                    changes.append(found)
        except CallTimeout:
            return self._reply_error(None, printed, start, timeout=True), []
        except Exception as exc:  # noqa: BLE001 - the student's error, as data
            return self._reply_error(exc, printed, start, index=len(results)), []
        finally:
            budget.stop()
        seconds = time.perf_counter() - start
        if budget.fired:
            return self._reply_error(None, printed, start, timeout=True), []
        payload = {
            "values": [self._keep(v) for v in results] if keep else results,
            "changes": changes,
        }
        tree, blobs = self._encode(payload)
        return {"value": tree, "seconds": seconds, "out": _clip(printed.getvalue())}, blobs

    def _reply_error(self, exc, printed, start, index=0, timeout=False):
        reply = {"seconds": time.perf_counter() - start, "out": _clip(printed.getvalue())}
        if timeout:
            reply["timeout"] = True
            return reply
        try:
            from .grading import student_frames

            frames = student_frames(exc.__traceback__)
        except Exception:  # noqa: BLE001 - frames are a courtesy
            frames = [
                (os.path.basename(f.filename), f.lineno or 0, f.name, f.line or "")
                for f in traceback.extract_tb(exc.__traceback__)[-1:]
            ]
        reply["error"] = {
            "type": type(exc).__name__,
            "message": str(exc)[:2000],
            "frames": [[str(w), int(n), str(fn), str(line)[:300]] for w, n, fn, line in frames],
            "index": index,
        }
        return reply


def _clip(text):
    if len(text) > OUTPUT_LIMIT:
        return text[:OUTPUT_LIMIT] + f"\n[... {len(text) - OUTPUT_LIMIT} more characters]\n"
    return text


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    agent_path = argv.pop(0)
    from ipykernel.kernelapp import IPKernelApp

    # What `python -m ipykernel_launcher` does, with the agent started between the
    # kernel's own start-up and the first cell.
    app = IPKernelApp.instance()
    app.initialize(argv)
    Agent(app.shell.user_ns, agent_path).start()
    app.start()


if __name__ == "__main__":
    main()
