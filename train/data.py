"""Labelled data: a folder of images (or DICOMs) plus ``labels.csv``.

``labels.csv`` columns: ``name,mos[,std][,split][,plane][,group]`` (pyiqa's name,mos,std,split layout,
so existing IQA sets drop in); extra columns are kept in ``Item.extra`` (e.g. the synthetic
generator's per-criterion flags). ``name`` is a path relative to the folder (also looked up under
``images/``); mos is on 0-100.

Validation lists every bad row (row number, name, problem): missing columns, missing files,
unreadable images, NaN / non-numeric / out-of-range scores, bad std, unknown split, duplicate names,
groups that straddle splits, a split with too few images. Nothing is skipped silently: with
``skip_bad=True`` bad rows are dropped and each one is listed in ``LabelledSet.skipped`` (and logged).

Without a split column, splits are drawn deterministically from ``seed``, by ``group`` (sweep or
patient; each image is its own group when there is none), so frames of one sweep never straddle
splits.
"""
from __future__ import annotations

import csv
import hashlib
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
_SPLIT_ALIASES = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
                  "test": "test", "testing": "test"}
LABELS = "labels.csv"
MARKER = "SYNTHETIC.txt"
MAX_LISTED = 40
MAX_NAME = 1024  # characters in a labels.csv name
MIN_SIDE = 16  # pixels: smaller images cannot be scored (ROI search and the model need some area)


class DataError(Exception):
    """Bad labelled data; the message lists the bad rows (row number, name, problem)."""


@dataclass
class Item:
    name: str
    path: Path
    mos: float
    std: float | None
    split: str
    plane: str | None
    group: str | None
    extra: dict = field(default_factory=dict)  # other labels.csv columns, as text


@dataclass
class LabelledSet:
    root: Path
    items: list[Item]
    skipped: list[str]
    synthetic: bool = False
    seed: int = 0

    def split(self, name: str) -> list[Item]:
        """Items of split ``name`` ("train" | "val" | "test"), in labels.csv order."""
        key = _SPLIT_ALIASES.get(str(name).lower())
        if key is None:
            raise ValueError(f"unknown split {name!r}; use one of {', '.join(SPLITS)}")
        return [it for it in self.items if it.split == key]

    def hash(self) -> str:
        """SHA-256 over every item's labels (name, mos, std, split, plane, group) and image bytes."""
        h = hashlib.sha256()
        for it in sorted(self.items, key=lambda i: i.name):
            std = "" if it.std is None else f"{it.std:.4f}"
            h.update(f"{it.name}\t{it.mos:.4f}\t{std}\t{it.split}\t{it.plane or ''}\t{it.group or ''}\n".encode())
            h.update(_file_digest(it.path))
        return h.hexdigest()

    def __len__(self) -> int:
        return len(self.items)

    def summary(self) -> dict:
        mos = np.array([it.mos for it in self.items], float)
        return {"root": str(self.root), "n": len(self.items), "synthetic": self.synthetic,
                "splits": {s: len(self.split(s)) for s in SPLITS}, "skipped": len(self.skipped),
                "mos_min": float(mos.min()) if mos.size else None, "mos_max": float(mos.max()) if mos.size else None}


def _file_digest(path: Path) -> bytes:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.digest()


def read_image(path) -> np.ndarray:
    """One image as ``uint8`` gray ``H×W`` or BGR ``H×W×3``; a DICOM gives its first frame.
    Raises :class:`DataError` naming the file and the problem."""
    from engine.sources import SourceError, open_source

    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such image file")
    try:
        with open_source(str(p)) as src:
            fr = src.read()
    except SourceError as e:
        raise DataError(str(e)) from e
    except Exception as e:  # noqa: BLE001 - decoders raise many kinds
        raise DataError(f"{p}: cannot be read as an image ({type(e).__name__}: {e})") from e
    if fr is None or fr.image is None or fr.image.size == 0:
        raise DataError(f"{p}: holds no image")
    img = np.asarray(fr.image)
    if min(img.shape[:2]) < MIN_SIDE:
        raise DataError(f"{p}: image is {img.shape[1]}x{img.shape[0]} pixels; need at least {MIN_SIDE}x{MIN_SIDE}")
    if img.dtype != np.uint8:
        raise DataError(f"{p}: decoded to {img.dtype}, expected uint8")
    return img


def _name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a file inside the data folder (None when it can)."""
    if len(name) > MAX_NAME:
        return f"name is {len(name)} characters long (at most {MAX_NAME})"
    if "\0" in name:
        return "name contains a NUL character"
    pure = Path(name.replace("\\", "/"))
    if pure.is_absolute() or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "name is an absolute path; names must be relative to the data folder"
    if ".." in pure.parts:
        return "name leaves the data folder ('..'); names must be relative to the data folder"
    return None


def _resolve(base: Path, name: str) -> Path | None:
    for cand in (base / name, base / "images" / name):
        if cand.is_file():
            return cand
    return None


def _num(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _fail(problems: list[str], what: str) -> DataError:
    head = f"{what}: {len(problems)} bad row(s)"
    listed = problems[:MAX_LISTED]
    more = f"\n  ... and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
    return DataError(head + "\n  " + "\n  ".join(listed) + more)


def _assign_splits(groups: list[str], seed: int, fractions) -> dict[str, str]:
    """Deterministic group -> split: groups shuffled by ``seed``, then filled in order until each
    split holds its share of the images."""
    fr = np.asarray(fractions, float)
    if fr.shape != (3,) or np.any(fr < 0) or fr.sum() <= 0:
        raise ValueError(f"fractions must be three non-negative numbers (train, val, test), got {fractions}")
    fr = fr / fr.sum()
    counts: dict[str, int] = {}
    for g in groups:
        counts[g] = counts.get(g, 0) + 1
    uniq = sorted(counts)
    order = np.random.default_rng(seed).permutation(len(uniq))
    total = len(groups)
    target = np.cumsum(fr) * total
    out, filled, k = {}, 0, 0
    for idx in order:
        g = uniq[idx]
        while k < 2 and filled >= target[k] - 1e-9:
            k += 1
        out[g] = SPLITS[k]
        filled += counts[g]
    return out


def load_labelled(root, *, skip_bad: bool = False, seed: int = 0, fractions=(0.7, 0.15, 0.15), min_split: int = 2,
                  check_images: bool = True) -> LabelledSet:
    """Load and validate a labelled folder (or a labels CSV file's folder). See the module notes."""
    root = Path(root)
    if root.is_file() and root.suffix.lower() == ".csv":
        csv_path, base = root, root.parent
    else:
        csv_path, base = root / LABELS, root
    if not base.is_dir():
        raise DataError(f"{base}: no such folder")
    if not csv_path.is_file():
        raise DataError(f"{base}: no {LABELS} (need columns name,mos[,std][,split][,plane][,group])")
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{csv_path}: cannot be read as UTF-8 text ({e})") from e
    reader = csv.reader(text.splitlines())
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise DataError(f"{csv_path}: empty file (need a header row name,mos[,std][,split][,plane][,group])") from None
    except csv.Error as e:
        raise DataError(f"{csv_path}: header row is not valid CSV ({e})") from None
    dup = sorted({h.lower() for h in header if h and [x.lower() for x in header].count(h.lower()) > 1})
    if dup:
        raise DataError(f"{csv_path}: column(s) {', '.join(dup)} appear more than once in the header "
                        f"({','.join(header)[:200]}); which one holds the labels is ambiguous")
    cols = {h.lower(): i for i, h in enumerate(header) if h}
    missing_cols = [c for c in ("name", "mos") if c not in cols]
    if missing_cols:
        raise DataError(f"{csv_path}: missing column(s) {', '.join(missing_cols)}; header is {','.join(header)}")
    std_col, split_col = cols.get("std"), cols.get("split")
    plane_col, group_col = cols.get("plane"), cols.get("group")
    known = {cols[c] for c in ("name", "mos", "std", "split", "plane", "group") if c in cols}
    extra_cols = [(i, h) for i, h in enumerate(header) if i not in known and h]

    rows = []  # (rowno, cells)
    try:
        for rowno, cells in enumerate(reader, start=2):
            if not any(c.strip() for c in cells):
                continue
            rows.append((rowno, cells))
    except csv.Error as e:  # e.g. a field longer than the csv module's limit (131072 characters)
        raise DataError(f"{csv_path}: row {reader.line_num} is not valid CSV ({e})") from None
    if not rows:
        raise DataError(f"{csv_path}: no data rows")
    split_values = [(r[split_col].strip() if split_col is not None and split_col < len(r) else "") for _, r in rows]
    has_split = any(split_values)

    problems: list[str] = []
    bad: set[int] = set()
    items: list[tuple[int, Item]] = []
    seen: dict[str, int] = {}

    def cell(r, i):
        return r[i].strip() if i is not None and i < len(r) else ""

    for (rowno, r), sv in zip(rows, split_values):
        name = cell(r, cols["name"])
        errs = []
        if len(r) < len(header) and len(r) <= max(cols["name"], cols["mos"]):
            errs.append(f"has {len(r)} field(s), header has {len(header)}")
        if not name:
            errs.append("empty name")
        elif _name_problem(name):
            errs.append(_name_problem(name))
            name = name[:80] + "..." if len(name) > 80 else name
        elif name in seen:
            errs.append(f"duplicate name (first on row {seen[name]})")
        mos_t = cell(r, cols["mos"])
        mos = _num(mos_t)
        if mos is None:
            errs.append(f"mos {mos_t!r} is not a number")
        elif not math.isfinite(mos):
            errs.append(f"mos is {mos_t}")
        elif not 0.0 <= mos <= 100.0:
            errs.append(f"mos {mos:g} outside 0-100")
        std = None
        std_t = cell(r, std_col)
        if std_t:
            std = _num(std_t)
            if std is None or not math.isfinite(std) or std < 0:
                errs.append(f"std {std_t!r} is not a non-negative number")
        split = ""
        if has_split:
            split = _SPLIT_ALIASES.get(sv.lower(), "")
            if not split:
                errs.append(f"split {sv!r} is not one of train/val/test" if sv else "empty split")
        path = None
        if name and not errs:
            path = _resolve(base, name)
            if path is None:
                errs.append(f"file not found ({base / name})")
            elif check_images:
                try:
                    read_image(path)
                except DataError as e:
                    errs.append(f"unreadable image ({e})")
        if name and name not in seen:
            seen[name] = rowno
        if errs:
            problems.append(f"row {rowno} ({name or '?'}): " + "; ".join(errs))
            bad.add(rowno)
            continue
        extra = {h: cell(r, i) for i, h in extra_cols}
        items.append((rowno, Item(name, path, float(mos), std, split, cell(r, plane_col) or None,
                                  cell(r, group_col) or None, extra)))

    skipped: list[str] = []
    if problems:
        if not skip_bad:
            raise _fail(problems, str(csv_path))
        for p in problems:
            log.warning("skipped %s", p)
        skipped = list(problems)
    if not items:
        raise DataError(f"{csv_path}: no usable rows" + (f" ({len(skipped)} skipped)" if skipped else ""))
    its = [it for _, it in items]

    if has_split:
        by_group: dict[str, set] = {}
        for it in its:
            if it.group:
                by_group.setdefault(it.group, set()).add(it.split)
        straddle = sorted(g for g, s in by_group.items() if len(s) > 1)
        if straddle:
            rows_of = {it.name: rn for rn, it in items}
            listed = [f"group {g}: splits {sorted(by_group[g])}, rows "
                      + ", ".join(str(rows_of[it.name]) for it in its if it.group == g)[:200] for g in straddle]
            raise _fail(listed, f"{csv_path}: groups straddle splits (frames of one sweep/patient must stay together)")
        need = [s for s in SPLITS if any(it.split == s for it in its)] or ["train"]
        if "train" not in need:
            need.insert(0, "train")
    else:
        assign = _assign_splits([it.group or f"\0{it.name}" for it in its], seed, fractions)
        for it in its:
            it.split = assign[it.group or f"\0{it.name}"]
        need = [s for s, f in zip(SPLITS, fractions) if f > 0]
    for s in need:
        n = sum(1 for it in its if it.split == s)
        if n < min_split:
            how = "split column" if has_split else f"fractions {tuple(fractions)}, seed {seed}"
            raise DataError(f"{csv_path}: split '{s}' has {n} image(s); need at least {min_split} "
                            f"({len(its)} usable images, {how}); add images or change the fractions")
    synthetic = (base / MARKER).is_file() or any(
        str(it.extra.get("synthetic", "")).strip().lower() in ("1", "true", "yes") for it in its)
    return LabelledSet(base, its, skipped, synthetic, seed)
