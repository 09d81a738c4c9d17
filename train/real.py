"""Real fetal head frames (HC18) and controlled degradations of them — for training and checking.

* :func:`hc18_root` finds ``../shared/data/hc18`` (env ``FUIQA_HC18`` overrides; None when absent —
  nothing here is needed at run time, and nothing from it is committed);
  :func:`load_hc18` reads its ``hc18.csv``; :func:`read_item` gives (gray uint8 image, bool head mask).
* :func:`hc18_split` is the FIXED development split: a file is *dev* when ``sha1(name) % 4 == 0``
  (about a quarter, the same on every machine, never trained on); the rest is *train*.
* Degradations, each ``f(img, mask, severity, rng) -> (img, info)`` (severity 0..1, 0 = unchanged):
  blur, dark gain, speckle noise, an acoustic shadow across the head, the head sliding out of view, the
  head too small, and a tile-shuffle decoy. They keep the image size and the fan: pixels outside the
  imaging region are left as they were and the region keeps its outline, so the ROI finder runs on the
  degraded frame as on a real one (``fan=`` passes a known :func:`fan_mask`). ``info`` holds ``factor``, ``severity``, ``breaks`` (names from
  :data:`engine.result.CRITERIA` that the degradation breaks at that severity), ``mask`` (the head mask
  after it) and factor-specific numbers. :data:`DEGRADATIONS` maps factor name -> function.

Qt-free and torch-free (numpy + OpenCV).
"""
from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CENTRAL = ("midline", "thalami", "csp", "third_ventricle")  # head structures near the head's centre


# ---------------------------------------------------------------- HC18 reader and the fixed split
@dataclass(frozen=True)
class HC18Item:
    name: str  # "NNN_HC.png"
    image: Path
    mask: Path
    pixel_size_mm: float
    hc_mm: float


def shared_path(rel: str, env: str | None = None) -> Path | None:
    """``$env`` if set, else ``<repo>/../shared/<rel>`` — or the first ``shared/<rel>`` above the repo
    (a git worktree sits one level deeper) — or None when nothing is there."""
    if env and os.environ.get(env):
        p = Path(os.environ[env])
        return p if p.exists() else None
    for up in ROOT.parents:
        p = up / "shared" / rel
        if p.exists():
            return p
    return None


def hc18_root() -> Path | None:
    """The HC18 folder (``$FUIQA_HC18``, else ``<repo>/../shared/data/hc18``), or None when absent."""
    p = shared_path("data/hc18", "FUIQA_HC18")
    return p if p is not None and (p / "hc18.csv").is_file() and (p / "images").is_dir() else None


def load_hc18(root: Path | None = None) -> list[HC18Item]:
    """Every row of ``hc18.csv`` whose image and mask exist, sorted by name."""
    root = Path(root) if root is not None else hc18_root()
    if root is None:
        raise FileNotFoundError("HC18 data not found (set FUIQA_HC18 or put it in ../shared/data/hc18)")
    items = []
    with open(root / "hc18.csv", newline="") as f:
        for row in csv.DictReader(f):
            name = row["filename"]
            img, msk = root / "images" / name, root / "masks" / name.replace(".png", "_Mask.png")
            if img.is_file() and msk.is_file():
                items.append(HC18Item(name, img, msk, float(row["pixel_size_mm"]), float(row["hc_mm"])))
    return sorted(items, key=lambda it: it.name)


def is_dev(name: str) -> bool:
    """The fixed development split: ``sha1(file name) % 4 == 0``."""
    return int(hashlib.sha1(Path(name).name.encode()).hexdigest(), 16) % 4 == 0


def hc18_split(root: Path | None = None) -> tuple[list[HC18Item], list[HC18Item]]:
    """-> (train_items, dev_items); dev is about a quarter of the files and is never trained on."""
    items = load_hc18(root)
    return [it for it in items if not is_dev(it.name)], [it for it in items if is_dev(it.name)]


def read_item(item: HC18Item) -> tuple[np.ndarray, np.ndarray]:
    """-> (gray uint8 image, bool head mask), same size."""
    img = cv2.imread(str(item.image), cv2.IMREAD_GRAYSCALE)
    msk = cv2.imread(str(item.mask), cv2.IMREAD_GRAYSCALE)
    if img is None or msk is None:
        raise FileNotFoundError(f"{item.image}: cannot read image or mask")
    if msk.shape != img.shape:
        msk = cv2.resize(msk, img.shape[::-1], interpolation=cv2.INTER_NEAREST)
    return img, fill_mask(msk > 127)


def fill_mask(m: np.ndarray) -> np.ndarray:
    """A mask with its holes filled (an outline-only ellipse becomes the filled head)."""
    m = m.astype(np.uint8)
    cnts, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    out = np.zeros_like(m)
    cv2.drawContours(out, cnts, -1, 1, -1)
    return out.astype(bool)


# ---------------------------------------------------------------- geometry of the imaging region
def fan_mask(img: np.ndarray) -> np.ndarray:
    """The imaging region: the largest connected non-black area, holes (dark fluid) filled."""
    g = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    m = (cv2.medianBlur(g, 3) > 0).astype(np.uint8)
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
    n, lab, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    if n <= 1:
        return np.zeros(g.shape, bool)
    k = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    filled = fill_mask(lab == k)
    return filled & ~_overlay_boxes(g, filled)


def _overlay_boxes(g: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Exact-black axis-aligned rectangles inside the region (the scanner's overlay boxes)."""
    z = ((g == 0) & region).astype(np.uint8)
    n, lab, st, _ = cv2.connectedComponentsWithStats(z, connectivity=4)
    out = np.zeros(g.shape, bool)
    for i in range(1, n):
        x, y, w, h, a = st[i]
        if a >= 400 and a >= 0.9 * w * h:
            out[y:y + h, x:x + w] = True
    return out


def probe_origin(fan: np.ndarray) -> tuple[float, float]:
    """(x, y) where the fan's sides meet (the probe; above the image for a cropped sector).

    Lines are fitted to the left and right edges of the upper part of the fan (rows not clipped by the
    image border); parallel sides (a linear probe) give a point far above the centre."""
    h, w = fan.shape
    rows = np.where(fan.any(1))[0]
    if rows.size < 8:
        return w / 2.0, -2.0 * h
    top, bot = rows[0], rows[0] + int(0.6 * (rows[-1] - rows[0]))
    ys, xl, xr = [], [], []
    for y in range(top, bot + 1, 2):
        xs = np.where(fan[y])[0]
        if xs.size and xs[0] > 0 and xs[-1] < w - 1:
            ys.append(y), xl.append(xs[0]), xr.append(xs[-1])
    if len(ys) < 6:
        return w / 2.0, -2.0 * h
    ys = np.array(ys, float)
    (bl, al), (br, ar) = _robust_line(ys, np.array(xl, float)), _robust_line(ys, np.array(xr, float))
    if abs(bl - br) < 1e-3:
        return (al + ar) / 2 + (bl + br) / 2 * top, -4.0 * h
    y0 = float(np.clip((ar - al) / (bl - br), -4.0 * h, top))
    return float(al + bl * y0), y0


def _robust_line(y: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    keep = np.ones(len(y), bool)
    for _ in range(3):
        b, a = np.polyfit(y[keep], x[keep], 1)
        r = np.abs(x - (a + b * y))
        keep = r < max(2.0, 2.5 * np.median(r[keep]))
    return float(b), float(a)


# ---------------------------------------------------------------- textures
def _rayleigh(rng: np.random.Generator, shape, scale: float = 1.0) -> np.ndarray:
    """Rayleigh variates in float32 (sqrt(-2 ln U)): half the cost of ``rng.rayleigh`` in float64."""
    u = rng.random(shape, dtype=np.float32)
    return np.sqrt(-2.0 * np.log1p(-u)) * np.float32(scale)


def texture_like(img: np.ndarray, region: np.ndarray, rng: np.random.Generator, band=(0.5, 0.95),
                 grain: float = 1.0) -> np.ndarray:
    """Speckle-like texture (laterally elongated grains, a slow modulation) with the image's own local
    statistics: mean grey level, local (15 px) contrast and the spread of local means, measured on the
    pixels of ``region`` whose neighbourhood brightness lies in the ``band`` of quantiles (0.5-0.95:
    tissue, not the black fluid nor bone; 0.1-0.4: dark far field). float32 H×W."""
    h, w = img.shape
    if region.sum() < 100:
        region = fan_mask(img) if fan_mask(img).sum() >= 100 else np.ones(img.shape, bool)
    x = img.astype(np.float32)
    mu = cv2.blur(x, (15, 15))
    sd = np.sqrt(np.maximum(cv2.blur(x * x, (15, 15)) - mu * mu, 0))
    lo, hi = np.quantile(mu[region], band)
    sel = region & (mu >= lo) & (mu <= hi)
    if sel.sum() < 50:
        sel = region
    m0, s_sp, s_mod = float(x[sel].mean()), float(np.median(sd[sel])), float(mu[sel].std())
    g = max(0.5, w / 800.0) * grain
    z = cv2.GaussianBlur(_rayleigh(rng, (h, w)), (0, 0), sigmaX=2.0 * g, sigmaY=1.0 * g)
    low = cv2.resize(rng.normal(0, 1, (max(2, h // 25), max(2, w // 25))).astype(np.float32), (w, h),
                     interpolation=cv2.INTER_CUBIC)
    z = (z - z.mean()) / max(1e-6, float(z.std()))
    low = low / max(1e-6, float(low.std()))
    return np.clip(m0 + 0.5 * s_mod * low + s_sp * z, 1, 255).astype(np.float32)


def _grain(shape) -> float:
    return max(0.5, shape[1] / 800.0)


def _done(orig, out, fan, info, mask):
    res = orig.copy()
    res[fan] = np.clip(np.rint(out[fan]), 1, 255).astype(np.uint8)  # 1: the fan never turns to black
    info.setdefault("mask", mask)
    return res, info


def _info(factor, sev, breaks):
    return {"factor": factor, "severity": float(sev), "breaks": sorted(set(breaks))}


def _gray(img):
    if img.ndim != 2:
        raise ValueError(f"degradations take a gray H×W frame, got shape {img.shape}")
    return img


# ---------------------------------------------------------------- the degradations
def blur(img, mask, severity, rng, fan=None):
    """Gaussian blur inside the fan (normalised, so the fan edge does not darken); sigma up to 1.2 % of
    the width. Breaks artefacts from 0.25, the fine structures from 0.5."""
    img, s = _gray(img), float(severity)
    fan = fan_mask(img) if fan is None else fan
    br = [] if s < 0.25 else ["artefacts"] + (["structures", *CENTRAL] if s >= 0.5 else [])
    info = _info("blur", s, br)
    sigma = s * 0.012 * img.shape[1]
    info["sigma_px"] = sigma
    if sigma < 0.3:
        return img.copy(), {**info, "mask": mask}
    f = fan.astype(np.float32)
    num = cv2.GaussianBlur(img.astype(np.float32) * f, (0, 0), sigma)
    den = cv2.GaussianBlur(f, (0, 0), sigma)
    return _done(img, num / np.maximum(den, 1e-3), fan, info, mask)


def dark_gain(img, mask, severity, rng, fan=None):
    """Overall gain and TGC turned down: x * g^(0.6 + 0.8 depth), with the scanner's
    faint noise floor; g from 1 to 0.35. Breaks settings from 0.25, the structures from 0.75."""
    img, s = _gray(img), float(severity)
    fan = fan_mask(img) if fan is None else fan
    br = [] if s < 0.25 else ["settings"] + (["structures", *CENTRAL] if s >= 0.75 else [])
    info = _info("dark_gain", s, br)
    g = 1.0 - 0.65 * s
    info["gain"] = g
    if s <= 0:
        return img.copy(), {**info, "mask": mask}
    rows = np.where(fan.any(1))[0]
    depth = np.clip((np.arange(img.shape[0]) - rows[0]) / max(1, rows[-1] - rows[0]), 0, 1)
    gain = g ** (0.6 + 0.8 * depth)[:, None]
    floor = _rayleigh(rng, img.shape, 4.0 * s)
    return _done(img, img * gain + floor, fan, info, mask)


def speckle_noise(img, mask, severity, rng, fan=None):
    """Multiplicative speckle (Rayleigh, grain-sized, mean 1) plus additive noise, both growing with
    severity. Breaks artefacts from 0.25, the fine structures from 0.5."""
    img, s = _gray(img), float(severity)
    fan = fan_mask(img) if fan is None else fan
    br = [] if s < 0.25 else ["artefacts"] + (["structures", "csp", "third_ventricle", "midline"] if s >= 0.5 else [])
    info = _info("speckle_noise", s, br)
    if s <= 0:
        return img.copy(), {**info, "mask": mask}
    gr = _grain(img.shape)
    m = cv2.GaussianBlur(_rayleigh(rng, img.shape), (0, 0), 1.5 * gr, sigmaY=0.8 * gr)
    m = m / m.mean()
    m = 1.0 + (m - 1.0) * (0.7 * s) / max(1e-6, m.std())  # relative std of the speckle = 0.7 s
    add = np.abs(rng.standard_normal(img.shape, dtype=np.float32)) * np.float32(16.0 * s)
    out = img * np.maximum(m, 0.0) + add
    info["speckle_rel_std"], info["additive_std"] = 0.7 * s, 16.0 * s
    return _done(img, out, fan, info, mask)


def _polar(shape, origin):
    h, w = shape
    dx = np.arange(w, dtype=np.float32)[None, :] - np.float32(origin[0])
    dy = np.arange(h, dtype=np.float32)[:, None] - np.float32(origin[1])
    return np.arctan2(dx, dy), np.hypot(dx, dy)  # angle 0 = straight down from the probe


def acoustic_shadow(img, mask, severity, rng, fan=None):
    """A dark wedge radiating from the probe, behind a bright reflector just above the head, over the
    head; its width grows to ~70 % of the head's angular extent. Breaks artefacts from 0.25 and, from
    0.5, the head structures it hides."""
    img, s = _gray(img), float(severity)
    fan = fan_mask(img) if fan is None else fan
    info = _info("acoustic_shadow", s, [])
    if s <= 0 or not mask.any():
        return img.copy(), {**info, "mask": mask, "shadow": np.zeros_like(mask)}
    o = probe_origin(fan)
    ang, rad = _polar(img.shape, o)
    ha, hr = ang[mask], rad[mask]
    lo, hi = np.percentile(ha, [1, 99])
    centre = (lo + hi) / 2 + rng.uniform(-0.1, 0.1) * (hi - lo)
    half = 0.35 * s * (hi - lo)
    r0 = np.percentile(hr, 2) - rng.uniform(0.02, 0.12) * (np.percentile(hr, 98) - np.percentile(hr, 2))
    wedge = (np.abs(ang - centre) <= half) & (rad >= r0)
    soft = np.clip((half - np.abs(ang - centre)) / max(1e-4, 0.25 * half + 0.004), 0, 1)
    soft *= np.clip((rad - r0) / (0.03 * img.shape[0] + 1), 0, 1)
    att = 1.0 - (0.88 * min(1.0, 0.5 + s)) * soft
    out = img.astype(np.float32) * att + _rayleigh(rng, img.shape, 3.0) * soft
    th = 0.008 * img.shape[0] + 1  # the reflector (bone) casting it: a bright, uneven, blurred arc
    refl = np.exp(-((rad - r0) / th) ** 2) * np.clip((1.15 * half - np.abs(ang - centre)) / (0.3 * half + 1e-4), 0, 1)
    refl *= 0.6 + 0.4 * cv2.GaussianBlur(rng.random(img.shape, dtype=np.float32), (0, 0), 3)
    out = np.maximum(out, cv2.GaussianBlur(refl.astype(np.float32), (0, 0), 1.5) * 230)
    covered = float((wedge & mask).sum() / mask.sum())
    br = ["artefacts"] if s >= 0.25 else []
    if s >= 0.5:
        br += ["structures", "skull", *CENTRAL]
    info.update(breaks=sorted(set(br)), head_covered=covered, origin=o, shadow=wedge & fan)
    return _done(img, out, fan, info, mask)


def _shift(a: np.ndarray, dx: int, dy: int, fill=0):
    out = np.full_like(a, fill)
    h, w = a.shape[:2]
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    if h - abs(dy) > 0 and w - abs(dx) > 0:
        out[yd, xd] = a[ys, xs]
    return out


def _far_field(img, fan, rng):
    """Texture like the dark far field (the image's darker neighbourhoods), never black."""
    return np.maximum(texture_like(img, fan, rng, (0.1, 0.4), 0.8), 12.0)


def slide_out(img, mask, severity, rng, fan=None):
    """The content shifted sideways (the probe sliding; left or right, whichever edge is nearer; down
    only when neither gets there) until 60 % x severity of
    the head mask lies outside the imaging region; the vacated part is dark far field. Breaks skull and
    structures from any shift, the central structures once the head's centre leaves."""
    img, s = _gray(img), float(severity)
    fan = fan_mask(img) if fan is None else fan
    info = _info("slide_out", s, [])
    target = 0.6 * s
    if s <= 0 or not mask.any():
        return img.copy(), {**info, "mask": mask, "visible": 1.0}

    def visible(d, vec):
        m = _shift(mask, vec[0] * d, vec[1] * d)
        return (m & fan).sum() / mask.sum()

    best = None
    for vec in ((-1, 0), (1, 0), (0, 1)):
        if best is not None and vec == (0, 1):
            break
        lo, hi = 0, max(img.shape)
        if visible(hi, vec) > 1 - target:
            continue
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if visible(mid, vec) > 1 - target else (lo, mid)
        if best is None or hi < best[0]:
            best = (hi, vec)
    d, vec = best if best else (0, (1, 0))
    dx, dy = vec[0] * d, vec[1] * d
    moved = _shift(img.astype(np.float32), dx, dy)
    src_ok = _shift(fan, dx, dy, False)
    soft = cv2.GaussianBlur(src_ok.astype(np.float32), (0, 0), 0.006 * img.shape[1] + 1) * src_ok
    out = moved * soft + _far_field(img, fan, rng) * (1 - soft)
    new_mask = _shift(mask, dx, dy, False) & fan
    vis = float(new_mask.sum() / mask.sum())
    br = ["structures", "skull"]
    cy, cx = (np.mean(np.where(mask), axis=1) + (dy, dx)).round().astype(int)
    inside = 0 <= cy < img.shape[0] and 0 <= cx < img.shape[1] and fan[cy, cx]
    if not inside:
        br += list(CENTRAL) + ["plane"]
    info.update(breaks=sorted(set(br)), shift=(int(dx), int(dy)), visible=vis)
    return _done(img, out, fan, info, new_mask)


def _skin_centre(fan):
    """Centre of the fan's top edge: where the probe touches the skin (a cropped or write-zoomed sector
    has its apex far above the image; shrinking about that would push the head out of view)."""
    rows = np.where(fan.any(1))[0]
    top = rows[0] if rows.size else 0
    xs = np.where(fan[top])[0]
    return (float(xs.mean()) if xs.size else fan.shape[1] / 2.0), float(top)


def too_small(img, mask, severity, rng, fan=None):
    """The content shrunk about the probe (the centre of the fan's top edge) by s = 1 - 0.55 x severity (head area x s^2) while the fan
    keeps its outline; the exposed fan is filled with tissue texture of the image's own grey levels.
    Breaks zoom from 0.25."""
    img, s = _gray(img), float(severity)
    fan = fan_mask(img) if fan is None else fan
    info = _info("too_small", s, ["zoom"] if s >= 0.25 else [])
    k = 1.0 - 0.55 * s
    info["scale"] = k
    if s <= 0:
        return img.copy(), {**info, "mask": mask}
    ox, oy = _skin_centre(fan)
    h, w = img.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    mx, my = ox + (xx - ox) / k, oy + (yy - oy) / k
    moved = cv2.remap(img.astype(np.float32), mx, my, cv2.INTER_LINEAR, borderValue=0)
    src_fan = cv2.remap(fan.astype(np.uint8), mx, my, cv2.INTER_NEAREST, borderValue=0) > 0
    new_mask = (cv2.remap(mask.astype(np.uint8), mx, my, cv2.INTER_NEAREST, borderValue=0) > 0) & fan
    tex = texture_like(img, fan & ~mask, rng, (0.5, 0.95), k)
    edge = cv2.GaussianBlur(src_fan.astype(np.float32), (0, 0), 0.008 * w + 1)
    out = moved * edge + tex * (1 - edge)
    out = np.where(src_fan & (edge > 0.999), moved, out)
    info["head_area_ratio"] = float(new_mask.sum() / max(1, mask.sum()))
    return _done(img, out, fan, info, new_mask)


def tile_shuffle(img, mask, severity, rng, fan=None, tiles: int = 16):
    """Decoy: the whole tiles of the imaging region (~1/16 of its width) permuted among themselves
    (a fraction = severity of them) — the same grey levels and texture, no anatomy; partial tiles at
    the fan edge stay, so the outline and the histogram are kept. At full severity it breaks all."""
    img, s = _gray(img), float(severity)
    fan = fan_mask(img) if fan is None else fan
    br = ([*GLOBAL_HEAD] if s >= 0.5 else [])
    info = _info("tile_shuffle", s, br)
    ys, xs = np.where(fan)
    if s <= 0 or ys.size == 0:
        return img.copy(), {**info, "mask": mask}
    t = max(8, int(round((xs.max() - xs.min() + 1) / tiles)))
    y0, x0 = ys.min(), xs.min()
    cells = []
    for y in range(y0, ys.max() - t + 2, t):
        for x in range(x0, xs.max() - t + 2, t):
            if fan[y:y + t, x:x + t].all():
                cells.append((y, x))
    n = int(round(s * len(cells)))
    pick = rng.choice(len(cells), n, replace=False) if n > 1 else np.array([], int)
    perm = pick[rng.permutation(len(pick))]
    out = img.copy()
    for a, b in zip(pick, perm):
        (ya, xa), (yb, xb) = cells[a], cells[b]
        out[ya:ya + t, xa:xa + t] = img[yb:yb + t, xb:xb + t]
    info.update(tile_px=t, tiles_moved=int(n))
    return out, {**info, "mask": np.zeros_like(mask) if s >= 0.5 else mask}


GLOBAL_HEAD = ("structures", "plane", "skull", *CENTRAL)

#: factor name -> degradation (the six of issue 10's ladders, then the decoy)
LADDER_FACTORS = ("blur", "dark_gain", "speckle_noise", "acoustic_shadow", "slide_out", "too_small")
DEGRADATIONS = {"blur": blur, "dark_gain": dark_gain, "speckle_noise": speckle_noise,
                "acoustic_shadow": acoustic_shadow, "slide_out": slide_out, "too_small": too_small,
                "tile_shuffle": tile_shuffle}
SEVERITIES = (0.0, 0.25, 0.5, 0.75, 1.0)


def degrade(factor: str, img: np.ndarray, mask: np.ndarray, severity: float, seed: int = 0, fan=None):
    """One degradation with its own seeded generator (the same seed across a ladder's severities);
    ``fan``: the frame's :func:`fan_mask`, when already known (a ladder computes it once)."""
    return DEGRADATIONS[factor](img, mask, severity, np.random.default_rng(seed), fan=fan)


def ladder_sheet(img: np.ndarray, mask: np.ndarray, seed: int = 0, width: int = 320) -> np.ndarray:
    """A contact sheet (BGR): one row per degradation, one column per severity, the head mask after
    the degradation outlined in orange (bench_real --sheet: runs/real_ladders.png, HC18 pixels, never committed)."""
    h = int(round(img.shape[0] * width / img.shape[1]))
    rows = []
    for f in DEGRADATIONS:
        row = []
        for s in SEVERITIES:
            out, info = degrade(f, img, mask, s, seed)
            t = cv2.cvtColor(cv2.resize(out, (width, h), interpolation=cv2.INTER_AREA), cv2.COLOR_GRAY2BGR)
            m = cv2.resize(info["mask"].astype(np.uint8), (width, h), interpolation=cv2.INTER_NEAREST)
            cv2.drawContours(t, cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)[0], -1, (0, 160, 255), 1)
            cv2.putText(t, f"{f} {s:.2f}", (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (80, 255, 80), 1, cv2.LINE_AA)
            row.append(t)
        rows.append(np.hstack(row))
    return np.vstack(rows)
