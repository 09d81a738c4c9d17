"""Subcommands of ``fuiqa`` that belong to this package (registered by app/cli.py)."""
from __future__ import annotations


def register(sub) -> None:
    """Add this package's subcommands to ``sub`` (an argparse subparsers object)."""
