"""Domain randomisation for the synthetic generator ("real" style, SYNTHETIC images).

A :class:`Style` changes how an image *looks*, never what it *shows* for the label: the fan filled with
what surrounds a fetus on a real scan (a textured maternal wall, the uterine wall, amniotic fluid
pockets, placenta, other fetal parts), the anatomy zoomed to fill the screen, speckle of random cell
size, a time-gain-compensation (TGC) curve and lateral gain variation, a vendor grey map (gamma and
S-curve) and sometimes a colour tint (sepia, blue, bronze; the image is then BGR). Everything it paints
has soft-tissue attenuation (no shadow over the plane's structures) and lies under the structures in
painter's order, so the visible area of every required structure, and with it the label
(quality.score), is the same as in the plain style. Its random draws come from a generator of their
own (``rng.spawn``), so the plain style's stream, and its bytes, are untouched.

``realism`` (0..1) scales how far each element departs from the plain look; ``Style`` is None for 0.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .anatomy import TISSUES

TINTS = {  # BGR gains at mid-grey and per-channel gamma: (gain, gamma) for B, G, R
    "sepia": ((0.78, 1.15), (0.92, 1.0), (1.06, 0.92)),
    "blue": ((1.08, 0.9), (0.97, 1.0), (0.84, 1.12)),
    "bronze": ((0.62, 1.3), (0.86, 1.05), (1.08, 0.88)),
}


@dataclass
class Part:
    """A fetal part (limb, trunk, cord loop) beside the anatomy: an ellipse in image mm."""

    a: float
    d: float
    ax: float
    ay: float
    ang: float  # rad
    kind: str  # "body" | "limb" | "cord"


@dataclass
class Style:
    realism: float
    seed: int  # for the texture fields
    cell: float = 1.0  # speckle cell size (PSF scale; not a defocus: the label does not see it)
    smooth: float = 0.0  # speckle reduction filter (samples, lateral; axial 0.6 x)
    grain: tuple = (0.35, 0.35)  # smallest speckle PSF (axial, lateral) in polar samples
    sri: float = 0.0  # edge-preserving speckle reduction: the bilateral filter's range sigma (grey levels)
    tgc_db: np.ndarray = field(default_factory=lambda: np.zeros(6))  # TGC slider offsets, top to bottom
    lgc_db: np.ndarray = field(default_factory=lambda: np.zeros(4))  # lateral gain, left to right
    gamma: float = 1.0
    s_curve: float = 0.0  # 0 = linear; 1 = strong S
    tint: str | None = None
    halo: float = 8.0  # amniotic fluid around the anatomy (mm)
    halo_harm: np.ndarray = field(default_factory=lambda: np.zeros(6))
    fluid_share: float = 0.3  # share of the uterine contents that is fluid
    content_echo: float = 0.6  # mean echo of what is not fluid (fetal parts, placenta, cord)
    echo_gain: dict = field(default_factory=dict)  # tissue -> echo factor in the plane's anatomy (look only)
    specular: float = 0.0  # how much a reflector's echo falls where the beam runs along it (0..1)
    uterine: float = 6.0  # uterine wall thickness (mm)
    posterior_placenta: float = 0.0  # thickness (mm) above the posterior wall, 0 = none
    maternal_tex: float = 0.5  # striation strength of the maternal wall
    haze: float = 0.02  # clutter floor (fluid not pitch black)
    parts: list[Part] = field(default_factory=list)
    sector: float = 1.0  # share of the sector shown (a narrower field of view on the display)
    view_jitter: float = 0.0  # lateral position of the zoom window (-1..1 of its freedom)
    zoom_in: float = 0.0  # the zoom box starts this share of its height below the probe
    fill_push: float = 0.0  # a well-zoomed anatomy drawn towards the top of the full-credit band
    near: float = 5.0  # mm between the zoom box's top and the anatomy


def sample_style(rng: np.random.Generator, realism: float) -> Style | None:
    r = float(np.clip(realism, 0.0, 1.0))
    if r <= 0:
        return None
    st = Style(realism=r, seed=int(rng.integers(1 << 31)))
    st.cell = float(np.exp(r * rng.uniform(np.log(0.75), np.log(1.25))))
    st.smooth = float(r * rng.uniform(0.1, 0.8))
    st.sri = float(r * rng.uniform(10, 45)) if rng.random() < 0.8 else 0.0
    st.grain = (float(0.35 + r * rng.uniform(0.2, 0.6)), float(0.35 + r * rng.uniform(0.6, 1.6)))
    st.tgc_db = r * rng.uniform(-3.5, 3.5, 6)
    st.lgc_db = r * rng.uniform(-2.0, 2.0, 4)
    st.gamma = float(np.exp(r * rng.uniform(np.log(0.9), np.log(2.1))))  # real maps are darker than ours
    st.s_curve = float(r * rng.uniform(0.0, 1.0))
    st.tint = str(rng.choice(list(TINTS))) if rng.random() < 0.25 * r else None
    st.halo = float(rng.uniform(2.0, 22.0))
    st.halo_harm = rng.normal(0, 0.35, 6)
    st.specular = float(r * rng.uniform(0.5, 0.85))
    st.fluid_share = float(rng.uniform(0.1, 0.6))
    st.content_echo = float(rng.uniform(0.3, 0.8))
    st.echo_gain = {"brain": float(np.exp(r * rng.uniform(np.log(0.15), np.log(0.7)))),
                    "bone": float(np.exp(r * rng.uniform(0.0, np.log(2.0)))),
                    "fetal": float(np.exp(r * rng.uniform(np.log(0.7), np.log(1.2)))),
                    "membrane": float(np.exp(r * rng.uniform(np.log(0.35), 0.0)))}
    st.uterine = float(rng.uniform(3.0, 10.0))
    st.posterior_placenta = float(rng.uniform(12, 35)) if rng.random() < 0.4 else 0.0
    st.maternal_tex = float(r * rng.uniform(0.3, 1.0))
    st.haze = float(r * rng.uniform(0.01, 0.05))
    st.sector = float(1.0 - r * rng.uniform(0.0, 0.4)) if rng.random() < 0.6 else 1.0
    st.view_jitter = float(rng.uniform(-1, 1))
    st.zoom_in = float(r * rng.uniform(0.1, 0.7)) if rng.random() < 0.75 else 0.0
    st.fill_push = float(r * rng.uniform(0.3, 1.0))
    st.near = float(rng.uniform(1.5, 12.0))
    return st


def add_parts(st: Style, rng: np.random.Generator, a_c: float, d_c: float, hx: float, hy: float) -> None:
    """Place 1-4 fetal parts around the anatomy (outside its halo), none between it and the probe
    (nothing here casts a shadow anyway, but a part on top would hide the plane's context)."""
    n = int(rng.integers(1, 5))
    rr = float(np.hypot(hx, hy))
    for k in range(n):
        kind = str(rng.choice(["body", "limb", "cord"], p=[0.4, 0.35, 0.25]))
        phi = float(rng.uniform(-0.15 * np.pi, 1.15 * np.pi))  # 0 = right, pi/2 = below, pi = left
        if kind == "body":
            ax, ay = rr * rng.uniform(0.6, 1.1), rr * rng.uniform(0.45, 0.8)
        elif kind == "limb":
            ax, ay = rr * rng.uniform(0.4, 0.8), rr * rng.uniform(0.1, 0.2)
        else:
            ax = ay = rr * rng.uniform(0.08, 0.14)
        dist = rr + st.halo * rng.uniform(0.5, 1.0) + 0.8 * max(ax, ay)
        st.parts.append(Part(a_c + dist * np.cos(phi), d_c + dist * np.sin(phi), ax, ay,
                             float(rng.uniform(0, np.pi)), kind))


def _field(A: np.ndarray, D: np.ndarray, seed: int, scale_a: float, scale_d: float) -> np.ndarray:
    """Smooth unit-variance random field sampled at image points (mm), isotropic in the image."""
    g = np.random.default_rng(seed).standard_normal((96, 96)).astype(np.float32)
    g = cv2.GaussianBlur(g, (0, 0), 1.2, borderType=cv2.BORDER_REFLECT)
    g /= g.std() + 1e-6
    mx = (A / scale_a + 48.0).astype(np.float32)
    my = (D / scale_d + 4.0).astype(np.float32)
    return cv2.remap(g, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def paint_environment(st: Style, geom, A, D, echo, att, *, a_c, d_c, ex, ey, rot, wall, posterior) -> None:
    """Uterine contents around the anatomy, painted before the scene (which then covers it)."""

    def paint(m, e, t, win=(slice(None), slice(None))):
        ew, aw = echo[win], att[win]
        ew += (e - ew) * m
        aw += (t - aw) * m

    dA, dD = A - np.float32(a_c), D - np.float32(d_c)
    g = np.deg2rad(rot)
    u = np.float32(np.cos(g)) * dA - np.float32(np.sin(g)) * dD
    v = np.float32(np.sin(g)) * dA + np.float32(np.cos(g)) * dD
    rho = np.sqrt((u / ex) ** 2 + (v / ey) ** 2)
    th = np.arctan2(v, u)
    halo = np.float32(st.halo) * (1 + sum(np.float32(st.halo_harm[k]) * np.sin((k + 1) * th + k) for k in range(3)))
    dist = (rho - 1) * np.float32(min(ex, ey))  # mm outside the anatomy (approx.)
    fe, fa = TISSUES["fetal"]
    pe, pa = TISSUES["placenta"]
    n = _field(A, D, st.seed, 14.0, 11.0)
    thr = np.float32(np.quantile(n[::3, ::3], st.fluid_share))
    contents = np.clip((n - thr) * 2.5, 0, 1) * np.clip((dist - np.maximum(halo, 1.0)) / 3.0, 0, 1)
    lob = _field(A, D, st.seed + 1, 2.2, 2.2)
    ce = np.float32(st.content_echo) * np.exp(np.float32(0.35) * lob)
    paint(contents, ce, fa)
    for p in st.parts:
        win = geom.window(p.a, p.d, max(p.ax, p.ay) + 2.0)
        if win is None:
            continue
        Aw, Dw, dw, lw = A[win], D[win], dist[win], lob[win]
        ca, sa = np.float32(np.cos(p.ang)), np.float32(np.sin(p.ang))
        pu, pv = (Aw - p.a) * ca + (Dw - p.d) * sa, -(Aw - p.a) * sa + (Dw - p.d) * ca
        pr = np.sqrt((pu / p.ax) ** 2 + (pv / p.ay) ** 2)
        dd = (pr - 1) * np.float32(min(p.ax, p.ay))
        inside = np.clip(0.5 - dd / 0.8, 0, 1) * np.clip((dw - 1.0) / 2.0, 0, 1)
        if p.kind == "cord":  # a cord loop: vessel lumen in a bright jelly wall
            paint(inside, 1.2, fa, win)
            paint(np.clip(0.5 - (dd + 0.5 * min(p.ax, p.ay)) / 0.5, 0, 1) * inside, 0.02, 0.001, win)
            continue
        paint(inside, fe * (1 + 0.3 * lw), fa, win)
        paint(np.exp(-(dd / 0.5) ** 2) * np.clip(dw / 2.0, 0, 1), 2.5, fa, win)  # skin line, no shadow
        if p.kind == "limb":  # bone seen as a bright line without its shadow (lies beside the plane)
            core = np.exp(-((pv / (0.25 * p.ay)) ** 2)) * np.clip(1.0 - np.abs(pu) / (0.8 * p.ax), 0, 1)
            paint(core * np.clip(dw / 2.0, 0, 1), 6.0, fa, win)
    # uterine wall under the maternal wall, and an optional posterior placenta above the posterior wall
    uw = np.clip(0.5 + (wall + np.float32(st.uterine) - D) / 1.5, 0, 1) * np.clip((dist - 1.0) / 2.0, 0, 1)
    paint(uw * (D > wall - 2), 0.55 * np.exp(np.float32(0.3) * lob), TISSUES["muscle"][1])
    if st.posterior_placenta > 0:
        wav = 3.0 * np.sin(A / 23.0 + st.seed % 7)
        pp = np.clip(0.5 + (D - (posterior - st.posterior_placenta - wav)) / 2.0, 0, 1)
        pp *= np.clip((dist - 1.0) / 2.0, 0, 1)
        paint(pp, pe * np.exp(np.float32(0.25) * lob), pa)
        paint(0.6 * np.exp(-((D - (posterior - st.posterior_placenta - wav)) / 0.6) ** 2) * (dist > 1), 3.0, pa)


def maternal_texture(st: Style, A, D, echo, wall) -> None:
    """Striated, lobular maternal wall (fat lobules, muscle fibres along the skin)."""
    s = _field(A, D, st.seed + 2, 7.0, 0.9)
    lob = _field(A, D, st.seed + 3, 2.5, 1.8)
    m = np.clip(0.5 + (wall - D) / 1.0, 0, 1)
    echo *= np.exp(np.float32(st.maternal_tex) * m * (0.55 * s + 0.35 * lob))


def gain_map_db(st: Style, nr: int, na: int) -> np.ndarray:
    """TGC (smooth over depth through the slider knots) plus lateral gain, dB, nr x na."""
    t = np.interp(np.linspace(0, 1, nr), np.linspace(0, 1, len(st.tgc_db)), st.tgc_db)
    l = np.interp(np.linspace(0, 1, na), np.linspace(0, 1, len(st.lgc_db)), st.lgc_db)
    return (t[:, None] + l[None, :]).astype(np.float32)


def grey_lut(st: Style) -> np.ndarray:
    x = np.arange(256) / 255.0
    y = x ** st.gamma
    if st.s_curve > 0:
        k = 4.0 + 8.0 * st.s_curve
        s = 1 / (1 + np.exp(-k * (y - 0.5)))
        s = (s - s[0]) / (s[-1] - s[0])
        y = (1 - 0.6 * st.s_curve) * y + 0.6 * st.s_curve * s
    return np.clip(np.round(y * 255), 0, 255).astype(np.uint8)


def display(st: Style, img: np.ndarray) -> np.ndarray:
    """Vendor grey map, then (if any) a colour tint: gray uint8 -> gray or BGR uint8; 0 stays 0."""
    out = cv2.LUT(img, grey_lut(st))
    if st.tint is None:
        return out
    x = np.arange(256) / 255.0
    luts = [np.clip(np.round(255 * np.minimum(1.0, gain * x ** gam)), 0, 255).astype(np.uint8)
            for gain, gam in TINTS[st.tint]]
    return cv2.merge([cv2.LUT(out, lt) for lt in luts])


def crop_beams(st: Style, spec) -> tuple[object, slice]:
    """The displayed sector: ``st.sector`` of the beams, symmetric, but never a beam that crosses the
    anatomy (plus a margin) and none at all under lift-off (the label counts every beam's contact).
    Returns the display geometry and the polar columns it shows."""
    from dataclasses import replace

    g, pose = spec.geom, spec.pose
    if st.sector >= 1.0 or spec.acq.liftoff > 0:
        return g, slice(0, g.na)
    rr = float(np.hypot(spec.extra["hx"], spec.extra["hy"])) + 4.0
    if g.kind == "curvilinear":
        h = float(np.hypot(pose.a_c, pose.d_c + g.radius))
        th = abs(np.arctan2(pose.a_c, pose.d_c + g.radius)) + (np.arcsin(rr / h) if rr < h else np.pi)
        keep = th / g.half_angle
    else:
        keep = (abs(pose.a_c) + rr) / (g.width / 2)
    k = int(np.floor(g.na * (1.0 - max(st.sector, keep)) / 2))
    if k <= 0:
        return g, slice(0, g.na)
    n = g.na - 2 * k
    if g.kind == "curvilinear":
        return replace(g, half_angle=g.half_angle * n / g.na, na=n), slice(k, g.na - k)
    return replace(g, width=g.width * n / g.na, na=n), slice(k, g.na - k)


def view_window(st: Style, geom, a_c: float, hx: float, d0: float, out_w: int, out_h: int,
                box: tuple[int, int, int, int], liftoff: float = 0.0) -> tuple[float, float, float, float]:
    """The zoomed field shown in ``box``: from ``d0`` (the zoom box's top; the fan's top if 0) to the
    full depth, cropped laterally to the box's aspect, but never so much that the part of the anatomy
    inside the fan is cut off (the label sees all of it), and not at all under lift-off (the label
    counts every beam's contact, so every beam stays in view)."""
    amin, amax, dmin, dmax = geom.bbox()
    top = d0 if d0 > 0 else dmin
    hgt = dmax - top
    wid = hgt * box[2] / box[3]
    lo, hi = max(a_c - hx - 3.0, amin), min(a_c + hx + 3.0, amax)
    if liftoff > 0:
        lo, hi = amin, amax
    wid = max(wid, hi - lo)
    c_lo, c_hi = hi - wid / 2, lo + wid / 2  # centres that keep [lo, hi] in view
    f_lo, f_hi = amin + wid / 2, amax - wid / 2  # centres that keep the view inside the fan
    if max(c_lo, f_lo) <= min(c_hi, f_hi):
        c_lo, c_hi = max(c_lo, f_lo), min(c_hi, f_hi)
    c = (c_lo + c_hi) / 2 + st.view_jitter * (c_hi - c_lo) / 2
    return c - wid / 2, c + wid / 2, top, dmax
