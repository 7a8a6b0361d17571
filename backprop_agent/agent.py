"""The kernel's end of the grader's connection: a few operations on the student's objects.

Run by the grader inside the sandbox, never by hand::

    python -m backprop_agent AGENT_SOCKET -f CONNECTION_FILE [ipykernel args]

It is an ordinary IPython kernel (cells arrive over Jupyter's protocol as usual) plus a
thread that listens on the Unix socket AGENT_SOCKET.  The grader opens two conversations
(:mod:`.channel`) there:

- ``calls``: the grader's requests, served by the agent's thread.  Each does what it
  names and nothing else: read a name of the notebook's namespace (``get``, ``names``),
  call a student's callable with plain data (``call``, a batch of argument sets in one
  round trip), get or set an attribute of a handle (``getattr``, ``setattr``), bind or
  remove a name of the namespace (``bind``), drop handles (``drop``);
- ``library``: the kernel's requests to the grader, for the course functions the
  notebook imports (:mod:`.stubs`): they run in the grader.

What comes back is plain data (:mod:`.wire`); any other object stays here and travels as
a handle.  Nothing here is a security boundary: it runs in the student's process, and the
student's code may change or stop it.  It only ever hands data to the grader, which checks
everything it receives and computes every verdict itself.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import socket
import sys
import sysconfig
import threading
import time
import traceback
import warnings

import numpy as np

from . import wire
from .budget import Budget, CallTimeout
from .changes import changes_of, snapshot
from .channel import Broken, Channel

#: Printed output of one request that travels back (the rest is counted, not sent).
OUTPUT_LIMIT = 8000
#: Objects the grader may keep handles to at once.
MAX_HANDLES = 100_000


class GraderTimeout(CallTimeout):
    """Raised by a course function's stub when the grader says the call it belongs to ran
    out of time (the grader keeps the time of the call it made)."""


# -- the student's frames of a traceback ------------------------------------------------------


def _library_dirs():
    dirs = {os.path.dirname(os.path.abspath(__file__))}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            dirs.add(os.path.abspath(path))
    dirs.add(os.path.abspath(sys.prefix))
    dirs.add(os.path.abspath(sys.base_prefix))
    return tuple(dirs)


def _cell_names():
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    mapping = getattr(getattr(shell, "compile", None), "_filename_map", None) or {}
    return {fname: f"In [{count}]" for fname, count in mapping.items()}


def student_frames(tb, limit=3):
    """(where, line, function, code) of the frames of `tb` in the student's code."""
    cells, libs, frames = _cell_names(), _library_dirs(), []
    for fs in traceback.extract_tb(tb):
        fname = fs.filename
        if fname in cells:
            where = cells[fname]
        elif fname.startswith("<") and not fname.startswith("<cell"):
            continue
        elif os.path.abspath(fname).startswith(libs):
            continue
        else:
            where = os.path.basename(fname) if not fname.startswith("<") else fname
        frames.append((where, fs.lineno or 0, fs.name, fs.line or ""))
    return frames[-limit:]


@contextlib.contextmanager
def _floating(strict):
    """Floating-point problems silenced, or (`strict`: a check of numerical stability
    asks) raised as errors."""
    with warnings.catch_warnings():
        if strict:
            warnings.simplefilter("error", RuntimeWarning)
            with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
                yield
        else:
            warnings.simplefilter("ignore")
            with np.errstate(all="ignore"):
                yield


def _clip(text):
    if len(text) > OUTPUT_LIMIT:
        return text[:OUTPUT_LIMIT] + f"\n[... {len(text) - OUTPUT_LIMIT} more characters]\n"
    return text


def error_data(exc):
    """A student's exception as data."""
    return {
        "type": type(exc).__name__[:100],
        "message": str(exc)[:2000],
        "frames": [
            [str(w), int(n), str(f), str(line)[:300]]
            for w, n, f, line in student_frames(exc.__traceback__)
        ],
    }


# -- the agent ----------------------------------------------------------------------------------


class Agent:
    """Serve the grader's requests on the student's namespace `user_ns`.

    Parameters
    ----------
    user_ns : dict
        The notebook's namespace (IPython's ``user_ns``).
    """

    def __init__(self, user_ns):
        self.user_ns = user_ns
        self.handles = {}
        self.next_id = 1
        self.calls = None
        self.calls_thread = None
        self.library = None
        self.library_ready = threading.Event()
        self.library_lock = threading.RLock()
        #: Grader objects this kernel no longer holds (sent with the next library request).
        self.released = []
        from . import stubs

        self.stubs = stubs

    # -- connections ----------------------------------------------------------------

    def listen(self, path):
        """Accept the grader's two conversations on the Unix socket `path` (a thread)."""
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        server.bind(path)
        server.listen(2)
        thread = threading.Thread(target=self._accept, args=(server,), daemon=True)
        thread.start()
        return thread

    def _accept(self, server):
        while True:
            conn, _ = server.accept()
            try:
                conn.settimeout(10)
                hello, _ = wire.recv(conn)
                conn.settimeout(None)
            except (OSError, wire.WireError):
                conn.close()
                continue
            limit = hello.get("max_bytes")
            self.connect(conn, hello.get("role"), limit if type(limit) is int else None)

    def connect(self, conn, role, max_bytes=None):
        """Take `conn` as the ``calls`` or ``library`` conversation; `max_bytes` is the
        largest message the grader reads."""
        if role == "calls":
            self.calls = Channel(conn, self.serve, defer=(CallTimeout,), send_limit=max_bytes)
            thread = threading.Thread(target=self._serve_calls, daemon=True)
            thread.start()
        elif role == "library":
            defer = (KeyboardInterrupt, CallTimeout)
            self.library = Channel(conn, self.serve, defer=defer, send_limit=max_bytes)
            self.library_ready.set()
        else:
            conn.close()

    def _serve_calls(self):
        self.calls_thread = threading.get_ident()
        self.calls.serve_forever()

    def ask_grader(self, header, blobs=()):
        """Send a request to the grader: on the ``calls`` conversation when this thread is
        serving one of the grader's requests, else on the ``library`` one."""
        if self.released:
            header = {**header, "release": self.released[:10000]}
            del self.released[:10000]
        if threading.get_ident() == self.calls_thread and self.calls is not None:
            return self.calls.request(header, blobs)
        if not self.library_ready.wait(30):
            raise Broken("the grader is not connected")
        with self.library_lock:
            return self.library.request(header, blobs)

    # -- encoding -------------------------------------------------------------------

    def keep(self, obj):
        """A handle to `obj` for the grader."""
        if len(self.handles) >= MAX_HANDLES:
            raise wire.WireError("too many objects kept for the grader")
        handle = self.next_id
        self.next_id += 1
        self.handles[handle] = obj
        name = getattr(obj, "__name__", None) if callable(obj) else None
        return {
            "$h": {
                "id": handle,
                "type": type(obj).__name__[:100],
                "name": name[:100] if isinstance(name, str) else None,
                "callable": callable(obj),
            }
        }

    def reference(self, obj, rngs=None):
        ref = self.stubs.reference_of(obj, rngs)
        return ref if ref is not None else self.keep(obj)

    def encoder(self, rngs=None):
        """An encoder for a request to the grader; random generators go by state (noted
        in `rngs`) when it is given, else as handles."""
        if rngs is None:
            return wire.Encoder(self.reference, keep_tuple_types=True)
        return wire.Encoder(lambda obj: self.reference(obj, rngs), keep_tuple_types=True)

    def encode(self, value):
        return wire.encode(value, self.reference, keep_tuple_types=True)

    def resolve(self, tag):
        ((kind, body),) = tag.items()
        if kind == "$h":
            if type(body) is not int or body not in self.handles:
                raise wire.WireError("an unknown handle")
            return self.handles[body]
        if kind == "$g":
            if not isinstance(body, str) or body not in self.user_ns:
                raise wire.WireError(f"no name {body!r} in the notebook")
            return self.user_ns[body]
        if kind == "$rng":
            return wire.rng_from_reference(body)
        return self.stubs.from_reference(self, kind, body)

    def decode(self, tree, blobs):
        return wire.decode(tree, blobs, self.resolve)

    # -- requests -------------------------------------------------------------------

    def serve(self, header, blobs):
        op = header.get("op")
        if op == "get":
            name = header.get("name")
            if not isinstance(name, str) or name not in self.user_ns:
                return {"missing": True}, []
            tree, out = self.encode(self.user_ns[name])
            return {"value": tree}, out
        if op == "names":
            names = [k for k in self.user_ns if isinstance(k, str) and not k.startswith("_")]
            return {"names": names[:10000]}, []
        if op == "drop":
            for h in header.get("handles", [])[:MAX_HANDLES]:
                self.handles.pop(h, None)
            return {}, []
        if op == "bind":
            return self._bind(header, blobs)
        if op in ("call", "getattr", "setattr"):
            return self._guarded(op, header, blobs)
        raise ValueError(f"unknown request {op!r}")

    def _bind(self, header, blobs):
        """Set (or, with ``delete``, remove) a name of the namespace; answer what was there."""
        name = header.get("name")
        if not isinstance(name, str):
            raise ValueError("bind needs a name")
        missing = name not in self.user_ns
        previous = None if missing else self.user_ns[name]
        if header.get("delete"):
            self.user_ns.pop(name, None)
        else:
            self.user_ns[name] = self.decode(header.get("value"), blobs)
        if missing:
            return {"missing": True}, []
        tree, out = self.encode(previous)
        return {"previous": tree}, out

    def _guarded(self, op, header, blobs):
        """Run student code for the request: budget, captured output, errors as data."""
        target = self.decode(header.get("target"), blobs)
        track = header.get("in_place") is True
        printed = io.StringIO()
        budget = Budget(threading.get_ident(), header.get("budget"))
        start = time.perf_counter()
        results, changes = [], []
        strict = header.get("strict") is True
        try:
            with (
                _floating(strict),
                contextlib.redirect_stdout(printed),
                contextlib.redirect_stderr(printed),
            ):
                if op == "getattr":
                    results.append(getattr(target, str(header.get("name"))))
                elif op == "setattr":
                    value = self.decode(header.get("value"), blobs)
                    setattr(target, str(header.get("name")), value)
                    results.append(None)
                else:
                    argsets = self.decode(header.get("argsets"), blobs)
                    for args, kwargs in argsets:
                        snaps = None
                        if track:
                            snaps = snapshot(args, kwargs)
                        results.append(target(*args, **kwargs))
                        if track:
                            changes.append(changes_of(snaps, args, kwargs))
        except (budget.exc, GraderTimeout):
            return self._error(None, printed, start, timeout=True), []
        except Broken:
            raise
        except Exception as exc:  # noqa: BLE001 - the student's error, as data
            return self._error(exc, printed, start, index=len(results)), []
        finally:
            budget.stop()
        if budget.fired:
            return self._error(None, printed, start, timeout=True), []
        seconds = time.perf_counter() - start
        payload = {"values": results, "changes": changes}
        tree, out = self.encode(payload)
        return {"value": tree, "seconds": seconds, "out": _clip(printed.getvalue())}, out

    def _error(self, exc, printed, start, index=0, timeout=False):
        reply = {"seconds": time.perf_counter() - start, "out": _clip(printed.getvalue())}
        if timeout:
            reply["timeout"] = True
        else:
            reply["error"] = {**error_data(exc), "index": index}
        return reply


def is_record(obj):
    """True for a record the grader sent (a dataclass made here from its fields)."""
    return dataclasses.is_dataclass(obj) and getattr(type(obj), "__record_of__", None)


#: Bytes a message of the kernel may have on the wire: below the grader's
#: ``autograder.sandbox.MAX_MESSAGE`` (16 MB), over which ZMQ drops the message and
#: ends the connection for good (all later output of the kernel would be lost).
MESSAGE_LIMIT = 15 * 2**20
_OUTPUTS = ("stream", "display_data", "execute_result", "update_display_data", "error")


def _capped(serialize):
    """`serialize` (a jupyter_client Session's) with an output message over
    :data:`MESSAGE_LIMIT` replaced by a short note of what was cut (a reply's payload by
    none), so one oversized print costs its own output only."""

    def capped(msg, ident=None):
        frames = serialize(msg, ident)
        size = sum(len(f) for f in frames)
        kind = msg.get("header", {}).get("msg_type")
        if size <= MESSAGE_LIMIT or (kind not in _OUTPUTS and kind != "execute_reply"):
            return frames
        content = dict(msg.get("content") or {})
        note = f"[output of {size / 2**20:.0f} MB cut by the kernel: over {MESSAGE_LIMIT // 2**20} MB]\n"
        if kind == "stream":
            content["text"] = note
        elif kind == "error":
            content.update(evalue=note, traceback=[note])
        elif kind == "execute_reply":
            content["payload"] = []
        else:
            content.update(data={"text/plain": note}, metadata={})
        return serialize({**msg, "content": content, "buffers": []}, ident)

    return capped


def _kernel_app():
    """ipykernel's IPKernelApp whose IOPub socket never drops a message: ZMQ's PUB drops
    what its high-water mark (1,000 messages) cannot hold when the grader reads slower
    than the kernel prints, so a loop printing 2,000 lines lost hundreds of them, and at
    times the cell's "idle".  Unbounded here, the messages wait in the kernel's memory
    (capped with the sandbox's) while the grader holds only its few
    (``autograder.sandbox.RECEIVE_QUEUE``)."""
    import zmq
    from ipykernel.kernelapp import IPKernelApp

    class Kernel(IPKernelApp):
        def init_iopub(self, context):
            context.setsockopt(zmq.SNDHWM, 0)  # the default of the sockets made now
            try:
                super().init_iopub(context)
            finally:
                del context.sndhwm  # ZMQ's own default again for the other sockets

    return Kernel.instance()


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    agent_path = argv.pop(0)

    # What `python -m ipykernel_launcher` does, with the agent and the course stubs in
    # place between the kernel's own start-up and the first cell.
    app = _kernel_app()
    app.initialize(argv)
    app.session.serialize = _capped(app.session.serialize)
    agent = Agent(app.shell.user_ns)
    agent.stubs.install(agent)
    agent.listen(agent_path)
    app.start()
