"""One conversation over a stream socket, in which either end may call the other.

A *request* carries ``"op"`` and ``"id"``; its *reply* carries ``"re"`` (the request's id).
While an end waits for a reply it serves the requests that arrive in the meantime (they
belong to the call it is waiting for: the grader's check calls the student's function,
which calls a course function, which runs in the grader and may call the student's code
again...).  Calls therefore nest like a call stack, on one socket, in order.

Neither end trusts the other's messages: a malformed message, an answer to another
request, or a message over the size limit breaks the conversation (:class:`Broken`).
"""

from __future__ import annotations

import socket
import time

from . import wire
from .budget import critical, interruptible

#: Requests nested inside one another on one conversation.
MAX_NESTING = 32
#: Socket buffer size asked for (the system may give less).
BUFFER_BYTES = 4 * 2**20


class Broken(ConnectionError):
    """The conversation is over: the other end left, sent nonsense, or did not answer."""


class Channel:
    """One end of a conversation.

    Parameters
    ----------
    sock : socket.socket
    serve : callable
        ``serve(header, blobs) -> (reply header, reply blobs)``: how this end answers the
        other end's requests.  Exceptions it raises become a ``{"fault": ...}`` reply.
    max_bytes : int
        The largest message accepted from the other end.
    send_limit : int, optional
        The largest message the other end accepts: an answer over it is not sent (the
        other end would have to drop the conversation); a fault saying so is.
    defer : tuple of exception types
        Exceptions raised in this end's thread while it waits (an interrupt, an alarm)
        that must not leave the conversation out of step: they are raised once the reply
        is in.  One raised while this end serves a request becomes that request's fault.
    """

    def __init__(self, sock, serve, max_bytes=wire.MAX_MESSAGE_BYTES, defer=(), send_limit=None):
        for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):
            try:  # a network's parameters in one write, not a dozen wake-ups of the reader
                sock.setsockopt(socket.SOL_SOCKET, option, BUFFER_BYTES)
            except OSError:
                pass
        self.sock = sock
        self.serve = serve
        self.max_bytes = max_bytes
        self.reader = wire.Reader(sock, max_bytes)
        self.defer = tuple(defer)
        #: The largest message the other end reads (a larger answer becomes a fault).
        self.send_limit = send_limit or wire.MAX_MESSAGE_BYTES
        self.next_id = 1
        self.depth = 0
        self.broken = ""
        #: Round trips this end asked for.
        self.requests = 0

    def close(self, reason="closed"):
        if not self.broken:
            self.broken = reason
        try:
            self.sock.close()
        except OSError:
            pass

    def _fail(self, reason):
        self.close(reason)
        raise Broken(reason)

    def _send(self, header, blobs=()):
        try:
            parts = wire.pack_parts(header, blobs, self.send_limit)
        except (wire.WireError, TypeError, ValueError) as exc:
            parts = wire.pack_parts(
                {k: header[k] for k in ("re", "id") if k in header}
                | {"fault": f"the answer could not be sent: {exc}"[:2000]}
            )
        try:
            self.sock.settimeout(None)
            wire.send(self.sock, parts)
        except OSError as exc:
            self._fail(f"{type(exc).__name__}: {exc}")

    def _recv(self, deadline):
        if self.broken:
            raise Broken(self.broken)
        left = None
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                self._fail("no answer in time")
        try:
            self.sock.settimeout(left)
            header, blobs = self.reader.read()
        except TimeoutError:
            self._fail("no answer in time")
        except (OSError, wire.WireError) as exc:
            self._fail(f"{type(exc).__name__}: {exc}")
        return header, blobs

    def request(self, header, blobs=(), deadline=None):
        """Send a request and wait for its reply, serving the other end's requests meanwhile.

        The conversation's own steps are a critical section (:mod:`.budget`): a budget's
        exception or a Ctrl-C that comes meanwhile arrives once the reply is in (or, in a
        request this end serves meanwhile, stops that work and makes its answer a fault).

        Parameters
        ----------
        header : dict
            With ``"op"``.
        blobs : sequence of bytes
        deadline : float, optional
            ``time.monotonic()`` by which the reply must be in (None: wait as long as it
            takes; the other end keeps the time).

        Returns
        -------
        (dict, list)
            The reply's header and blobs.

        Raises
        ------
        Broken
        """
        with critical():
            if self.broken:
                raise Broken(self.broken)
            rid = self.next_id
            self.next_id += 1
            self.requests += 1
            self._send({**header, "id": rid}, blobs)
            pending = None
            while True:
                msg, msg_blobs = self._recv(deadline)
                if "re" in msg:
                    if msg["re"] != rid:
                        self._fail("an answer to another request")
                    break
                if type(msg.get("id")) is not int or not isinstance(msg.get("op"), str):
                    self._fail("a message that is neither a request nor an answer")
                try:
                    self.serve_one(msg, msg_blobs)
                except self.defer as exc:  # it belongs further up: after our reply
                    pending = exc
            if pending is not None:
                raise pending
            return msg, msg_blobs

    def serve_one(self, msg, blobs):
        """Answer one request of the other end (the work it asks for is interruptible).

        An exception of `defer` raised meanwhile (it belongs to a call further up this
        thread's stack) makes this request's answer a fault, and then goes on up."""
        with critical():
            if self.depth >= MAX_NESTING:
                self._send({"re": msg["id"], "fault": "calls nested too deeply"})
                return
            self.depth += 1
            passing = None
            try:
                with interruptible():
                    reply, reply_blobs = self.serve(msg, blobs)
            except Broken:
                raise
            except BaseException as exc:  # noqa: BLE001 - every failure is an answer
                reply, reply_blobs = {"fault": f"{type(exc).__name__}: {exc}"[:2000]}, []
                if isinstance(exc, self.defer):
                    passing = exc
            finally:
                self.depth -= 1
            self._send({**reply, "re": msg["id"]}, reply_blobs)
            if passing is not None:
                raise passing

    def serve_forever(self):
        """Answer requests until the other end leaves."""
        while not self.broken:
            try:
                with critical():
                    msg, blobs = self._recv(None)
                    if type(msg.get("id")) is not int or not isinstance(msg.get("op"), str):
                        self.close("a message that is not a request")
                        return
                    self.serve_one(msg, blobs)
            except Broken:
                return
            except self.defer:
                continue  # a budget of a call that has ended
