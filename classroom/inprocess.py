"""A student's kernel in this process: the grader's real connection, without ipykernel.

The agent (:mod:`backprop_agent`) serves a plain dict as the notebook's namespace, on a
socket pair, in a thread of this process; the cells run here with ``import course``
answered by the grader's stubs (:func:`backprop_agent.stubs.importer`), exactly as in a
sandboxed kernel; the grader's :class:`autograder.remote.Session` is the one that grades.
Only the transport differs from ``backprop-grade grade``: no sandbox, no ipykernel, no
Jupyter messages.  The fast test runner (:mod:`classroom.runner`) and the unit tests of
the connection use it.
"""

from __future__ import annotations

import builtins
import socket

from autograder import capture, remote
from backprop_agent.agent import Agent
from backprop_agent.stubs import importer


class InProcessKernel:
    """A namespace served by an agent, and the grader's session to it."""

    def __init__(self, call_timeout=60.0):
        self.user_ns = {"__name__": "__main__"}
        self.agent = Agent(self.user_ns)
        self.user_ns["__builtins__"] = {**vars(builtins), "__import__": importer(self.agent)}
        pairs = [socket.socketpair() for _ in range(2)]
        self.agent.connect(pairs[0][1], "calls", remote.MAX_REPLY_BYTES)
        self.agent.connect(pairs[1][1], "library", remote.MAX_REPLY_BYTES)
        self.session = remote.Session(call_timeout=call_timeout, socks=(pairs[0][0], pairs[1][0]))

    def run_cell(self, source, name="<cell>"):
        """Run one cell here, as the kernel's main thread would: (stdout text, exception)."""
        out = capture.Buffer()
        try:
            with capture.output(out):
                exec(compile(source, name, "exec"), self.user_ns)  # noqa: S102
        except Exception as exc:  # noqa: BLE001 - the cell's error, as nbgrader would see it
            return out.text(), exc
        return out.text(), None

    def close(self):
        self.session.close()
        for channel in (self.agent.calls, self.agent.library):
            if channel is not None:
                channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
