"""A labelled set made from real HC18 head frames: anchors and controlled degradations (pseudo-samples).

    write_real_set(out, items, seed) -> rows      # OUT/images/hc18_*.png + rows for labels.csv

Every HC18 *train* frame (never a frame of the fixed dev split, :func:`train.real.hc18_split`) gives:

* the frame itself — an **anchor**: sonographers chose it to measure the head, so it is a head plane
  fit for biometry. Its score is ``72 + 16·p`` where ``p`` is SonoNet-16's probability of a brain plane
  (the teacher, :mod:`train.teacher`; ``p = 0.8`` without it): 72–88, acceptable to standard, higher
  where a network trained on real screening scans is sure it is a standard brain plane;
* degradations of it (:data:`train.real.LADDER_FACTORS`: blur, dark gain, speckle noise, an acoustic
  shadow over the head, the head sliding out of view, the head too small) at random severities, each
  scored ``anchor × (1 − drop(severity))`` with the criteria the degradation breaks (``info["breaks"]``)
  marked failed — the same rules for every frame, written down in :data:`DROP`;
* a tile-shuffled decoy (same texture and brightness, no anatomy): score 0–5, plane ``none``.

Rows carry ``plane`` (head / none), the generator-style flags ``f_structures … f_artefacts`` and
``missing`` (broken head structures), and ``group = hc18_<file>`` so that a frame and all its
degradations stay in one split. Images are written at half size (400×270; the model sees 160 px).
Nothing here is needed at run time; the HC18 images are CC BY 4.0 (van den Heuvel et al. 2018).
"""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from engine.result import GLOBAL_CRITERIA, STRUCTURES

from .real import LADDER_FACTORS, degrade, fan_mask, read_item

#: score drop at severity s (share of the anchor score lost): (max share, exponent)
DROP = {"blur": (0.80, 1.2), "dark_gain": (0.80, 1.3), "speckle_noise": (0.70, 1.2),
        "acoustic_shadow": (0.75, 1.0), "slide_out": (0.85, 1.0), "too_small": (0.60, 1.0)}
ANCHOR_LOW, ANCHOR_SPAN, ANCHOR_NO_TEACHER = 72.0, 16.0, 0.8


def anchor_score(p_brain: float | None) -> float:
    p = ANCHOR_NO_TEACHER if p_brain is None else float(np.clip(p_brain, 0.0, 1.0))
    return ANCHOR_LOW + ANCHOR_SPAN * p


def degraded_score(anchor: float, factor: str, severity: float) -> float:
    mx, ex = DROP[factor]
    return float(anchor * (1.0 - mx * float(np.clip(severity, 0, 1)) ** ex))


def _row(name, mos, plane, group, breaks=(), kind="anchor", factor="", severity=0.0):
    br = set(breaks)
    row = {"name": name, "mos": f"{mos:.2f}", "std": "", "plane": plane, "group": group, "kind": kind,
           "factor": factor, "severity": f"{severity:.3f}"}
    if plane == "head":
        missing = [s for s in STRUCTURES["head"] if s in br]
        flags = {f"f_{g}": str(int(g not in br and not (g == "structures" and missing))) for g in GLOBAL_CRITERIA}
        row.update(flags)
        row["missing"] = ";".join(missing)
    return row


def _write(path: Path, img: np.ndarray) -> None:
    small = cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".png", small)
    if not ok:
        raise RuntimeError(f"PNG encoding failed for {path}")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(buf.tobytes())
    os.replace(tmp, path)


def teacher_brain_probs(items, progress=None) -> list[float] | None:
    """SonoNet-16's brain-plane probability (Tv. + Cb.) per item; None when the weights are absent."""
    from .teacher import CLASSES, load_sononet, teacher_planes

    net = load_sononet()
    if net is None:
        return None
    brain = [CLASSES.index("Brain (Tv.)"), CLASSES.index("Brain (Cb.)")]
    out = []
    for a in range(0, len(items), 16):
        frames = [read_item(it)[0] for it in items[a : a + 16]]
        probs, _ = teacher_planes(frames, model=net)
        out += [float(p[brain].sum()) for p in probs]
        if progress:
            progress(a + len(frames), len(items))
    return out


def write_real_set(out, items, seed: int = 0, per_factor: int = 2, p_brain: list[float] | None = None) -> list[dict]:
    """Write anchors, degradations and decoys of ``items`` (HC18 train frames) into ``out/images``."""
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for k, it in enumerate(items):
        img, mask = read_item(it)
        fan = fan_mask(img)
        stem = Path(it.name).stem
        group = f"hc18_{stem}"
        anchor = anchor_score(None if p_brain is None else p_brain[k])
        rng = np.random.default_rng([seed, k])
        name = f"images/hc18_{stem}.png"
        _write(out / name, img)
        rows.append(_row(name, anchor, "head", group))
        for factor in LADDER_FACTORS:
            for j in range(per_factor):
                sev = float(rng.uniform(0.1, 1.0))
                d, info = degrade(factor, img, mask, sev, seed=int(rng.integers(1 << 30)), fan=fan)
                name = f"images/hc18_{stem}_{factor}_{j}.png"
                _write(out / name, d)
                rows.append(_row(name, degraded_score(anchor, factor, sev), "head", group, info["breaks"],
                                 "degraded", factor, sev))
        d, info = degrade("tile_shuffle", img, mask, 1.0, seed=int(rng.integers(1 << 30)), fan=fan)
        name = f"images/hc18_{stem}_decoy.png"
        _write(out / name, d)
        rows.append(_row(name, float(rng.uniform(0, 5)), "none", group, kind="decoy", factor="tile_shuffle",
                         severity=1.0))
    return rows
