"""Synthetic fetal ultrasound generator with clinical-style quality labels.

Everything made here is SYNTHETIC (file names start with ``synth_``, data sets carry SYNTHETIC.txt,
screens show "SYNTHETIC"). See docs/synthetic.md.

    >>> from train.synth import render_sample
    >>> s = render_sample("head", seed=0, index=3)      # image (uint8 256x256), mos, std, flags ...
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .anatomy import PLANES, build_scene
from .formation import Acquisition, Geometry, Pose, degrade, form, scan_convert
from .quality import FACTORS, Spec, factors_for, raters, sample_severities, score, spec_from_severities

__all__ = ["PLANES", "FACTORS", "Sample", "render_spec", "render_sample", "make_spec", "rng_for",
           "build_scene", "Acquisition", "Geometry", "Pose", "Spec", "factors_for"]


@dataclass
class Sample:
    image: np.ndarray  # uint8 gray, fan on black (or a scanner screen)
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


def rng_for(seed: int, index: int, stream: int = 0) -> np.random.Generator:
    """Independent generator per (seed, image index): same bytes for the same seed, parallel-safe."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(index), int(stream)]))


def _grid_for(size: int) -> tuple[int, int]:
    return max(64, int(size)), max(48, int(size * 0.75))


def make_spec(plane: str, severity: dict | None, rng: np.random.Generator, *, size: int = 256,
              ga: float | None = None) -> Spec:
    nr, na = _grid_for(size)
    sev = sample_severities(plane, rng) if severity is None else severity
    return spec_from_severities(plane, sev, rng, ga=ga, nr=nr, na=na)


def render_spec(spec: Spec, rng: np.random.Generator, *, size: int = 256, rate: bool = True,
                speckle: np.ndarray | None = None, canvas=None, rater_z: np.ndarray | None = None) -> Sample:
    """Form, scan-convert and label one image. ``canvas``: (width, height, box) to draw into a larger
    frame (the scanner screen); default a size x size black canvas filled by the fan."""
    measure = sorted({n for c in spec.scene.criteria for n in c.prims})
    f = form(spec.scene, spec.geom, spec.pose, spec.acq, rng, measure=measure, speckle=speckle)
    if canvas is None:
        w, h, box = size, size, (2, 2, size - 4, size - 4)
    else:
        w, h, box = canvas
    img, mask, mmpp = scan_convert(f.polar, spec.geom, w, h, box)
    out = degrade(img, mask, mmpp, spec.acq, rng)
    lab = score(spec, f.measures)
    if rate:
        mos, sd, r = raters(lab["q"], rng, rater_z)
    else:
        mos, sd, r = lab["q"], 0.0, []
    return Sample(out, mask, spec.plane, mos, sd, lab["q"], r, lab["flags"], lab["missing"], lab["criteria"],
                  spec.severity, {"ga": spec.extra["ga"], "depth": spec.geom.depth, "fill": spec.fill,
                                  "probe": spec.geom.kind, "mm_per_px": mmpp})


def render_sample(plane: str, seed: int, index: int, *, size: int = 256, severity: dict | None = None) -> Sample:
    """One labelled synthetic image; deterministic in (plane, seed, index, size, severity)."""
    rng = rng_for(seed, index)
    spec = make_spec(plane, severity, rng, size=size)
    return render_spec(spec, rng, size=size)
