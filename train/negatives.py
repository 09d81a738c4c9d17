"""Frames that are not fetal ultrasound at all, labelled as such (quality ≈ 0).

A scorer beside a scanner sees more than B-mode images: a black screen while the scanner boots, the
vendor's menu, a frozen test pattern, snow from an unplugged capture card, a camera pointed at the room.
None of that may read as a good image, so the default model is trained with a share of such frames,
each labelled 0–5 (by construction: there is no anatomy to score).

Every image made here is procedural and seeded (nothing is downloaded); kinds:
``black``, ``flat`` (uniform grey/colour), ``noise`` (Gaussian / salt-and-pepper snow), ``texture``
(1/f "natural" texture), ``photo`` (photo-like scene: colour gradients, shapes, soft texture),
``pattern`` (checkerboard / colour bars), ``screen`` (a menu-like screen: text and boxes on black).
"""
from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np

KINDS = ("black", "flat", "noise", "texture", "photo", "pattern", "screen")


def _one_over_f(rng, h, w, channels=1, beta=2.0):
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f = np.sqrt(fx**2 + fy**2)
    f[0, 0] = 1.0
    amp = 1.0 / f ** (beta / 2)
    out = []
    for _ in range(channels):
        phase = rng.uniform(0, 2 * np.pi, amp.shape)
        img = np.fft.irfft2(amp * np.exp(1j * phase), s=(h, w))
        img = (img - img.min()) / (np.ptp(img) + 1e-9)
        out.append(img)
    return np.stack(out, -1)


def make_negative(kind: str, rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """One BGR uint8 ``size×size`` frame of the given kind."""
    h = w = size
    if kind == "black":
        img = np.zeros((h, w, 3), np.uint8)
        if rng.random() < 0.5:  # near-black with a little sensor noise
            img = np.clip(rng.normal(rng.uniform(0, 6), rng.uniform(0, 3), (h, w, 1)), 0, 255).astype(np.uint8).repeat(3, 2)
        return img
    if kind == "flat":
        c = rng.integers(0, 256, 3) if rng.random() < 0.5 else np.full(3, rng.integers(0, 256))
        return np.broadcast_to(c.astype(np.uint8), (h, w, 3)).copy()
    if kind == "noise":
        if rng.random() < 0.5:
            g = np.clip(rng.normal(rng.uniform(40, 200), rng.uniform(20, 80), (h, w)), 0, 255)
        else:
            g = (rng.random((h, w)) < rng.uniform(0.05, 0.5)) * 255.0
        g = g.astype(np.uint8)
        return cv2.cvtColor(g, cv2.COLOR_GRAY2BGR) if rng.random() < 0.7 else rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    if kind == "texture":
        t = _one_over_f(rng, h, w, 3 if rng.random() < 0.5 else 1, rng.uniform(1.5, 3.0))
        t = (t * 255).astype(np.uint8)
        return t if t.shape[2] == 3 else cv2.cvtColor(t[:, :, 0], cv2.COLOR_GRAY2BGR)
    if kind == "photo":
        yy, xx = np.mgrid[0:h, 0:w] / size
        base = np.stack([rng.uniform(0, 1) + rng.uniform(-0.5, 0.5) * yy + rng.uniform(-0.5, 0.5) * xx for _ in range(3)], -1)
        img = np.clip(base, 0, 1) * 255
        img = img.astype(np.uint8).copy()
        for _ in range(rng.integers(3, 12)):
            color = tuple(int(c) for c in rng.integers(0, 256, 3))
            cx, cy = (int(v) for v in rng.integers(0, size, 2))
            if rng.random() < 0.5:
                ax = (int(rng.integers(size // 20, size // 3)), int(rng.integers(size // 20, size // 3)))
                cv2.ellipse(img, (cx, cy), ax, float(rng.uniform(0, 180)), 0, 360, color, -1, cv2.LINE_AA)
            else:
                x2, y2 = (int(v) for v in rng.integers(0, size, 2))
                cv2.rectangle(img, (cx, cy), (x2, y2), color, -1)
        tex = _one_over_f(rng, h, w, 1, 2.5)[:, :, 0]
        img = np.clip(img.astype(np.float32) * (0.75 + 0.5 * tex[..., None]), 0, 255).astype(np.uint8)
        return cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 2.0))
    if kind == "pattern":
        if rng.random() < 0.5:
            n = int(rng.integers(4, 16))
            yy, xx = np.mgrid[0:h, 0:w]
            g = (((yy * n // h) + (xx * n // w)) % 2 * 255).astype(np.uint8)
            return cv2.cvtColor(g, cv2.COLOR_GRAY2BGR)
        bars = np.array([[255, 255, 255], [0, 255, 255], [255, 255, 0], [0, 255, 0], [255, 0, 255], [0, 0, 255], [255, 0, 0], [0, 0, 0]], np.uint8)
        idx = (np.arange(w) * len(bars) // w)
        return np.broadcast_to(bars[idx][None], (h, w, 3)).copy()
    if kind == "screen":
        img = np.zeros((h, w, 3), np.uint8)
        for _ in range(rng.integers(2, 6)):
            x, y = (int(v) for v in rng.integers(0, max(1, size - 40), 2))
            cv2.rectangle(img, (x, y), (x + int(rng.integers(20, 120)), y + int(rng.integers(10, 60))), (90, 90, 90), 1)
        words = ["PRESET", "OB/GYN", "PROBE C5-1", "FREEZE", "MENU", "PATIENT", "GAIN", "DEPTH", "SYNTHETIC"]
        for _ in range(rng.integers(4, 12)):
            x, y = int(rng.integers(0, max(1, size - 60))), int(rng.integers(min(12, size - 1), size))
            cv2.putText(img, str(rng.choice(words)), (x, y), cv2.FONT_HERSHEY_SIMPLEX, float(rng.uniform(0.3, 0.6)), (200, 200, 200), 1, cv2.LINE_AA)
        return img
    raise ValueError(f"unknown negative kind {kind!r}; one of {KINDS}")


def write_frames(root: str | Path, n: int, seed: int, salt: int, kinds, make, stem: str, group: str,
                 split_of=None) -> list[dict]:
    """Frames ``make(kind, rng)`` (kinds in turn; None: left out) into ``root/images`` as
    ``images/{stem}_{kind}_{seed}_{i:06d}.png`` and their label rows ``name, mos 0–5, std, plane none,
    group, kind`` (+ ``split`` from ``split_of(i)``); image i's generator is seeded by (seed, i, salt)."""
    from engine.modelpack import atomic_write_bytes

    root = Path(root)
    (root / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        rng = np.random.default_rng([seed, i, salt])
        kind = kinds[i % len(kinds)]
        img = make(kind, rng)
        if img is None:
            continue
        name = f"images/{stem}_{kind}_{seed}_{i:06d}.png"
        ok, buf = cv2.imencode(".png", img)
        if not ok:
            raise RuntimeError(f"PNG encoding failed for {name}")
        atomic_write_bytes(root / name, buf.tobytes())
        row = {"name": name, "mos": round(float(rng.uniform(0, 5)), 2), "std": 1.0, "plane": "none",
               "group": f"{group}{seed}_{i}", "kind": kind}
        if split_of is not None:
            row["split"] = split_of(i)
        rows.append(row)
    return rows


def write_negatives(root: str | Path, n: int, seed: int = 0, size: int = 256, split_of=None) -> list[dict]:
    """Write ``n`` negative frames into ``root/images`` and return their label rows.

    Rows: ``name, mos, std, plane='none', group, kind``; mos is 0–5 (no anatomy to score).
    ``split_of(i)`` may assign a split; by default no split column is set.
    """
    return write_frames(root, n, seed, 7919, KINDS, lambda k, r: make_negative(k, r, size), "synth_negative", "neg",
                        split_of)


def append_rows(labels_csv: str | Path, rows: list[dict]) -> None:
    """Append rows to an existing labels.csv, filling columns it lacks with blanks."""
    labels_csv = Path(labels_csv)
    with open(labels_csv, newline="") as f:
        reader = csv.DictReader(f)
        fields = list(reader.fieldnames or [])
        old = list(reader)
    for r in rows:
        for k in r:
            if k not in fields:
                fields.append(k)
    from engine.modelpack import atomic_write_bytes
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
    w.writeheader()
    for r in old + rows:
        w.writerow({k: r.get(k, "") for k in fields})
    atomic_write_bytes(labels_csv, buf.getvalue().encode())
