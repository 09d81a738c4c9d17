"""Entry script for the PyInstaller bundle (build_installer.spec): the same ``fuiqa`` CLI."""
import sys

from app.cli import main

if __name__ == "__main__":
    sys.exit(main())
