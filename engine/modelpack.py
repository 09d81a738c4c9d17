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
#: Largest member sizes read from a model file (checked in the zip directory before reading, so a
#: damaged or hostile file cannot make the loader allocate gigabytes).
MAX_MEMBER_BYTES = {"meta.json": 4 << 20, "model.onnx": 1 << 30, "weights.pt": 1 << 30}


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

    def training_warning(self) -> str | None:
        """The banner's and the reports' line on the training data (one wording everywhere), or None
        where the model says nothing of it."""
        if self.synthetic:
            return "MODEL TRAINED ON SYNTHETIC DATA — scores are a demonstration only"
        if self.training_note:
            return f"MODEL TRAINED ON {self.training_note} — not yet validated for clinical use"
        return None

    def warning(self) -> str | None:
        """The loud warning to show with every score, or None for a trained model."""
        if not self.trained:
            return "UNTRAINED MODEL: random weights, the scores are NOT image quality"
        return None

    def describe(self) -> str:
        m = self.meta
        bits = [f"{self.name} ({m['arch'].get('name', '?')}, {m['arch'].get('fusion', '?')}, {self.input_size}px)"]
        state = "trained" if self.trained else "UNTRAINED"
        bits.append(f"{state} on {self.training_note}" if self.training_note else state)
        met = m.get("metrics") or {}
        if isinstance(met, dict) and "srcc" in met:
            try:
                bits.append(f"test SRCC {float(met['srcc']):.3f} PLCC {float(met.get('plcc', float('nan'))):.3f}")
            except (TypeError, ValueError):
                bits.append("test metrics unreadable")
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
            if "model.onnx" not in names:
                raise ModelError(f"model file has no ONNX graph (model.onnx): {p}")
            for member, limit in MAX_MEMBER_BYTES.items():
                if member in names and z.getinfo(member).file_size > limit:
                    raise ModelError(f"model file {p}: member {member} declares {z.getinfo(member).file_size} bytes "
                                     f"(more than the {limit} allowed; damaged file?)")
            try:
                meta = json.loads(z.read("meta.json").decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
                raise ModelError(f"model metadata is not valid JSON in {p}: {e}") from None
            onnx = z.read("model.onnx")
            weights = z.read("weights.pt") if "weights.pt" in names else None
    except ModelError:
        raise
    except zipfile.BadZipFile as e:
        raise ModelError(f"model file is corrupt or truncated (not a valid zip): {p}: {e}") from None
    except Exception as e:  # noqa: BLE001 - zlib.error, LargeZipFile, OSError, EOFError, ... on damaged files
        raise ModelError(f"model file could not be read: {p}: {type(e).__name__}: {e}") from None
    _validate(meta, onnx, weights, p)
    check_graph(onnx, int(meta["input_size"]), p)
    return ModelPackage(p, meta, onnx, weights)


def check_graph(onnx_bytes: bytes, size: int, p) -> None:
    """The graph's input must be ``image`` of shape (N, 1, size, size) as the metadata says; a graph
    that disagrees would score garbage (torch) or fail on every frame (ONNX Runtime)."""
    try:
        import onnx
    except ImportError:  # pragma: no cover - onnx is a dependency
        return
    try:
        g = onnx.load_model_from_string(onnx_bytes).graph
    except Exception as e:  # noqa: BLE001 - protobuf DecodeError and friends
        raise ModelError(f"model {p}: model.onnx is not a readable ONNX graph ({type(e).__name__}: {e})") from None
    inits = {i.name for i in g.initializer}
    inputs = [i for i in g.input if i.name not in inits]
    if len(inputs) != 1:
        raise ModelError(f"model {p}: model.onnx has {len(inputs)} inputs; expected one image input")
    dims = inputs[0].type.tensor_type.shape.dim
    shape = [d.dim_value if d.HasField("dim_value") else None for d in dims]
    if len(shape) != 4 or shape[1] != 1 or any(v is not None and v != size for v in shape[2:]):
        shown = ["N" if v is None else v for v in shape]
        raise ModelError(f"model {p}: model.onnx takes input {shown} but its metadata says (N, 1, {size}, {size})")


def _validate(meta: dict, onnx: bytes, weights: bytes | None, p) -> None:
    if not isinstance(meta, dict):
        raise ModelError(f"model metadata is not an object in {p}")
    missing = [k for k in REQUIRED_META if k not in meta]
    if missing:
        raise ModelError(f"model metadata in {p} lacks {', '.join(missing)}")
    if meta["format"] != FORMAT:
        raise ModelError(f"model {p} has format {meta['format']!r}; this program reads {FORMAT!r}")
    if not isinstance(meta["arch"], dict):
        raise ModelError(f"model {p}: arch is {type(meta['arch']).__name__}, not an object")
    try:
        size = int(meta["input_size"])
        arch_size = int(meta["arch"].get("input_size", size))
    except (TypeError, ValueError, OverflowError):
        raise ModelError(f"model {p}: input_size {meta['input_size']!r} is not a number") from None
    if not 16 <= size <= 4096:
        raise ModelError(f"model {p}: input_size {size} is out of range (16..4096)")
    if arch_size != size:
        raise ModelError(f"model {p}: input_size {size} does not match its architecture")
    sums = meta.get("sha256", {})
    if not isinstance(sums, dict):
        raise ModelError(f"model {p}: sha256 is not an object")
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
