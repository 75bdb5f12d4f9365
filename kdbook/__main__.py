"""Command line: ``python -m kdbook run|book --profile P``."""

from __future__ import annotations

import argparse
import sys

from .profiles import PROFILES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kdbook", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser("run", help="execute the book's notebooks with papermill")
    run_p.add_argument("--profile", default="cpu", choices=sorted(PROFILES))
    run_p.add_argument(
        "--only", nargs="+", metavar="NAME", help="notebook names, e.g. 01_kd_theory"
    )
    run_p.add_argument(
        "--jobs", type=int, default=1, help="notebooks executed in parallel"
    )
    run_p.add_argument(
        "--force", action="store_true", help="re-execute notebooks that are up to date"
    )
    run_p.add_argument(
        "--quiet", action="store_true", help="no progress lines or bar (for CI logs)"
    )
    book_p = sub.add_parser(
        "book", help="build the HTML book from the executed notebooks"
    )
    book_p.add_argument("--profile", default="cpu", choices=sorted(PROFILES))
    args = parser.parse_args(argv)

    from . import runner

    if args.command == "run":
        runner.run(
            args.profile,
            only=args.only,
            jobs=args.jobs,
            force=args.force,
            quiet=args.quiet,
        )
    else:
        runner.build_book(args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
