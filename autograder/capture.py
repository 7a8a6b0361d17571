"""What a piece of grader-side work prints and displays, kept apart per thread.

A grading worker runs test cells and the kernel's course calls in threads of its own
(and dask runs several jobs in threads of one process), so ``contextlib.redirect_stdout``
(which swaps ``sys.stdout`` for the whole process) would mix their output.  Here
``sys.stdout`` and ``sys.stderr`` are replaced once by a stream that writes to the
buffer of the current context (:func:`output`), or to the original stream outside one;
IPython's ``display`` is collected the same way (:func:`displays`), so what a course
function shows reaches the kernel that called it.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import io
import sys
import threading

_OUT = contextvars.ContextVar("backprop_captured_output", default=None)
_ERR = contextvars.ContextVar("backprop_captured_errors", default=None)
_SHOWN = contextvars.ContextVar("backprop_captured_displays", default=None)
_INSTALL = threading.Lock()
_INSTALLED = False


class Buffer:
    """Text written in one context, up to `limit` characters."""

    def __init__(self, limit=200_000):
        self.parts = []
        self.size = 0
        self.limit = limit
        self.dropped = 0

    def write(self, text):
        text = str(text)
        room = self.limit - self.size
        if room > 0:
            self.parts.append(text[:room])
            self.size += min(len(text), room)
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def text(self):
        note = f"\n[... {self.dropped} more characters]\n" if self.dropped else ""
        return "".join(self.parts) + note


class _Stream(io.TextIOBase):
    """sys.stdout / sys.stderr: the current context's buffer, else the original stream."""

    def __init__(self, original, errors=False):
        self.original = original
        self.for_errors = errors

    def _buffer(self):
        if self.for_errors:
            buf = _ERR.get()
            if buf is not None:
                return buf
        return _OUT.get()

    def write(self, text):
        buf = self._buffer()
        if buf is not None:
            return buf.write(text)
        return self.original.write(text)

    def flush(self):
        if self._buffer() is None:
            with contextlib.suppress(Exception):
                self.original.flush()

    @property
    def encoding(self):
        return getattr(self.original, "encoding", "utf-8")

    def isatty(self):
        return False

    def fileno(self):
        return self.original.fileno()


def install():
    """Put the per-context streams in sys.stdout and sys.stderr (again, if something
    replaced them since) and IPython's display, in this process."""
    global _INSTALLED
    if isinstance(sys.stdout, _Stream) and isinstance(sys.stderr, _Stream) and _INSTALLED:
        return
    with _INSTALL:
        if not isinstance(sys.stdout, _Stream):
            sys.stdout = _Stream(sys.stdout)
        if not isinstance(sys.stderr, _Stream):
            sys.stderr = _Stream(sys.stderr, errors=True)
        if _INSTALLED:
            return
        try:
            import IPython.display
            from IPython.core import display_functions

            original = display_functions.display

            def display(*objs, **kwargs):
                shown = _SHOWN.get()
                if shown is None:
                    return original(*objs, **kwargs)
                for obj in objs:
                    if kwargs.get("raw") and isinstance(obj, dict):
                        item = {"data": obj, "metadata": kwargs.get("metadata") or {}}
                    else:
                        item = {"data": mime_bundle(obj), "metadata": kwargs.get("metadata") or {}}
                    shown.append(item)
                return None

            IPython.display.display = display
            display_functions.display = display
        except ImportError:
            pass
        _INSTALLED = True


@contextlib.contextmanager
def output(buffer, errors=None):
    """Send what this context prints to `buffer` (stderr too, unless `errors` is a buffer
    of its own)."""
    install()
    token = _OUT.set(buffer)
    err_token = _ERR.set(errors)
    try:
        yield buffer
    finally:
        _ERR.reset(err_token)
        _OUT.reset(token)


@contextlib.contextmanager
def displays(shown):
    """Collect what this context displays (mime bundles) in the list `shown`."""
    install()
    token = _SHOWN.set(shown)
    try:
        yield shown
    finally:
        _SHOWN.reset(token)


def mime_bundle(obj):
    """A plain mime bundle of `obj` (its own, a figure's PNG, or its repr)."""
    make = getattr(obj, "_repr_mimebundle_", None)
    if callable(make):
        try:
            data = make()
            if isinstance(data, tuple):
                data = data[0]
            if isinstance(data, dict):
                return {k: v for k, v in data.items() if isinstance(v, str)}
        except Exception:  # noqa: BLE001 - fall back to the repr
            pass
    bundle = {"text/plain": repr(obj)[:10000]}
    if type(obj).__name__ == "Figure" and hasattr(obj, "savefig"):
        buf = io.BytesIO()
        obj.savefig(buf, format="png", bbox_inches="tight")
        bundle["image/png"] = base64.b64encode(buf.getvalue()).decode("ascii")
    for method, kind in (
        ("_repr_png_", "image/png"),
        ("_repr_html_", "text/html"),
        ("_repr_svg_", "image/svg+xml"),
    ):
        fn = getattr(obj, method, None)
        if callable(fn) and kind not in bundle:
            with contextlib.suppress(Exception):
                value = fn()
                if isinstance(value, bytes):
                    value = base64.b64encode(value).decode("ascii")
                if isinstance(value, str):
                    bundle[kind] = value
    return bundle
