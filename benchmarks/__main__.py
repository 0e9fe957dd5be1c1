"""Run a benchmark: ``python -m benchmarks collect [--rows N]``."""

from __future__ import annotations

import sys

from benchmarks import (
    annex_a,
    census,
    collect,
    compare,
    england,
    exports,
    load,
    memory,
    pages,
    published,
    records,
    region,
    rotation,
    scale,
    sen2,
    sen2_serve,
    soak,
    ssd,
)


def main() -> None:
    """Dispatch to the named benchmark."""
    names = {
        "annex-a": annex_a.main,
        "census": census.main,
        "collect": collect.main,
        "compare": compare.main,
        "england": england.main,
        "exports": exports.main,
        "scale": scale.main,
        "load": load.main,
        "memory": memory.main,
        "records": records.main,
        "region": region.main,
        "rotate": rotation.main,
        "published": published.main,
        "pages": pages.main,
        "sen2": sen2.main,
        "sen2-serve": sen2_serve.main,
        "soak": soak.main,
        "ssd": ssd.main,
    }
    if len(sys.argv) < 2 or sys.argv[1] not in names:
        print(f"usage: python -m benchmarks {{{','.join(names)}}} [options]", file=sys.stderr)
        raise SystemExit(2)
    names[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
