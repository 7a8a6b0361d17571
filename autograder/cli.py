"""`backprop-grade`: the instructor's command line (minimal until the full CLI lands)."""

from __future__ import annotations

import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="backprop-grade", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    rel = sub.add_parser("release", help="generate notebooks/ from solutions/ and check it")
    rel.add_argument("assignments", nargs="*")
    rel.add_argument("--check", action="store_true", help="only check that notebooks/ is in sync")
    args = parser.parse_args(argv)
    if args.command == "release":
        from . import release

        if not args.check:
            written = release.generate(args.assignments or None)
            print("generated notebooks/ for: " + ", ".join(written))
        problems = release.check(args.assignments or None)
        for p in problems:
            print("out of sync: " + p, file=sys.stderr)
        return 1 if problems else 0
    return 2
