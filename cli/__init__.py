"""The command line (``onereturn`` and its subcommands), its admin commands and the demo loader."""

from onereturn import memory  # first, so polars starts with its allocator configured

# isort: split
with memory.collector_off():
    from cli.commands import main

__all__ = ["main"]
