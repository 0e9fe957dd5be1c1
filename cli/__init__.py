"""The command line (``onereturn`` and its subcommands), its admin commands and the demo loader."""

from onereturn import memory  # noqa: F401 - first, so polars starts with its allocator configured

# isort: split
from cli.commands import main

__all__ = ["main"]
