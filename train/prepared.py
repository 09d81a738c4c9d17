"""Labelled images -> cached model inputs (uint8, preprocessed once) with their head targets."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from engine.preprocess import MEAN, STD, grid_coverage, preprocess

from .config import TrainConfig, TrainError

# --------------------------------------------------------------------------------------------------
# data


@dataclass
class Split:
    x: np.ndarray  # uint8 (N, S, S): the preprocessed model inputs, 8-bit gray
    y: np.ndarray  # float32 (N,) labels 0–100
    names: list[str]
    groups: list | None = None  # per-image group (patient, sweep) for the bootstrap; None: images are independent
    plane: np.ndarray | None = None  # int64 (N,) index into engine.result.PLANES; -1 = not labelled
    crit: np.ndarray | None = None  # float32 (N, len(CRITERIA)) 0/1; NaN = not labelled / not applicable
    # per heatmap cell, from an ``artefact_map`` column: uint8 (N, 3, g, g) share ×255 of the cell that is
    # artefact (shadow / lift-off), imaging region, and a required structure; ``has_cells`` (N,) marks the
    # rows with a map
    cells: np.ndarray | None = None
    has_cells: np.ndarray | None = None
    # bool (N,): an ultrasound scan, fetal or not (the density check's scans), as against a frame that is
    # not ultrasound at all (photo, noise, another modality); None: decided by ``plane`` (not "none")
    scan: np.ndarray | None = None

    def __len__(self):
        return len(self.y)


#: labels.csv plane names -> engine.result.PLANES (anything else: not labelled)
_PLANE_ALIASES = {"negative": "none", "background": "none", "4ch": "4CH", "brain": "head"}


def head_targets(items) -> tuple[np.ndarray, np.ndarray]:
    """Plane index and criteria targets of labelled items.

    plane: the ``plane`` column (head / abdomen / femur / 4CH / none); -1 where absent or unknown.
    criteria: the generator's ``f_structures … f_artefacts`` flags for the global criteria and, per
    structure of the item's plane, 1 unless the ``missing`` column names it; NaN where not labelled
    (a site's labels.csv with only ``mos`` trains the score alone).
    """
    from engine.result import CRITERIA, GLOBAL_CRITERIA, PLANES, STRUCTURES

    n = len(items)
    plane = np.full(n, -1, np.int64)
    crit = np.full((n, len(CRITERIA)), np.nan, np.float32)
    col = {c: i for i, c in enumerate(CRITERIA)}
    for i, it in enumerate(items):
        p = (it.plane or "").strip()
        p = _PLANE_ALIASES.get(p.lower(), p)
        if p in PLANES:
            plane[i] = PLANES.index(p)
        ex = it.extra or {}
        for g in GLOBAL_CRITERIA:
            v = str(ex.get(f"f_{g}", "")).strip()
            if v in ("0", "1"):
                crit[i, col[g]] = float(v)
        if p in STRUCTURES and ("missing" in ex or f"f_structures" in ex):
            missing = {m for m in str(ex.get("missing", "")).split(";") if m}
            for st in STRUCTURES[p]:
                crit[i, col[st]] = 0.0 if st in missing else 1.0
    return plane, crit


@dataclass
class Prepared:
    train: Split
    val: Split
    test: Split
    size: int
    data_hash: str = ""
    synthetic: bool = False
    generator: dict | None = None
    root: str = ""
    skipped: list = field(default_factory=list)


def find_roi_box(img: np.ndarray):
    """ROI box via engine.roi.find_roi (the scoring path's ROI finder); None (whole frame) until
    engine/roi.py exists."""
    try:
        from engine.roi import find_roi
    except ImportError:
        return None
    return find_roi(img).box


def input_to_u8(x: np.ndarray) -> np.ndarray:
    """Inverse of preprocess's normalisation (exact: preprocess quantises to uint8 first)."""
    return np.clip(np.rint((x * STD + MEAN) * 255.0), 0, 255).astype(np.uint8)


def u8_to_gray01(u8):
    """uint8 (…) -> float gray in [0, 1] (numpy or torch)."""
    return u8 / 255.0 if isinstance(u8, np.ndarray) else u8.float() / 255.0


def artefact_cells(it, img: np.ndarray, box, size: int, grid: int) -> np.ndarray | None:
    """uint8 (3, grid, grid): artefact, imaging-region and structure share ×255 of each cell, from the
    item's ``artefact_map`` (a PNG beside its image, generator levels: 0 outside, 64 a required
    structure, 128 the rest of the image, 255 artefact);
    None when the item has none. A map that is missing or of another size is a DataError naming it."""
    from .data import DataError, read_image

    rel = str((it.extra or {}).get("artefact_map", "") or "").strip()
    if not rel:
        return None
    # relative to the data set's folder (the one holding labels.csv), like the image names
    root = next((d for d in Path(it.path).parents if (d / "labels.csv").is_file()), Path(it.path).parent)
    p = root / rel
    try:
        m = read_image(p)
    except DataError as e:
        raise DataError(f"{it.name}: its artefact_map {rel}: {e}") from None
    m = m if m.ndim == 2 else m[..., 0]
    if m.shape[:2] != img.shape[:2]:
        raise DataError(f"{it.name}: its artefact_map {rel} is {m.shape[1]}x{m.shape[0]}, "
                        f"the image {img.shape[1]}x{img.shape[0]}")
    art = grid_coverage(m >= 192, box, size, grid)
    fan = grid_coverage(m >= 32, box, size, grid)
    struct = grid_coverage((m >= 32) & (m < 96), box, size, grid)
    return np.rint(np.stack([art, fan, struct]) * 255).astype(np.uint8)


def prepare_items(items, size: int, progress: Callable | None = None, what: str = "", grid: int | None = None) -> Split:
    from .data import read_image

    n = len(items)
    x = np.empty((n, size, size), np.uint8)
    buf = np.empty((1, size, size), np.float32)
    g = grid or max(1, size // 8)
    cells, has = np.zeros((n, 3, g, g), np.uint8), np.zeros(n, bool)
    for i, it in enumerate(items):
        img = read_image(it.path)
        box = find_roi_box(img)
        preprocess(img, box, size, out=buf)
        x[i] = input_to_u8(buf[0])
        c = artefact_cells(it, img, box, size, g)
        if c is not None:
            cells[i], has[i] = c, True
        if progress and (i % 50 == 0 or i == n - 1):
            progress({"event": "prepare", "split": what, "done": i + 1, "total": n})
    plane, crit = head_targets(items)
    return Split(x, np.array([it.mos for it in items], np.float32), [it.name for it in items],
                 [getattr(it, "group", None) for it in items], plane, crit,
                 cells if has.any() else None, has if has.any() else None, scan_rows(items, plane))


def scan_rows(items, plane: np.ndarray) -> np.ndarray:
    """Which rows are ultrasound scans: every row not labelled plane "none", and the "none" rows whose
    ``kind`` is a non-fetal ultrasound scene of the generator (train/synth/nonfetal.py) or a real
    non-fetal scan (train/nonfetal_real.py) — ultrasound that shows no fetal plane is still ultrasound;
    photos, noise and other modalities are not."""
    from engine.result import PLANES

    from .nonfetal_real import KIND as REAL_NONFETAL
    from .synth.nonfetal import NONFETAL

    kinds = set(NONFETAL) | {REAL_NONFETAL}
    none = PLANES.index("none")
    return np.array([p != none or str((it.extra or {}).get("kind", "")) in kinds for p, it in zip(plane, items)],
                    bool)


def _generator_info(ds) -> dict | None:
    g = getattr(ds, "generator", None)
    if g:
        return dict(g) if isinstance(g, dict) else {"info": str(g)}
    marker = Path(ds.root) / "SYNTHETIC.txt"
    if marker.exists():
        text = marker.read_text(errors="replace")
        try:  # `fuiqa synth` writes a short text header, then its settings (seed, n, ...) as JSON
            d = json.loads(text[text.index("{"):])
            if isinstance(d, dict):
                return d
        except (ValueError, json.JSONDecodeError):
            pass
        return {"marker": text.strip()[:2000]}
    return None


def prepare(data_root, config: TrainConfig, progress: Callable | None = None) -> Prepared:
    """Load labels, read + ROI + preprocess every image once; check the splits are big enough."""
    from engine.model import arch

    from .data import load_labelled

    ds = load_labelled(data_root, skip_bad=config.skip_bad, seed=config.split_seed, fractions=config.fractions)
    tr, va, te = ds.split("train"), ds.split("val"), ds.split("test")
    if len(tr) < config.min_train or len(va) < config.min_eval or len(te) < config.min_eval:
        raise TrainError(
            f"{data_root}: too few labelled images to train: train {len(tr)} (need >= {config.min_train}), "
            f"val {len(va)}, test {len(te)} (need >= {config.min_eval} each)"
        )
    if np.ptp([it.mos for it in tr]) <= 0:
        raise TrainError(f"{data_root}: all training labels are equal ({tr[0].mos}); nothing to learn")
    a = arch(config.model, config.fusion, config.input_size)
    size, grid = a.input_size, a.input_size // a.grid_stride
    return Prepared(
        prepare_items(tr, size, progress, "train", grid),
        prepare_items(va, size, progress, "val", grid),
        prepare_items(te, size, progress, "test", grid),
        size,
        ds.hash(),
        bool(ds.synthetic),
        _generator_info(ds),
        str(data_root),
        list(ds.skipped),
    )


def to_model_input(g):
    return (g - MEAN) / STD
