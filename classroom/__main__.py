"""``python -m classroom demo|samples``: the sample class and the demo pipeline."""

import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m classroom", description=__doc__.replace("`", "")
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="the whole instructor pipeline on a sample class")
    p.add_argument("assignments", nargs="*", metavar="ASSIGNMENT")
    p.add_argument("--workdir", default="demo-output")
    p.add_argument("--jobs", "-j", type=int)
    p = sub.add_parser("samples", help="write a sample class (correct, buggy, hostile)")
    p.add_argument("assignments", nargs="*", metavar="ASSIGNMENT")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--root", help="course root (default: the repository)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import run_demo

        return run_demo(args.workdir, jobs=args.jobs, assignments=args.assignments or None)
    from autograder.course_config import Course

    from .samples import generate

    course = Course.load(args.root)
    manifest = generate(course, args.out, args.assignments or None, seed=args.seed)
    n = sum(len(v) for v in manifest.values())
    print(f"wrote {n} sample submissions for {len(manifest)} assignments to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
