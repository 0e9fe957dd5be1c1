"""pandera's polars API, imported without its pandas API.

pandera's top-level package imports numpy and pandas whenever they are installed, to offer its pandas API beside
the polars one. The service checks polars frames only; pandas is in its environment for the tests' SDMX client
alone (sdmx1). Imported with them, ``pandera.polars`` took 1.3-1.6 s of CPU in each process that checks a file
(each API worker, each upload process, the scheduler, the command line); without them, 0.4-0.6 s. pandera
supports an installation without them: when neither can be imported it registers its checks without them
(``pandera/__init__.py``), and that is the path taken here. They are hidden only from the thread importing pandera,
only while it does, and only where not imported already: any other thread, and anything after, imports them as ever.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType

import polars as pl

#: What pandera imports only for its pandas API.
_HIDDEN = ("numpy", "pandas")


class _Hidden(importlib.abc.MetaPathFinder):
    """Answer an import of numpy or pandas in one thread as a missing package would, so pandera takes its path
    without them; another thread importing either meanwhile (``sys.meta_path`` is the process's) is not refused."""

    def __init__(self) -> None:
        self._thread = threading.get_ident()

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,  # noqa: ARG002 (the finder protocol's; a name is enough here)
        target: ModuleType | None = None,  # noqa: ARG002 (the finder protocol's)
    ) -> importlib.machinery.ModuleSpec | None:
        """Refuse numpy and pandas (and their submodules); leave every other import to the finders after this."""
        if fullname.split(".", 1)[0] in _HIDDEN and threading.get_ident() == self._thread:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


@contextmanager
def _without_pandas_api() -> Iterator[None]:
    """Hide numpy and pandas from this thread's imports for the block (one imported already is found as ever)."""
    hidden = _Hidden()
    sys.meta_path.insert(0, hidden)
    try:
        yield
    finally:
        sys.meta_path.remove(hidden)


with _without_pandas_api():
    import pandera.polars as pa

    # pandera looks for its pandas backends at the first check it runs and remembers what it found: one check run
    # now, while they are hidden, has it remember there are none (a polars frame is checked by polars' own).
    pa.DataFrameSchema({"x": pa.Column(pl.Int64, pa.Check.ge(0))}).validate(pl.DataFrame({"x": [0]}))

__all__ = ["pa"]
