"""``fuiqa gui`` (registered by app/cli.py)."""
from __future__ import annotations


def register(sub) -> None:
    pass
