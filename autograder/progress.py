"""A progress bar with counts and rate: redrawn in place on a terminal, one line per item
otherwise (logs, CI, pipes)."""

from __future__ import annotations

import sys
import time


class Progress:
    """``Progress(total).advance("alice: ok")`` ... ``.close()``.

    Parameters
    ----------
    total : int
    out : file, optional
        Default stdout.
    label : str
    width : int
        Bar width in characters (terminal mode).
    """

    def __init__(self, total, out=None, label="", width=30):
        self.total = total
        self.done = 0
        self.out = out or sys.stdout
        self.label = label
        self.width = width
        self.t0 = time.perf_counter()
        isatty = getattr(self.out, "isatty", None)
        self.tty = bool(isatty and isatty())
        if total and not self.tty:
            print(f"{label}: {total} submissions", file=self.out, flush=True)

    def _rate(self):
        elapsed = time.perf_counter() - self.t0
        return self.done / elapsed if elapsed > 0 else 0.0

    def line(self, note=""):
        rate = self._rate()
        eta = (self.total - self.done) / rate if rate > 0 else float("nan")
        text = f"[{self.done:>{len(str(self.total))}}/{self.total}] {rate:.2f}/s"
        if self.done < self.total and rate > 0:
            text += f", {eta:.0f} s left"
        return text + (f"  {note}" if note else "")

    def advance(self, note=""):
        self.done += 1
        if self.tty:
            filled = int(self.width * self.done / max(self.total, 1))
            bar = "#" * filled + "-" * (self.width - filled)
            print(f"\r{self.label} |{bar}| {self.line(note)[:60]:<60}", end="", file=self.out)
            self.out.flush()
        else:
            print(self.line(note), file=self.out, flush=True)

    def close(self):
        if self.tty and self.total:
            print(file=self.out)
        if self.total:
            elapsed = time.perf_counter() - self.t0
            print(
                f"{self.label}: {self.done} in {elapsed:.1f} s ({self._rate():.2f}/s)",
                file=self.out,
                flush=True,
            )
