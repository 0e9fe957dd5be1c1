"""``python -m tools.outputs dump DIR [--database URL] [--tiny]`` and ``python -m tools.outputs compare A B``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Dump a fresh demo store's outputs, or compare two dumps (exit 1 when they differ)."""
    parser = argparse.ArgumentParser(prog="python -m tools.outputs", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    dumping = commands.add_parser("dump", help="load the demo into a fresh store and write every output as rows")
    dumping.add_argument("folder", type=Path, help="the folder to write (emptied first)")
    dumping.add_argument("--database", help="a PostgreSQL URL to load into (its public schema is dropped first)")
    dumping.add_argument("--tiny", action="store_true", help="one agency's upload only: a quick check of the tool")
    comparing = commands.add_parser("compare", help="compare two dumps row by row")
    comparing.add_argument("before", type=Path)
    comparing.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    if args.command == "dump":
        from tools.outputs.dump import dump

        made = dump(args.folder, args.database, tiny=args.tiny)
        sys.stdout.write(f"{made.files} files, {made.rows} rows in {args.folder} ({made.seconds:.1f} s)\n")
        return 0
    from tools.outputs.compare import compare

    found = compare(args.before, args.after)
    if not found:
        sys.stdout.write(f"identical: {args.before} and {args.after}\n")
        return 0
    sys.stdout.write("\n".join(found) + f"\n{len(found)} difference(s)\n")
    return 1


if __name__ == "__main__":
    sys.exit(main())
