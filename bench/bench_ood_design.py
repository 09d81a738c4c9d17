"""The "unlike the training data" check on the material its design was chosen on — NOT bench_real's.

    .venv/bin/python bench/bench_ood_design.py [--model M ...]   # table + bench/results/ood_design.json

bench/bench_real.py tests the warning on pydicom's example CT and MR, sklearn's two sample photos and
its own noise. To keep those a test, the feature set of the density (engine/speckle.py) was chosen on
other material, listed here: other DICOMs of pydicom-data (a 512² CT, a 1024² brain MR, a 10-frame
64² MR, two chest radiographs), procedural "dead leaves" photos (the classic model of natural-image
statistics) and other noise (salt and pepper, stripes, blocks), each frame with a flip and two grey
maps; and the real HC18 dev split (skips cleanly when absent). Every frame takes the product path:
ROI found on the frame, ORT scorer. A second table gives the B-mode checks (engine/bmode.py: colour
and grain) on the material their cut-offs were chosen on: the dead-leaves photos and the
salt-and-pepper noise (to flag) and B-mode images — the scanner screens of pydicom / pydicom-data (not
bench_real's adult echo), the generator's tinted frames, plain and as JPEG, its frames from 320×240 to
1080p, and the HC18 dev frames (to pass).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _variants(img):
    gam = [np.clip(255 * (img / 255.0) ** q, 0, 255).astype(np.uint8) for q in (0.7, 1.4)]
    return [img, img[::-1].copy(), *gam]


def dead_leaves(rng, h=480, w=640):
    import cv2

    img = np.full((h, w, 3), rng.integers(0, 255, 3), np.uint8)
    for _ in range(300):
        c = tuple(int(v) for v in rng.integers(0, 255, 3))
        rad = int(min(h, w) * rng.uniform(0.01, 0.25) ** 1.5 * 2) + 2
        cv2.circle(img, (int(rng.integers(0, w)), int(rng.integers(0, h))), rad, c, -1, cv2.LINE_AA)
    return cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 2))


def design_noise() -> list:
    """Salt and pepper, stripes, blocks (540x720), four of each."""
    import cv2

    nz = []
    for k in range(12):
        r = np.random.default_rng(80 + k)
        h, w = 540, 720
        if k % 3 == 0:
            z = (r.random((h, w)) < 0.5).astype(np.uint8) * 255
        elif k % 3 == 1:
            z = np.tile((np.arange(w) // r.integers(3, 30) % 2 * 255).astype(np.uint8), (h, 1))
        else:
            z = cv2.resize(r.integers(0, 256, (h // 16, w // 16), dtype=np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
        nz.append(z)
    return nz


def design_frames() -> dict:
    import cv2
    from pydicom.data import get_testdata_file

    from engine.sources import open_source

    def dcm(name, idx=(0,)):
        with open_source(get_testdata_file(name)) as src:
            fs = [f.image for f in src]
        return [fs[i] for i in idx if i < len(fs)]

    g = {"ct": sum([_variants(f) for f in dcm("693_UNCR.dcm")], []),
         "mr": sum([_variants(f) for f in dcm("MR2_UNCR.dcm") + dcm("emri_small.dcm", (0, 5, 9))], []),
         "xray": sum([_variants(f) for f in dcm("RG1_UNCR.dcm") + dcm("RG3_UNCR.dcm")], []),
         "photo": [dead_leaves(np.random.default_rng(50 + k)) for k in range(12)]}
    g["noise"] = design_noise()
    try:
        from train.real import hc18_split, read_item

        g["hc18_dev"] = [read_item(it)[0] for it in hc18_split()[1]]
    except FileNotFoundError:
        pass
    return g


#: pydicom / pydicom-data scanner screens for the colour check (the ROI tests' captures), without
#: bench_real's adult echo (examples "ybr_color") and its twin in pydicom-data
SCREENS = (("examples", "palette_color"), ("examples", "rgb_color"), ("examples", "jpeg2k"),
           ("data", "OBXXXX1A.dcm"), ("data", "US1_UNCR.dcm"), ("data", "US1_J2KR.dcm"),
           ("data", "gdcm-US-ALOKA-16.dcm"))


def colour_frames() -> dict:
    """Frames for engine/bmode.py's colour check: colour pictures (dead leaves) and B-mode images in
    colour (real scanner screens, the generator's tinted frames plain and as JPEG)."""
    import cv2
    from pydicom import examples
    from pydicom.data import get_testdata_file

    from engine.sources import open_source
    from train.synth import render_sample

    screens = []
    for kind, name in SCREENS:
        with open_source(str(examples.get_path(name)) if kind == "examples" else get_testdata_file(name)) as src:
            fs = [f.image for f in src]
        screens += fs[:: max(1, len(fs) // 4)]
    tinted, jpeg, sizes = [], [], []
    for plane in ("head", "abdomen", "femur", "4CH", "adult_heart"):
        for i in range(40):
            im = render_sample(plane, 99, i, size=256, realism=1.0).image
            if im.ndim == 3:
                tinted.append(im)
                jpeg.append(cv2.imdecode(cv2.imencode(".jpg", im, [cv2.IMWRITE_JPEG_QUALITY, 60])[1], 1))
            if i < 8:  # the generator's frames, plain and real style, down to 320x240 and up to 1080p
                plain = render_sample(plane, 98, i, size=256).image
                for sz in ((320, 240), (1920, 1080)):
                    for x in (plain, im):
                        sizes.append(cv2.resize(x, sz, interpolation=cv2.INTER_AREA if sz[0] < x.shape[1] else cv2.INTER_LINEAR))
    salt = design_noise()[0::3]  # salt and pepper: white binary noise
    out = {"dead_leaves": [dead_leaves(np.random.default_rng(50 + k)) for k in range(12)],
           "salt_and_pepper_noise": salt,
           "scanner_screens": screens, "tinted_synthetic": tinted, "tinted_synthetic_jpeg60": jpeg,
           "synthetic_320x240_to_1080p": sizes}
    try:
        from train.real import hc18_split, read_item

        out["hc18_dev"] = [read_item(it)[0] for it in hc18_split()[1]]
    except FileNotFoundError:
        pass
    return out


def colour_table() -> dict:
    from engine.bmode import grain_corr, not_bmode, offmap_share
    from engine.roi import find_roi

    out = {}
    print("\n| B-mode checks (engine/bmode.py) | n | off the colour map: min | max | grain: min | max | flagged |")
    print("|---|---|---|---|---|---|---|")
    for k, fs in colour_frames().items():
        boxes = [find_roi(f).box for f in fs]
        v = np.array([offmap_share(f, b) for f, b in zip(fs, boxes)])
        g = np.array([grain_corr(f, b) for f, b in zip(fs, boxes)])
        out[k] = {"n": len(v), "min": float(v.min()), "max": float(v.max()), "grain_min": float(g.min()),
                  "grain_max": float(g.max()), "flagged": float(np.mean([not_bmode(x, y) for x, y in zip(v, g)]))}
        print(f"| {k} | {len(v)} | {v.min():.3f} | {v.max():.3f} | {g.min():.3f} | {g.max():.3f} | {out[k]['flagged']:.2f} |")
    print("target: the dead leaves and the noise flagged, every B-mode image (screens, synthetic, HC18) not")
    return out


def main(argv=None) -> int:
    from bench.bench_real import score_frames
    from engine import modelpack
    from engine.modelpack import atomic_write_bytes
    from engine.scorers import make_scorer

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", nargs="+", default=[str(modelpack.default_model_path())])
    ap.add_argument("--json", default=str(ROOT / "bench" / "results" / "ood_design.json"))
    a = ap.parse_args(argv)
    frames = design_frames()
    out = {}
    print(f"| model | features | {' | '.join(frames)} |")
    print("|---|---|" + "---|" * len(frames))
    for path in a.model:
        pkg = modelpack.load(path)
        scorer = make_scorer("ort", pkg)
        feats = (pkg.meta.get("ood") or {}).get("features", "embedding")
        row = {}
        for k, fs in frames.items():
            rs = score_frames(scorer, fs)
            row[k] = {"n": len(rs), "ood_share": float(np.mean([bool(r.ood) for r in rs])),
                      "max_score": float(max(r.score for r in rs))}
        out[Path(path).name] = {"features": feats, "name": pkg.meta.get("name"), "groups": row}
        print(f"| {pkg.meta.get('name')} ({Path(path).name}) | {feats} | "
              + " | ".join(f"{v['ood_share']:.2f} (n={v['n']})" for v in row.values()) + " |", flush=True)
    print("cells: share of frames flagged 'unlike the training data' (target: hc18_dev < 0.10, others ≥ 0.95)")
    out["colour_check"] = colour_table()
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(a.json, json.dumps(out, indent=1).encode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
