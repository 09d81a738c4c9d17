"""The model package: one ``.fuiqa`` file (a zip) holding ONNX graph, torch weights and metadata.

Members
-------
``meta.json``   format tag, architecture, input size, whether trained, on what data (hash, synthetic?),
                generator seeds, metrics, creation time, and the SHA-256 of every other member.
``model.onnx``  the graph the CPU/GPU scorers run (input ``image`` (N,1,S,S); outputs ``score`` (N,),
                ``heatmap`` (N,h,w), ``attention`` (N,h,w)).
``weights.pt``  torch ``state_dict`` (for the torch scorer, fine-tuning and re-export).

Loading checks everything and raises :class:`ModelError` with the file name and what is wrong, so a
corrupt or mismatched file never half-loads. Writing is atomic: a temp file in the same folder, then
``os.replace`` — an interrupted write never replaces a good model.

This module does not import torch (the ONNX Runtime scorer and the GUI run without it).
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

FORMAT = "fuiqa-model/1"
SUFFIX = ".fuiqa"
REQUIRED_META = ("format", "arch", "input_size", "trained", "version")


class ModelError(Exception):
    """A model file is missing, corrupt, or not what the caller needs."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class ModelPackage:
    path: Path | None
    meta: dict
    onnx: bytes
    weights: bytes | None = None
    _hash: str | None = field(default=None, repr=False)

    @property
    def input_size(self) -> int:
        return int(self.meta["input_size"])

    @property
    def trained(self) -> bool:
        return bool(self.meta.get("trained"))

    @property
    def synthetic(self) -> bool:
        return bool(self.meta.get("synthetic_training_data", False))

    @property
    def name(self) -> str:
        return self.meta.get("name") or (self.path.stem if self.path else "model")

    @property
    def model_hash(self) -> str:
        """Hash of the ONNX graph: the key for TensorRT engine caches."""
        if self._hash is None:
            self._hash = sha256(self.onnx)
        return self._hash

    @property
    def training_note(self) -> str | None:
        """What the model was trained on, in a few words for banners and reports (None: not said).
        ``meta["training_data"]["short"]`` where given; else "SYNTHETIC DATA" for a synthetic-only model."""
        td = self.meta.get("training_data")
        if isinstance(td, dict) and td.get("short"):
            return str(td["short"])
        if self.synthetic:
            return "SYNTHETIC DATA"
        return None

    def warning(self) -> str | None:
        """The loud warning to show with every score, or None for a trained model."""
        if not self.trained:
            return "UNTRAINED MODEL: random weights, the scores are NOT image quality"
        return None

    def describe(self) -> str:
        m = self.meta
        bits = [f"{self.name} ({m['arch'].get('name', '?')}, {m['arch'].get('fusion', '?')}, {self.input_size}px)"]
        bits.append("trained" if self.trained else "UNTRAINED")
        if self.training_note:
            bits.append(f"on {self.training_note}")
        met = m.get("metrics") or {}
        if "srcc" in met:
            bits.append(f"test SRCC {met['srcc']:.3f} PLCC {met.get('plcc', float('nan')):.3f}")
        return ", ".join(bits)


def load(path: str | os.PathLike) -> ModelPackage:
    """Load and validate a ``.fuiqa`` model file (raises :class:`ModelError`)."""
    p = Path(path)
    if not p.exists():
        raise ModelError(f"model file not found: {p}")
    if p.is_dir():
        raise ModelError(f"model path is a folder, not a .fuiqa file: {p}")
    if p.stat().st_size == 0:
        raise ModelError(f"model file is empty: {p}")
    try:
        with zipfile.ZipFile(p) as z:
            names = set(z.namelist())
            if "meta.json" not in names:
                raise ModelError(f"not a FUIQA model (no meta.json inside): {p}")
            try:
                meta = json.loads(z.read("meta.json").decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                raise ModelError(f"model metadata is not valid JSON in {p}: {e}") from None
            if "model.onnx" not in names:
                raise ModelError(f"model file has no ONNX graph (model.onnx): {p}")
            onnx = z.read("model.onnx")
            weights = z.read("weights.pt") if "weights.pt" in names else None
    except zipfile.BadZipFile as e:
        raise ModelError(f"model file is corrupt or truncated (not a valid zip): {p}: {e}") from None
    except (zipfile.LargeZipFile, OSError, EOFError, ValueError) as e:
        raise ModelError(f"model file could not be read: {p}: {e}") from None
    _validate(meta, onnx, weights, p)
    return ModelPackage(p, meta, onnx, weights)


def _validate(meta: dict, onnx: bytes, weights: bytes | None, p) -> None:
    if not isinstance(meta, dict):
        raise ModelError(f"model metadata is not an object in {p}")
    missing = [k for k in REQUIRED_META if k not in meta]
    if missing:
        raise ModelError(f"model metadata in {p} lacks {', '.join(missing)}")
    if meta["format"] != FORMAT:
        raise ModelError(f"model {p} has format {meta['format']!r}; this program reads {FORMAT!r}")
    try:
        size = int(meta["input_size"])
    except (TypeError, ValueError):
        raise ModelError(f"model {p}: input_size {meta['input_size']!r} is not a number") from None
    if int(meta["arch"].get("input_size", size)) != size:
        raise ModelError(f"model {p}: input_size {size} does not match its architecture")
    sums = meta.get("sha256", {})
    for member, data in (("model.onnx", onnx), ("weights.pt", weights)):
        if data is None:
            continue
        want = sums.get(member)
        if want is None:
            raise ModelError(f"model {p}: no checksum recorded for {member}")
        if sha256(data) != want:
            raise ModelError(f"model {p}: {member} is corrupt (checksum mismatch)")


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a model or CSV should read like any file
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def save(path: str | os.PathLike, meta: dict, onnx: bytes, weights: bytes | None = None) -> ModelPackage:
    """Write a model package atomically, then re-load it to prove it is complete and valid."""
    meta = dict(meta)
    meta.setdefault("format", FORMAT)
    meta.setdefault("version", 1)
    meta.setdefault("created", time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    meta["sha256"] = {"model.onnx": sha256(onnx)}
    if weights is not None:
        meta["sha256"]["weights.pt"] = sha256(weights)
    _validate(meta, onnx, weights, path)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("meta.json", json.dumps(meta, indent=2, sort_keys=True))
        z.writestr("model.onnx", onnx)
        if weights is not None:
            z.writestr("weights.pt", weights)
    atomic_write_bytes(path, buf.getvalue())
    return load(path)


def default_model_path() -> Path:
    """The shipped default model (assets/models/default.fuiqa)."""
    return Path(__file__).resolve().parent.parent / "assets" / "models" / "default.fuiqa"


# ---------------------------------------------------------------- torch side (imports torch lazily)


def torch_model(pkg: ModelPackage, device: str = "cpu"):
    """Rebuild the torch :class:`~engine.model.MQFNet` from a package (needs ``weights.pt``)."""
    import torch

    from .model import ArchConfig, MQFNet

    if pkg.weights is None:
        raise ModelError(f"model {pkg.path} carries no torch weights (weights.pt)")
    model = MQFNet(ArchConfig.from_dict(pkg.meta["arch"]))
    try:
        state = torch.load(io.BytesIO(pkg.weights), map_location=device, weights_only=True)
        model.load_state_dict(state)
    except Exception as e:  # noqa: BLE001 - any failure here means the file does not fit the arch
        raise ModelError(f"model {pkg.path}: weights do not match the architecture: {e}") from None
    return model.to(device).eval()
