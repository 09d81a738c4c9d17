"""Quality factors, their continuous severities, and the clinical-style label (SYNTHETIC labels).

Every factor has a severity in [0, 1] (0 = none). ``spec_from_severities`` turns severities into the
image's geometry, pose and acquisition; ``score`` turns what the formed image shows (visible area of
each required structure, measured on the image plane after lift-off and shadowing) plus the
settings into criterion credits that add up to a 0-100 score, the way audits score standard planes
(required structures visible and clear, plane correct, magnification, gain, artefacts). ``raters``
simulates a fixed panel of raters with bias and noise and returns mos and std.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .anatomy import Scene, build_scene
from .formation import Acquisition, Geometry, Pose

#: all quality factors; "beam_angle" applies to the femur plane only
FACTORS = ("tilt", "offset", "zoom", "gain", "dynamic_range", "defocus", "motion", "noise", "shadow",
           "out_of_fan", "liftoff", "beam_angle")

#: score weights of the global criteria per plane (structure weights live in anatomy.Criterion)
GLOBAL_WEIGHTS = {
    "head": {"plane": 15, "zoom": 10, "settings": 10, "artefacts": 5},
    "abdomen": {"plane": 10, "zoom": 10, "settings": 5, "artefacts": 5},
    "femur": {"plane": 15, "zoom": 15, "settings": 10, "artefacts": 10},
    # not assessed by the product: a four-chamber audit of its own, so 4CH rows carry a meaningful
    # number, but a trainer should not learn the score from them (dataset.py: scored = 0)
    "4CH": {"plane": 10, "zoom": 10, "settings": 5, "artefacts": 5},
}

from .nonfetal import GLOBAL_WEIGHTS as _NONFETAL_WEIGHTS, NONFETAL  # noqa: E402

GLOBAL_WEIGHTS.update(_NONFETAL_WEIGHTS)
GA_RANGE = (18.0, 34.0)


def factors_for(plane: str) -> tuple[str, ...]:
    return FACTORS if plane == "femur" else tuple(f for f in FACTORS if f != "beam_angle")


@dataclass
class Spec:
    plane: str
    scene: Scene
    geom: Geometry
    pose: Pose
    acq: Acquisition
    severity: dict[str, float]
    fill: float  # structure size / imaging depth
    extra: dict = field(default_factory=dict)
    style: object = None  # style.Style for the "real" look, None = plain


def sample_severities(plane: str, rng: np.random.Generator) -> dict[str, float]:
    """Severities spread so that labels cover 0-100: some clean images, a few probe lift-offs,
    the rest with one to three active factors of uniform severity over mild background ones."""
    fs = factors_for(plane)
    # mild background imperfections; shadow, out-of-fan and lift-off only when active
    sev = {f: (float(rng.uniform(0, 0.12)) if f not in ("shadow", "out_of_fan", "liftoff") else 0.0) for f in fs}
    u = rng.random()
    if u < 0.08:
        return sev
    if u < 0.12:
        sev["liftoff"] = 1.0 if rng.random() < 0.5 else float(rng.uniform(0.4, 1.0))
        return sev
    k = int(rng.choice([1, 2, 3], p=[0.4, 0.35, 0.25]))
    for f in rng.choice([f for f in fs if f != "liftoff"], size=k, replace=False):
        sev[str(f)] = float(rng.uniform(0.2, 1.0) ** 1.4)
    return sev


def spec_from_severities(plane: str, sev: dict[str, float], rng: np.random.Generator, *, ga: float | None = None,
                         nr: int = 256, na: int = 192, dense_beams: bool = False, zoom_in: float = 0.0,
                         fill_push: float = 0.0, near: float | None = None) -> Spec:
    """Geometry, pose and acquisition for the given severities (missing factors = 0).

    ``dense_beams`` (the "real" style): more beams for the zoomed display. ``zoom_in``: a scanner's
    zoom box, the displayed depth range starts ``zoom_in`` x its height below the probe (the physical
    depth grows by that much, the anatomy moves down with it): what the sonographer sees, the anatomy's
    share of the displayed height (``fill``, the zoom criterion), stays. ``fill_push`` (0..1): move a
    fill inside the zoom criterion's full-credit band towards its top, as real scans are zoomed (same
    credit; outside the band the fill is unchanged; never so far that the anatomy is cut off).
    ``near``: with a zoom box, the gap (mm) between its top and the anatomy. Every draw from ``rng``
    stays the same, so the severities, GA, pose and settings match the plain image of that seed."""
    bad = sorted(set(sev) - set(FACTORS))
    if bad:
        raise ValueError(f"unknown quality factor(s) {', '.join(bad)}; known: {', '.join(FACTORS)}")
    s = {f: float(np.clip(sev.get(f, 0.0), 0.0, 1.0)) for f in FACTORS}
    ga = float(rng.uniform(*GA_RANGE)) if ga is None else float(ga)
    scene = build_scene(plane, ga, rng)
    ex, ey = scene.extent
    # probe and magnification
    linear = scene.size_mm < 40 and rng.random() < 0.3
    if s["zoom"] > 0 and rng.random() < 0.6:
        fill = 0.68 - 0.5 * s["zoom"]  # too small
    else:
        fill = 0.68 + 0.55 * s["zoom"]  # too large (spills out of the fan)
    fill *= rng.uniform(0.93, 1.07)
    depth = float(np.clip(scene.size_mm / fill, 35.0, 220.0))  # the displayed depth range
    d0 = float(zoom_in) * depth  # where it starts (0: at the probe)
    if linear:
        geom = Geometry("linear", depth + d0, width=float(rng.uniform(40, 50)), nr=nr, na=na)
    else:
        geom = Geometry("curvilinear", depth + d0, radius=float(rng.uniform(40, 60)),
                        half_angle=float(np.deg2rad(rng.uniform(30, 38))), nr=nr, na=na)
    # in-plane orientation
    if plane == "femur":
        ang = rng.uniform(0, 8) + 55 * s["beam_angle"]
        rot = float(rng.choice([-1, 1]) * ang + rng.choice([0, 180]))
    elif plane == "head":
        rot = float(rng.uniform(-30, 30) + rng.choice([0, 180]))
    else:
        rot = float(180.0 + rng.uniform(-120, 120))  # spine not straight up (its shadow would hide the UV)
    g = np.deg2rad(rot)
    hx = float(np.hypot(ex * np.cos(g), ey * np.sin(g)))
    hy = float(np.hypot(ex * np.sin(g), ey * np.cos(g)))
    maternal = float(min(rng.uniform(7, 18), 0.16 * depth))
    top = maternal + 2.0
    lo, hi = ZOOM_FULL
    if fill_push > 0 and lo < scene.size_mm / depth < hi:
        f1 = scene.size_mm / depth
        f2 = hi - (hi - f1) ** (1 + 4 * fill_push) * (hi - lo) ** (-4 * fill_push)
        f2 = max(f1, min(f2, scene.size_mm / (top + 2 * hy + 2.0)))  # the anatomy still fits below the top
        d2 = float(np.clip(scene.size_mm / f2, 35.0, 220.0))
        depth = d2 if lo <= scene.size_mm / d2 <= hi else depth
    if zoom_in > 0 or fill_push > 0:
        d0 = float(zoom_in) * depth
        geom.depth = depth + d0
        if d0 > 0 and near is not None:
            top = max(float(near), top - d0)  # the anatomy's gap under the zoom box's top (below the wall)
    if dense_beams:
        _dense_beams(geom, depth)
    free = depth - top - 2 * hy - 2.0
    d_c = top + hy + (rng.uniform(0.2, 0.8) * free if free > 0 else free / 2) + d0
    amin, amax, _, _ = geom.bbox()
    half_w = (geom.radius + d_c) * np.sin(geom.half_angle) if geom.kind == "curvilinear" else geom.width / 2
    slack = max(0.0, half_w - hx - 1.0)
    a_c = float(rng.uniform(-0.6, 0.6) * slack)
    if s["out_of_fan"] > 0.0:
        push = 0.75 * s["out_of_fan"] * 2 * (hx if rng.random() < 0.7 else hy)
        if rng.random() < 0.7:
            a_c = float(rng.choice([-1, 1]) * (slack + push))
        else:
            d_c = float(d_c + max(0.0, geom.depth - 1.0 - (d_c + hy)) + push)
    # off-plane tilt and offset
    tilt = rng.uniform(0, 2.0) + (16.0 if plane == "femur" else 35.0) * s["tilt"]
    phi = rng.uniform(0, 2 * np.pi)
    offset = float(rng.choice([-1, 1]) * s["offset"] * scene.offset_scale)
    pose = Pose(a_c, float(d_c), rot, float(tilt * np.cos(phi)), float(tilt * np.sin(phi)), offset)
    # acquisition
    gsign = -1.0 if rng.random() < 0.55 else 1.0
    dsign = -1.0 if rng.random() < 0.5 else 1.0
    acq = Acquisition(
        gain_db=float(gsign * 28.0 * s["gain"] + rng.normal(0, 1.0)),
        dr_db=float(60.0 * 1.9 ** (dsign * s["dynamic_range"])),
        psf_scale=1.0 + 4.0 * s["defocus"],
        focus=float(np.clip((d_c) / geom.depth + rng.normal(0, 0.05), 0.2, 0.9)),
        motion_mm=5.0 * s["motion"],
        motion_deg=float(rng.uniform(-25, 25)),
        noise=s["noise"],
        liftoff=s["liftoff"] if s["liftoff"] < 0.97 else 1.0,
        liftoff_side=int(rng.choice([-1, 1])),
        maternal=maternal,
        reverb=float(rng.uniform(0.2, 0.5)),
        posterior=float(d_c + hy + rng.uniform(4, 25)),
    )
    if rng.random() < 0.35:
        a0 = float(rng.uniform(amin, amax * 0.3))
        placenta = (a0, a0 + float(rng.uniform(0.4, 0.9)) * (amax - amin), float(rng.uniform(6, 18)))
        acq.placenta = None if plane in NONFETAL else placenta  # same draws either way
    if s["shadow"] > 0.0:
        dcs = 0.6 * maternal
        if geom.kind == "curvilinear":
            th = np.arctan2(a_c, d_c + geom.radius)
            lat = (geom.radius + dcs) * np.sin(th)
            scale = (geom.radius + dcs) / (geom.radius + d_c)
        else:
            lat, scale = a_c, 1.0
        acq.shadow_width = float(s["shadow"] * 0.9 * 2 * hx * scale)
        acq.shadow_a = float(lat + rng.uniform(-0.25, 0.25) * hx * scale)
    return Spec(plane, scene, geom, pose, acq, s, fill=scene.size_mm / depth,
                extra={"ga": ga, "rot": rot, "hx": hx, "hy": hy, "d0": d0})


def _dense_beams(geom: Geometry, shown: float) -> None:
    """More beams (and depth samples) where the plain count would undersample the zoomed display of
    ``shown`` mm of depth. Radius, field of view
    and aperture stay: they set the beams' directions and which part of the anatomy lies in the fan,
    so the shadows, the out-of-fan share and the lift-off, and with them the label, are unchanged (the
    style narrows the sector on the display only: style.crop_beams)."""
    if geom.kind == "curvilinear":
        spacing = (geom.radius + 0.5 * geom.depth) * 2 * geom.half_angle / geom.na
    else:
        spacing = geom.width / geom.na
    px = shown / geom.nr  # the zoomed display shows that depth over about nr pixels
    geom.na = int(np.ceil(geom.na * float(np.clip(spacing / px, 1.0, 1.25))))
    geom.nr = int(np.ceil(geom.nr * min(1.25, geom.depth / shown)))


# ----------------------------------------------------------------------------- the label
#: the fill (structure size / displayed depth) that earns full zoom credit
ZOOM_FULL = (0.58, 0.92)


def _ramp(x: float, lo: float, hi: float) -> float:
    return float(np.clip((x - lo) / (hi - lo), 0.0, 1.0))


def _smooth(x: float, lo: float, hi: float) -> float:
    t = _ramp(x, lo, hi)
    return t * t * (3 - 2 * t)


def clarity(spec: Spec, size_mm: float) -> float:
    """How clearly a feature of ``size_mm`` shows under blur, noise, gain and dynamic range (0..1)."""
    a = spec.acq
    blur = float(np.hypot(1.3 * (a.psf_scale - 1.0), a.motion_mm))
    c_blur = 1.0 / (1.0 + (blur / (0.5 * size_mm + 1.8)) ** 2)
    c_noise = 1.0 - 0.9 * _smooth(a.noise, 0.2, 1.0)
    g = a.gain_db
    c_gain = float(np.exp(-((g / 17.0) ** 2))) if g < 0 else float(np.exp(-((g / 28.0) ** 2)))
    c_dr = float(np.exp(-((np.log2(a.dr_db / 60.0) / 0.8) ** 2)))
    return c_blur * c_noise * c_gain * c_dr


def score(spec: Spec, measures: dict) -> dict:
    """Noise-free score (0-100) and the per-criterion breakdown for a formed image."""
    scene = spec.scene
    vis_area = measures["visible_area"]
    crit, missing = {}, []
    total = 0.0
    main = None
    for c in scene.criteria:
        area = sum(vis_area.get(n, 0.0) for n in c.prims)
        frac = area / max(scene.ideal_area[c.name], 1e-6)
        v = _smooth(frac, 0.25, 0.85)
        credit = v * clarity(spec, c.size_mm)
        crit[c.name] = round(credit, 3)
        if credit < 0.5:
            missing.append(c.name)
        total += c.weight * credit
        if main is None:  # the plane's main structure: is there something to judge at all?
            main = _smooth(frac, 0.1, 0.5) * clarity(spec, c.size_mm)
    # a plane missing any required structure is at best "acceptable": the credits are scaled down
    gate = 0.75 + 0.25 * min(crit.values())
    w = GLOBAL_WEIGHTS[spec.plane]
    if spec.plane == "femur":
        ang = abs(((spec.extra["rot"] + 90.0) % 180.0) - 90.0)
        plane_ok = 1.0 - _smooth(ang, 20.0, 60.0)
    else:
        plane_ok = 1.0 - _smooth(spec.pose.tilt_deg(), 4.0, 22.0)
    zoom_ok = _ramp(spec.fill, 0.3, ZOOM_FULL[0]) * (1.0 - _ramp(spec.fill, ZOOM_FULL[1], 1.25))
    a = spec.acq
    settings_ok = float(np.exp(-((a.gain_db / 13.0) ** 2)) * np.exp(-((np.log2(a.dr_db / 60.0) / 0.55) ** 2)))
    blur = float(np.hypot(1.3 * (a.psf_scale - 1.0), a.motion_mm))
    art_ok = (1.0 / (1.0 + (blur / 2.0) ** 2)) * (1.0 - 0.9 * _smooth(a.noise, 0.2, 1.0)) * measures["contact"] ** 2
    glob = {"plane": plane_ok, "zoom": zoom_ok, "settings": settings_ok, "artefacts": art_ok}
    for k, wk in w.items():
        total += wk * glob[k] * main
    flags = {
        "f_structures": int(not missing),
        "f_plane": int(plane_ok >= 0.5 and main >= 0.5),
        "f_zoom": int(zoom_ok >= 0.5 and main >= 0.5),
        "f_settings": int(settings_ok >= 0.5 and main >= 0.5),
        "f_artefacts": int(art_ok >= 0.5),
    }
    total *= gate * (0.7 + 0.3 * zoom_ok)
    return {"q": float(np.clip(total, 0, 100)), "criteria": crit, "global": glob, "flags": flags,
            "missing": missing}


#: a fixed panel of simulated raters: (bias, slope); the same for every data set
_PANEL = np.random.default_rng(20240601)
RATERS = [(float(_PANEL.normal(0, 3.0)), float(_PANEL.uniform(0.9, 1.1))) for _ in range(5)]


def raters(q: float, rng: np.random.Generator, z: np.ndarray | None = None) -> tuple[float, float, list[float]]:
    """mos, std (ddof=1) and the individual ratings of the rater panel for true score ``q``.
    Each rater has a bias and a slope; their noise is larger for middling images. ``z`` (one standard
    normal per rater) may be given, e.g. correlated over the frames of a sweep."""
    t = q / 100.0
    sd = 2.5 + 6.0 * 4 * t * (1 - t)
    if z is None:
        z = rng.standard_normal(len(RATERS))
    r = [float(np.clip(50 + m * (q - 50) + b + sd * float(zk), 0, 100)) for (b, m), zk in zip(RATERS, z)]
    return float(np.mean(r)), float(np.std(r, ddof=1)), r
