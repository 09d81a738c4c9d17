"""More non-ultrasound frames, closer to what a capture card can really show: cross-sectional images of
other modalities (CT, MR, nuclear medicine) and photo-like scenes, on viewer canvases.

train.negatives makes flat, noise, texture and simple photo-like frames; a model trained on those
still scored a real photo 48 and let MR slices pass as scans. Kinds here (labelled 0–5, plane none):

- ``phantom``: a procedural tomography phantom — a body outline with organs as smooth ellipses and
  blobs of their own grey levels, edges sharp, Gaussian (not speckle) noise, optional blur: what CT
  and MR slices share, and ultrasound does not;
- ``leaves``: a "dead leaves" photo (the classic model of natural-image statistics) whose leaves carry
  their own 1/f texture, shading and sharp occlusion edges, colour or grey;
- ``medical``: a random crop / zoom / window of one of the pydicom-data DICOMs of other modalities
  listed in :data:`MEDICAL_FILES` — none of them used by bench/bench_real.py (pydicom's example CT,
  MR and overlay MR) or bench/bench_ood_design.py (its CT, MR, radiographs), so both stay checks.

Each frame is then shown like a viewer would: full frame, or on a black canvas (letterboxed, as a
DICOM viewer or capture of a workstation), with a grey map (gamma) and a flip. Seeded, procedural
except ``medical``, which reads installed test data only (skipped when pydicom-data is absent).
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .negatives import _one_over_f

KINDS = ("phantom", "leaves", "medical")

#: pydicom-data files of other modalities: not the bench's nor the OOD design material
MEDICAL_FILES = ("eCT_Supplemental.dcm", "explicit_VR-UN.dcm", "bad_sequence.dcm", "JPEG-LL.dcm",
                 "mlut_18.dcm", "vlut_04.dcm")


def phantom(rng: np.random.Generator, h: int = 384, w: int = 384) -> np.ndarray:
    img = np.zeros((h, w), np.float32)
    cy, cx = h / 2 + rng.uniform(-0.05, 0.05) * h, w / 2 + rng.uniform(-0.05, 0.05) * w
    ry, rx = h * rng.uniform(0.3, 0.47), w * rng.uniform(0.3, 0.47)
    cv2.ellipse(img, (int(cx), int(cy)), (int(rx), int(ry)), 0, 0, 360, float(rng.uniform(0.35, 0.6)), -1, cv2.LINE_AA)
    if rng.random() < 0.6:  # skin / fat / skull ring
        cv2.ellipse(img, (int(cx), int(cy)), (int(rx), int(ry)), 0, 0, 360, float(rng.uniform(0.7, 1.0)),
                    int(rng.integers(2, 10)), cv2.LINE_AA)
    for _ in range(int(rng.integers(4, 14))):
        a, b = rx * rng.uniform(0.05, 0.45), ry * rng.uniform(0.05, 0.45)
        px, py = cx + rng.uniform(-0.6, 0.6) * rx, cy + rng.uniform(-0.6, 0.6) * ry
        cv2.ellipse(img, (int(px), int(py)), (int(a), int(b)), float(rng.uniform(0, 180)), 0, 360,
                    float(rng.uniform(0.0, 1.0)), -1, cv2.LINE_AA)
    shade = _one_over_f(rng, h, w, 1, 3.0)[:, :, 0]
    img = img * (0.85 + 0.3 * shade)
    img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.3, 1.5)))
    img = img + rng.normal(0, rng.uniform(0.0, 0.04), img.shape).astype(np.float32)
    return np.clip(img * 255, 0, 255).astype(np.uint8)


def leaves(rng: np.random.Generator, h: int = 384, w: int = 512) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    img = np.stack([rng.uniform(0.2, 0.9) + rng.uniform(-0.4, 0.4) * yy for _ in range(3)], -1).astype(np.float32)
    for _ in range(int(rng.integers(40, 160))):
        col = rng.uniform(0, 1, 3).astype(np.float32)
        col = (0.5 * col + 0.5 * col.mean()).astype(np.float32)  # natural scenes are not saturated
        rad = int(min(h, w) * rng.uniform(0.01, 0.3) ** 1.5 * 2) + 2
        m = np.zeros((h, w), np.uint8)
        c = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        if rng.random() < 0.6:
            cv2.circle(m, c, rad, 1, -1, cv2.LINE_AA)
        else:
            cv2.ellipse(m, c, (rad, max(2, int(rad * rng.uniform(0.2, 1)))), float(rng.uniform(0, 180)), 0, 360, 1, -1)
        sel = m > 0
        if not sel.any():
            continue
        tex = 1.0
        if rng.random() < 0.8:
            tex = (0.7 + 0.6 * _one_over_f(rng, h, w, 1, rng.uniform(1.5, 3.0))[:, :, 0])[sel][:, None]
        img[sel] = col * tex
    img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.4, 1.5)))
    out = np.clip(img * 255, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        out = cv2.cvtColor(cv2.cvtColor(out, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    return out


def _medical_frames() -> list[np.ndarray]:
    try:
        from pydicom.data import get_testdata_file
    except ImportError:
        return []
    from engine.sources import open_source

    out = []
    for name in MEDICAL_FILES:
        try:
            path = get_testdata_file(name, download=False)
        except TypeError:  # older pydicom: no download argument
            path = get_testdata_file(name)
        except Exception:  # noqa: BLE001 - absent test data: the kind is skipped
            path = None
        if not path:
            continue
        try:
            with open_source(str(path)) as src:
                out += [f.image for f in src][:2]
        except Exception:  # noqa: BLE001 - a file this pydicom cannot decode is left out
            continue
    return out


_MED: list | None = None


def medical(rng: np.random.Generator) -> np.ndarray | None:
    global _MED
    if _MED is None:
        _MED = _medical_frames()
    if not _MED:
        return None
    img = _MED[int(rng.integers(len(_MED)))]
    h, w = img.shape[:2]
    z = rng.uniform(0.5, 1.0)
    ch, cw = max(32, int(h * z)), max(32, int(w * z))
    y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    crop = img[y:y + ch, x:x + cw]
    if rng.random() < 0.3:
        crop = cv2.rotate(crop, int(rng.integers(0, 3)))
    return crop


def present(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """As a screen would show it: a grey map, a flip, and full frame or on a black viewer canvas."""
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    g = rng.uniform(0.6, 1.6)
    img = np.clip(255 * (img / 255.0) ** g, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        img = img[:, ::-1].copy()
    if rng.random() < 0.5:
        H, W = [(480, 640), (540, 720), (600, 800)][int(rng.integers(3))]
        s = min(H / img.shape[0], W / img.shape[1]) * rng.uniform(0.6, 1.0)
        small = cv2.resize(img, (max(8, int(img.shape[1] * s)), max(8, int(img.shape[0] * s))), interpolation=cv2.INTER_AREA)
        canvas = np.zeros((H, W, 3), np.uint8)
        y, x = (H - small.shape[0]) // 2, (W - small.shape[1]) // 2
        canvas[y:y + small.shape[0], x:x + small.shape[1]] = small
        img = canvas
    return img


def make_negative(kind: str, rng: np.random.Generator) -> np.ndarray | None:
    """One BGR frame of the kind (None: ``medical`` without pydicom-data installed)."""
    if kind == "phantom":
        s = int(rng.choice([256, 384, 512]))
        img = phantom(rng, s, s)
    elif kind == "leaves":
        img = leaves(rng, int(rng.choice([320, 384, 480])), int(rng.choice([427, 512, 640])))
    elif kind == "medical":
        img = medical(rng)
        if img is None:
            return None
    else:
        raise ValueError(f"unknown negative kind {kind!r}; one of {KINDS}")
    return present(img, rng)


def write_negatives(root: str | Path, n: int, seed: int = 0) -> list[dict]:
    """``n`` frames (kinds in turn) into ``root/images``; rows ``name, mos 0–5, std, plane none, group, kind``."""
    from .negatives import write_frames

    return write_frames(root, n, seed, 104729, KINDS, make_negative, "negative2", "neg2_")
