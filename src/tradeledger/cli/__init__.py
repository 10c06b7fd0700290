"""The command line (Typer and Rich). `tradeledger --help` lists the commands."""

from tradeledger.cli.app import app, main

__all__ = ["app", "main"]
