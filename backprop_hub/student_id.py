"""The student id ``make lab`` draws a student's own numbers for (course.variant_tables).

Asked once, in the terminal, and kept in the working folder (``<workdir>/.student-id``);
``BACKPROP_STUDENT`` set beforehand wins.  ``python -m backprop_hub.student_id WORKDIR``
prints the id (the question and any warning go to stderr), empty when none can be had:
the notebooks then show the course's example numbers and say so.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

FILE = ".student-id"
_VALID = re.compile(r"[A-Za-z0-9._@+-]{1,64}")


def valid(text):
    """Whether `text` is a student id as nbgrader and the hub take it."""
    return bool(_VALID.fullmatch(text or ""))


def student_id(workdir, ask=None):
    """The id of the student working in `workdir`: ``BACKPROP_STUDENT``, else the kept
    one, else asked (``ask(prompt) -> str``, default: the terminal, when there is one)
    and kept.  Returns "" when there is none."""
    given = os.environ.get("BACKPROP_STUDENT", "").strip()
    if valid(given):
        return given
    kept = Path(workdir) / FILE
    if kept.is_file() and valid(kept.read_text().strip()):
        return kept.read_text().strip()
    if ask is None:
        if not sys.stdin.isatty():
            return ""
        ask = _ask_terminal
    for _ in range(3):
        answer = (ask("Your student id (the course draws your own numbers for it): ") or "").strip()
        if valid(answer):
            kept.parent.mkdir(parents=True, exist_ok=True)
            kept.write_text(answer + "\n")
            return answer
        print("  letters, digits and . _ @ + - only, at most 64", file=sys.stderr)
    return ""


def _ask_terminal(prompt):
    print(prompt, end="", file=sys.stderr, flush=True)
    return sys.stdin.readline()


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m backprop_hub.student_id WORKDIR", file=sys.stderr)
        return 2
    found = student_id(args[0])
    if not found:
        print(
            "no student id: the notebooks show the course's example numbers "
            "(set BACKPROP_STUDENT, or run `make lab` in a terminal to be asked)",
            file=sys.stderr,
        )
    print(found)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
