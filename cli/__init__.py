"""The command line (``onereturn`` and its subcommands), its admin commands and the demo loader."""

from cli.commands import main

__all__ = ["main"]
