"""The ``fuiqa`` command. Each layer registers its own subcommands; heavy imports happen only when a
subcommand runs (``fuiqa roi`` never loads torch or Qt)."""
from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    from engine import cli as engine_cli
    from train import synth_cli, train_cli

    from . import gui_cli

    p = argparse.ArgumentParser(prog="fuiqa", description="FUIQA Scan Assistant: fetal ultrasound image quality")
    sub = p.add_subparsers(dest="command", required=True)
    for module in (engine_cli, synth_cli, train_cli, gui_cli):
        module.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
