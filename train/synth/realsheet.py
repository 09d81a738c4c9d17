"""A contact sheet of "real"-style SYNTHETIC frames beside real HC18 head frames, to judge the domain
gap by eye. HC18 frames are read at run time from a folder outside the project (never committed;
skipped when absent); the sheet credits them.

    .venv/bin/python -m train.synth.realsheet docs/synth_real_style.png [--hc18 ../shared/data/hc18]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from . import make_spec, render_spec, rng_for

FONT = cv2.FONT_HERSHEY_SIMPLEX
CREDIT = ("HC18 head frames, CC BY 4.0, van den Heuvel et al. 2018 "
          "(doi:10.5281/zenodo.1327317), downscaled")
TILE = (160, 160)  # square, as the data set and (letterboxed) the model input


def synthetic_tile(plane: str, seed: int, index: int, severity=None, realism: float = 1.0) -> tuple[np.ndarray, str]:
    """One frame as the data set draws it (square); BGR and its caption."""
    rng = rng_for(seed, index)
    spec = make_spec(plane, severity, rng, size=TILE[1], realism=realism)
    s = render_spec(spec, rng, size=TILE[1])
    img = s.image if s.image.ndim == 3 else cv2.cvtColor(s.image, cv2.COLOR_GRAY2BGR)
    tint = f" {spec.style.tint}" if spec.style is not None and spec.style.tint else ""
    from .nonfetal import MOS_RANGE, NONFETAL

    if plane in NONFETAL:  # the data set's label, not the generator's own audit of the scene
        return img, f"{plane}: none, {MOS_RANGE[0]:.0f}-{MOS_RANGE[1]:.0f}{tint}"
    return img, f"{plane} q={s.q:.0f}{tint}"


def hc18_tiles(root: Path, n: int) -> list[tuple[np.ndarray, str]]:
    paths = sorted((root / "images").glob("*_HC.png")) if root.is_dir() else []
    out = []
    for p in [paths[i] for i in np.linspace(0, len(paths) - 1, n).round().astype(int)] if paths else []:
        im = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if im is not None:
            w, h = TILE  # letterboxed into the square, as the model sees a frame
            nh = int(round(im.shape[0] * w / im.shape[1]))
            t = np.zeros((h, w, 3), np.uint8)
            t[(h - nh) // 2:(h - nh) // 2 + nh] = cv2.resize(im, (w, nh), interpolation=cv2.INTER_AREA)
            out.append((t, f"HC18 {p.stem}"))
    return out


def sheet(out_png, hc18: Path | None, *, cols: int = 7, seed: int = 0) -> Path:
    rows: list[tuple[str, list[tuple[np.ndarray, str]]]] = []
    real = hc18_tiles(hc18, 2 * cols) if hc18 is not None else []
    if real:
        rows.append(("REAL: " + CREDIT, real[:cols]))
    rows.append(("SYNTHETIC head, real style, clean (severities 0)",
                 [synthetic_tile("head", seed, i, {}) for i in range(cols)]))
    if real:
        rows.append(("REAL HC18 (continued)", real[cols:2 * cols]))
    rows.append(("SYNTHETIC head, real style, sampled severities",
                 [synthetic_tile("head", seed, 100 + i) for i in range(cols)]))
    rows.append(("SYNTHETIC abdomen, femur, 4CH (not assessed), real style",
                 [synthetic_tile(p, seed, 200 + i, {}) for i, p in
                  enumerate(["abdomen", "abdomen", "femur", "femur", "4CH", "4CH", "abdomen"][:cols])]))
    rows.append(("SYNTHETIC non-fetal ultrasound (adult heart, adult abdomen; labelled plane none), real style",
                 [synthetic_tile(p, seed, 300 + i, {}) for i, p in
                  enumerate(["adult_heart", "adult_abdomen"] * ((cols + 1) // 2))][:cols]))
    rows.append(("SYNTHETIC plain style (the default), same seeds as row 2",
                 [synthetic_tile("head", seed, i, {}, realism=0.0) for i in range(cols)]))
    w, h = TILE
    band, cap = 20, 14
    H = sum(band + h + cap for _ in rows)
    out = np.full((H, cols * (w + 4), 3), 30, np.uint8)
    y = 0
    for title, tiles in rows:
        colour = (120, 230, 120) if title.startswith("REAL") else (0, 220, 255)
        cv2.putText(out, title, (4, y + 14), FONT, 0.42, colour, 1, cv2.LINE_AA)
        y += band
        for k, (im, txt) in enumerate(tiles):
            x = k * (w + 4) + 2
            out[y:y + h, x:x + w] = im
            cv2.putText(out, txt, (x + 2, y + h + 11), FONT, 0.34, (210, 210, 210), 1, cv2.LINE_AA)
        y += h + cap
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(".png", out)
    if not ok:
        raise RuntimeError(f"PNG encoding failed for {out_png}")
    tmp = out_png.with_name(out_png.name + ".tmp")
    tmp.write_bytes(buf.tobytes())
    tmp.replace(out_png)
    return out_png


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--hc18", default=None,
                    help="HC18 folder (images/*_HC.png); default ../shared/data/hc18 beside the checkout "
                         "(or beside its parent, for a worktree); left out of the sheet when absent")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    here = Path(__file__).resolve().parents[2]
    cands = [Path(a.hc18)] if a.hc18 else [d / "shared" / "data" / "hc18" for d in (here.parent, here.parent.parent)]
    root = next((c for c in cands if c.is_dir()), cands[0])
    print("wrote", sheet(a.out, root if root.is_dir() else None, seed=a.seed),
          "" if root.is_dir() else f"(no HC18 at {root}: synthetic only)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
