"""Real NON-fetal ultrasound for training: the scanner captures of pydicom-data, as plane "none".

Every real frame the model learnt from is a fetal head (HC18), so a real-looking scan of anything else
leans to "head" (an adult echo scores 26–39, plane head). The only real non-fetal ultrasound at hand
offline is pydicom-data's screen captures: a GE linear scan of a lymph node with power Doppler
(``US1_UNCR.dcm``; pydicom's ``rgb_color`` and ``jpeg2k`` are the same image), an ALOKA dual view
of the pelvis with the bladder (``gdcm-US-ALOKA-16.dcm``) and a Philips obstetric preset with an
almost empty fan (``OBXXXX1A.dcm``; no anatomy in view). bench/bench_real.py's adult echo (pydicom's
``ybr_color``) and its twin in pydicom-data (``color3d_jpeg_baseline.dcm``) are NOT used: they stay a
test.

Each training frame is one of the three, shown as a scanner or capture would: the whole screen, or
the imaging region (engine.roi.find_roi) cropped to 55–100 % and resized; a flip, a grey map, a
little blur or JPEG, and sometimes letterboxed onto a 16:9 capture canvas. Labels: plane ``none``,
1–10 points (ultrasound, but no fetal plane to score), ``kind`` ``real_nonfetal`` (counted as an
ultrasound *scan* by the density, train/prepared.py), ``group`` the source file, ``split`` train.
Needs pydicom-data (``write_real_nonfetal`` raises a clear error without it).
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

KIND = "real_nonfetal"
#: pydicom-data files: one of each distinct real non-fetal scan (none of bench_real's)
FILES = ("US1_UNCR.dcm", "gdcm-US-ALOKA-16.dcm", "OBXXXX1A.dcm")
#: round 8's two more (found later in pydicom-data, unused until then): a real adult echo screen (an aortic
#: root view, 1024x768 gray; another patient, view and scanner than bench_real's ``ybr_color``) and a small
#: colour-Doppler vascular scan
FILES8 = ("JPGLosslessP14SV1_1s_1f_8b.dcm", "color-pl.dcm")


def source_frames(files=FILES) -> dict[str, np.ndarray]:
    """File name -> its first frame (BGR uint8), for each of ``files`` (pydicom-data names)."""
    try:
        from pydicom.data import get_testdata_file
    except ImportError as e:  # pragma: no cover - pydicom is a dependency
        raise RuntimeError("pydicom is needed for the real non-fetal frames") from e
    from engine.sources import open_source

    out = {}
    for name in files:
        path = get_testdata_file(name)
        if not path:
            raise FileNotFoundError(f"{name} not found: install pydicom-data (`pip install pydicom-data`)")
        with open_source(str(path)) as src:
            img = src.read().image
        out[name] = img if img.ndim == 3 else cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    return out


def variant(img: np.ndarray, box, rng: np.random.Generator) -> np.ndarray:
    """One presentation of ``img`` (BGR) with imaging region ``box`` (x, y, w, h)."""
    if rng.random() < 0.6:  # the imaging region, cropped and resized
        x, y, w, h = box
        z = rng.uniform(0.55, 1.0)
        cw, ch = max(32, int(w * z)), max(32, int(h * z))
        x0 = x + int(rng.integers(0, max(1, w - cw + 1)))
        y0 = y + int(rng.integers(0, max(1, h - ch + 1)))
        out = img[y0:y0 + ch, x0:x0 + cw]
        s = rng.uniform(240, 640) / max(out.shape[:2])
        out = cv2.resize(out, (max(16, int(out.shape[1] * s)), max(16, int(out.shape[0] * s))),
                         interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    else:
        out = img.copy()
    if rng.random() < 0.5:
        out = out[:, ::-1].copy()
    g = rng.uniform(0.7, 1.4)
    out = np.clip(255 * (out / 255.0) ** g, 0, 255).astype(np.uint8)
    if rng.random() < 0.2:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.5, 1.5))
    if rng.random() < 0.4:
        H, W = [(720, 1280), (540, 960), (1080, 1920)][int(rng.integers(3))]
        k = min(H / out.shape[0], W / out.shape[1])
        small = cv2.resize(out, (max(8, int(out.shape[1] * k)), max(8, int(out.shape[0] * k))))
        canvas = np.zeros((H, W, 3), np.uint8)
        yy, xx = (H - small.shape[0]) // 2, (W - small.shape[1]) // 2
        canvas[yy:yy + small.shape[0], xx:xx + small.shape[1]] = small
        out = canvas
    if rng.random() < 0.5:
        q = int(rng.integers(50, 96))
        out = cv2.imdecode(cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, q])[1], cv2.IMREAD_COLOR)
    return out


def write_real_nonfetal(root: str | Path, n: int, seed: int = 0, files=FILES) -> list[dict]:
    """``n`` frames (the sources ``files`` in turn) into ``root/images`` and ``root/labels.csv``; returns
    the rows."""
    from engine.modelpack import atomic_write_bytes
    from engine.roi import find_roi

    root = Path(root)
    (root / "images").mkdir(parents=True, exist_ok=True)
    srcs = source_frames(files)
    boxes = {k: find_roi(v).box for k, v in srcs.items()}
    names = list(srcs)
    rows = []
    for i in range(n):
        rng = np.random.default_rng([seed, i, 15485863])
        src = names[i % len(names)]
        img = variant(srcs[src], boxes[src], rng)
        name = f"images/nfr_{Path(src).stem}_{seed}_{i:06d}.png"
        ok, buf = cv2.imencode(".png", img)
        if not ok:
            raise RuntimeError(f"PNG encoding failed for {name}")
        atomic_write_bytes(root / name, buf.tobytes())
        rows.append({"name": name, "mos": round(float(rng.uniform(1, 10)), 2), "std": 1.0, "plane": "none",
                     "group": f"nfr_{Path(src).stem}", "kind": KIND, "split": "train"})
    import csv
    import io

    cols = ["name", "mos", "std", "plane", "group", "kind", "split"]
    s = io.StringIO()
    w = csv.DictWriter(s, cols)
    w.writeheader()
    w.writerows(rows)
    atomic_write_bytes(root / "labels.csv", s.getvalue().encode())
    return rows
