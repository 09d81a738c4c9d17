"""The program's own model store: the folder the active model lives in, so that it never changes
without the user.

* :func:`install` copies a validated model file into the store: written to a temp file, then linked
  to a free name (``os.link`` fails rather than replace, so an existing model is never overwritten,
  not even by a race); the same file twice is stored once. Returns the stored path and its SHA-256.
* :func:`load_pinned` loads a stored model only if its bytes still have the SHA-256 recorded when it
  was made active (``fuiqa train --out <store folder>`` or any other writer cannot swap it unnoticed).
* :func:`scan` lists every model in the store; a corrupt file is an entry marked broken (with the
  reason), never an exception.

No Qt here: the GUI (app/models.py) keeps the pin in its settings.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from . import modelpack
from .modelpack import ModelError


def file_sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _safe_stem(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("._")[:60]
    return s or "model"


def install(src, store_dir) -> tuple[Path, str]:
    """Copy model file ``src`` into ``store_dir`` (validated first; never over an existing file).
    Returns ``(stored path, sha256)``; raises :class:`ModelError`."""
    src, store = Path(src), Path(store_dir)
    pkg = modelpack.load(src)
    data = src.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    store.mkdir(parents=True, exist_ok=True)
    if src.resolve().is_relative_to(store.resolve()):
        return src, sha  # already in the store (a retrained model is written into a folder of it)
    for p in sorted(store.glob("*.fuiqa")):
        try:
            if p.stat().st_size == len(data) and file_sha256(p) == sha:
                return p, sha  # the same model is already there
        except OSError:
            continue
    fd, tmp = tempfile.mkstemp(prefix=".install.", suffix=".tmp", dir=store)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        stem = _safe_stem(pkg.name or src.stem)
        for k in range(1, 1000):
            dst = store / (f"{stem}.fuiqa" if k == 1 else f"{stem}-{k}.fuiqa")
            try:
                os.link(tmp, dst)  # atomic, and fails if dst exists: never replaces a model
                break
            except FileExistsError:
                continue
            except OSError:  # a file system without hard links: exclusive create + rename is the fallback
                if dst.exists():
                    continue
                os.replace(tmp, dst)
                break
        else:
            raise ModelError(f"{store}: no free name for {stem}.fuiqa")
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass
    if file_sha256(dst) != sha:
        raise ModelError(f"{dst}: copy does not match {src} (disk problem?)")
    return dst, sha


def load_pinned(path, sha256: str | None) -> modelpack.ModelPackage:
    """Load ``path``; when ``sha256`` is given the file must still hash to it."""
    p = Path(path)
    if sha256:
        try:
            got = file_sha256(p)
        except OSError as e:
            raise ModelError(f"active model {p} cannot be read ({e})") from None
        if got != sha256:
            raise ModelError(f"active model {p} changed since it was made active (SHA-256 {got[:12]}…, "
                             f"pinned {sha256[:12]}…); choose it again in the Model manager to trust it")
    return modelpack.load(p)


def scan(store_dir) -> list[dict]:
    """Every ``*.fuiqa`` (and ``*/model.fuiqa``) in the store: dicts with ``path``, ``package`` (or
    None), ``error`` (or None) and ``broken``."""
    store = Path(store_dir)
    out = []
    if not store.is_dir():
        return out
    for p in sorted(store.glob("*.fuiqa")) + sorted(store.glob("*/model.fuiqa")):
        try:
            pkg, err = modelpack.load(p), None
        except Exception as e:  # noqa: BLE001 - one bad file must not hide the others
            pkg, err = None, str(e) or type(e).__name__
        out.append({"path": str(p), "package": pkg, "error": err, "broken": pkg is None})
    return out
