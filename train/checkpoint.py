"""The trainer's checkpoints: atomic saves, a packaged model's weights as a starting point, and a
checkpoint checked before anything is resumed from it (a bad one is set aside with a clear message)."""
from __future__ import annotations

import io
import os
import time
from pathlib import Path

from .config import TrainError


def _atomic_save(obj, path: Path) -> None:
    import torch

    from engine.modelpack import atomic_write_bytes

    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def init_weights(model, path) -> None:
    """Load a packaged model's weights into ``model`` (fine-tuning): layers of the same name and
    shape are taken, the rest (e.g. heads the old model lacks) keep their fresh init."""
    import torch

    from engine import modelpack

    pkg = modelpack.load(path)
    if pkg.weights is None:
        raise TrainError(f"init_from {path}: the model file carries no torch weights")
    state = torch.load(io.BytesIO(pkg.weights), map_location="cpu", weights_only=True)
    own = model.state_dict()
    take = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if len(take) < len(state) // 2:
        raise TrainError(f"init_from {path}: its architecture does not fit this model "
                         f"({len(take)} of {len(state)} tensors match)")
    model.load_state_dict(take, strict=False)


def _set_aside(path: Path, why: str):
    """Move a bad checkpoint out of the way (kept for inspection) and stop with a clear message."""
    bad = path.with_name(f"{path.stem}.bad-{time.strftime('%Y%m%d-%H%M%S')}{path.suffix}")
    try:
        os.replace(path, bad)
        where = f"set aside as {bad.name}; run again to start afresh"
    except OSError as e:
        where = f"could not be set aside ({e}); remove it to start afresh"
    raise TrainError(f"{path}: checkpoint {why}; {where}")


def _load_checkpoint(path: Path) -> dict:
    """The checkpoint's contents, checked before anything is resumed from it (else :func:`_set_aside`)."""
    import torch

    try:
        ck = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # noqa: BLE001 - truncated zip, bad pickle, ...
        _set_aside(path, f"is damaged or truncated ({type(e).__name__}: {str(e)[:200]})")
    need = ("config_key", "data_hash", "model", "optimizer", "scheduler", "epoch", "history", "best",
            "bad_epochs", "rng")
    if not isinstance(ck, dict) or any(k not in ck for k in need):
        missing = [k for k in need if not isinstance(ck, dict) or k not in ck]
        _set_aside(path, f"lacks {', '.join(missing)}")
    return ck


def _state_copy(model):
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
