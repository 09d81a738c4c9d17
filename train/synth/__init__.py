"""Synthetic fetal ultrasound generator with clinical-style quality labels.

Everything made here is SYNTHETIC (file names start with ``synth_``, data sets carry SYNTHETIC.txt,
screens show "SYNTHETIC"). See docs/synthetic.md.

    >>> from train.synth import render_sample
    >>> s = render_sample("head", seed=0, index=3)      # image (uint8 256x256), mos, std, flags ...
    >>> r = render_sample("head", seed=0, index=3, realism=1.0, maps=True)  # "real" style + pixel maps
    >>> r.maps["csp"], r.maps["shadow"], r.maps["fan"]   # bool H x W, in output image pixels

``realism`` (0..1, default 0 = the plain style, byte-identical to before) turns on domain
randomisation (train/synth/style.py): it changes the look, not the label.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .anatomy import ALL_PLANES, PLANES, build_scene
from .formation import Acquisition, Geometry, Pose, degrade, form, scan_convert
from .quality import FACTORS, Spec, factors_for, raters, sample_severities, score, spec_from_severities

__all__ = ["PLANES", "ALL_PLANES", "FACTORS", "Sample", "render_spec", "render_sample", "make_spec", "rng_for",
           "build_scene", "Acquisition", "Geometry", "Pose", "Spec", "factors_for"]


@dataclass
class Sample:
    image: np.ndarray  # uint8 gray, fan on black (or a scanner screen); BGR when a style tints it
    mask: np.ndarray  # bool, the fan
    plane: str
    mos: float
    std: float
    q: float  # noise-free score
    ratings: list[float]
    flags: dict
    missing: list[str]
    criteria: dict
    severity: dict
    info: dict = field(default_factory=dict)
    #: with ``maps=True``: name -> bool H x W in output pixels: one per required structure (criterion
    #: name; the structure where the image plane cuts it, shadowed or not), "shadow" (the shadow
    #: caster's acoustic shadow), "liftoff" (beams without contact), "fan" (the imaging region)
    maps: dict | None = None


def rng_for(seed: int, index: int, stream: int = 0) -> np.random.Generator:
    """Independent generator per (seed, image index): same bytes for the same seed, parallel-safe."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(index), int(stream)]))


def _grid_for(size: int) -> tuple[int, int]:
    return max(64, int(size)), max(48, int(size * 0.75))


def make_spec(plane: str, severity: dict | None, rng: np.random.Generator, *, size: int = 256,
              ga: float | None = None, realism: float = 0.0) -> Spec:
    """Severities (sampled unless given), scene, geometry, pose and settings of one image.
    ``realism`` > 0: a "real" style (style.py) drawn from a generator spawned off ``rng``, so the
    draws from ``rng`` itself, and the severities, GA, pose and settings, are those of the plain image."""
    nr, na = _grid_for(size)
    srng = rng.spawn(1)[0] if realism > 0 else None
    sev = sample_severities(plane, rng) if severity is None else severity
    if srng is None:
        return spec_from_severities(plane, sev, rng, ga=ga, nr=nr, na=na)
    from .style import add_parts, sample_style

    st = sample_style(srng, realism)
    spec = spec_from_severities(plane, sev, rng, ga=ga, nr=nr, na=na, dense_beams=True, zoom_in=st.zoom_in,
                                fill_push=st.fill_push, near=st.near)
    spec.style = st
    add_parts(st, srng, spec.pose.a_c, spec.pose.d_c, spec.extra["hx"], spec.extra["hy"])
    return spec


def render_spec(spec: Spec, rng: np.random.Generator, *, size: int = 256, rate: bool = True,
                speckle: np.ndarray | None = None, canvas=None, rater_z: np.ndarray | None = None,
                maps: bool = False) -> Sample:
    """Form, scan-convert and label one image. ``canvas``: (width, height, box) to draw into a larger
    frame (the scanner screen); default a size x size black canvas filled by the fan (with a style:
    the zoomed view of it). ``maps``: also compute ``Sample.maps`` (costs a few remaps)."""
    measure = sorted({n for c in spec.scene.criteria for n in c.prims})
    st = spec.style
    f = form(spec.scene, spec.geom, spec.pose, spec.acq, rng, measure=measure, speckle=speckle, style=st,
             layers=maps)
    if canvas is None:
        w, h, box = size, size, (2, 2, size - 4, size - 4)
    else:
        w, h, box = canvas
    view, geom, polar = None, spec.geom, f.polar
    if st is not None:
        from .style import crop_beams, view_window

        geom, cols = crop_beams(st, spec)
        polar = polar[:, cols]
        f.layers = {k: v[:, cols] for k, v in f.layers.items()}
        view = view_window(st, geom, spec.pose.a_c, spec.extra["hx"], spec.extra["d0"], w, h, box,
                           liftoff=spec.acq.liftoff)
    vmaps = geom.maps(w, h, box, view)
    img, mask, mmpp = scan_convert(polar, geom, w, h, box, maps=vmaps)
    out = degrade(img, mask, mmpp, spec.acq, rng)
    if st is not None:
        from .style import display

        out = display(st, out)
    lab = score(spec, f.measures)
    if rate:
        mos, sd, r = raters(lab["q"], rng, rater_z)
    else:
        mos, sd, r = lab["q"], 0.0, []
    pix = _pixel_maps(spec, f.layers, vmaps) if maps else None
    return Sample(out, mask, spec.plane, mos, sd, lab["q"], r, lab["flags"], lab["missing"], lab["criteria"],
                  spec.severity, {"ga": spec.extra["ga"], "depth": spec.geom.depth, "fill": spec.fill,
                                  "probe": spec.geom.kind, "mm_per_px": mmpp,
                                  "style": None if st is None else {"realism": st.realism, "tint": st.tint}},
                  pix)


def _pixel_maps(spec: Spec, layers: dict, vmaps) -> dict:
    """Polar layers -> bool maps in output pixels (the same remap as the image; inside the fan)."""
    import cv2

    mx, my, _, mask = vmaps

    def warp(p):
        v = cv2.remap(np.ascontiguousarray(p, np.float32), mx, my, cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        return (v > 0.5) & mask

    out = {}
    for c in spec.scene.criteria:
        out[c.name] = warp(np.max(np.stack([layers[n] for n in c.prims]), axis=0))
    out["shadow"] = warp(layers["shadow"])
    out["liftoff"] = warp(layers["liftoff"])
    out["fan"] = mask.copy()
    return out


def render_sample(plane: str, seed: int, index: int, *, size: int = 256, severity: dict | None = None,
                  realism: float = 0.0, maps: bool = False) -> Sample:
    """One labelled synthetic image; deterministic in (plane, seed, index, size, severity, realism)."""
    rng = rng_for(seed, index)
    spec = make_spec(plane, severity, rng, size=size, realism=realism)
    return render_spec(spec, rng, size=size, maps=maps)
