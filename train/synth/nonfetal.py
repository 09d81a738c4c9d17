"""Non-fetal ultrasound scenes for the generator (SYNTHETIC material, not a real patient).

The same capture card shows whatever the scanner shows: an adult heart on an echo preset, an adult
abdomen, a fetus. A model that has only ever seen fetal anatomy calls any real-looking tissue a fetal
plane (a real adult apical four-chamber view came out "head", 40 points). These scenes are the
counter-examples: ultrasound, tissue filling the fan, no fetal plane. A data set labels them plane
``none`` with a low score (dataset.py, :data:`NONFETAL`), like the non-ultrasound frames.

* ``adult_heart``   an adult heart from the apex: four chambers and the crux filling a wide sector,
  no fetal thorax ring, spine or ribs, soft tissue (not amniotic fluid) around it;
* ``adult_abdomen`` an adult upper abdomen: liver filling the fan, the diaphragm's bright arc, a
  gallbladder, hepatic / portal veins and the IVC, a kidney with its bright sinus.

They are built like the fetal scenes (anatomy.py: primitives sliced by the image plane; formation.py
forms the image), so the probe, settings, artefacts and the "real" style apply unchanged. A large
background primitive of soft tissue, painted first, replaces the fluid a fetus floats in.
"""
from __future__ import annotations

import numpy as np

from .anatomy import Criterion, Scene, _cap, _e, _rot, _sh

#: the non-fetal scenes: a data set labels them plane "none" with a score of MOS_RANGE
NONFETAL = ("adult_heart", "adult_abdomen")
#: the score (MOS) a non-fetal scene gets: no fetal plane to judge, like a non-ultrasound frame
MOS_RANGE = (1.0, 10.0)


def build_adult_heart(ga: float, rng: np.random.Generator) -> Scene:
    """Apical four-chamber view of an adult heart (``ga`` unused). Local x: base -> apex."""
    L = float(rng.uniform(40, 52))  # half-length base to apex (mm)
    W = L * float(rng.uniform(0.6, 0.75))
    Hz = W * 0.9
    R = _rot("z", 90.0 + float(rng.uniform(-20, 20)))  # long axis roughly along the model's y
    u, v = R[:, 0], R[:, 1]
    ch = np.zeros(3)

    def at(su, tv):
        return ch + su * L * u + tv * W * v

    prims = [
        _e("chest", "muscle", (0, 0, 0), (260.0, 260.0, 260.0), edge=2.0),  # soft tissue all round
        _e("lung_l", "fat", at(0.1, -1.45), (0.9 * L, 0.45 * W, 1.4 * Hz), R, edge=3.0),
        _e("lung_r", "fat", at(0.1, 1.45), (0.9 * L, 0.45 * W, 1.4 * Hz), R, edge=3.0),
        _sh("pericardium", "placenta", ch, (L + 3.0, W + 3.0, Hz + 3.0), 3.0, edge=1.5),  # a faint rim, not a skull
        _e("heart", "muscle", ch, (L, W, Hz), R),
        _e("septum_iv", "membrane", at(0.3, 0.0), (0.62 * L, 0.04 * W + 0.6, 0.8 * Hz), R, edge=0.7),
        _e("septum_av", "membrane", at(-0.1, 0.0), (0.04 * L + 0.6, 0.85 * W, 0.8 * Hz), R, edge=0.7),
        _e("lv", "fluid", at(0.36, -0.42), (0.46 * L, 0.36 * W, 0.6 * Hz), R),
        _e("rv", "fluid", at(0.3, 0.44), (0.4 * L, 0.32 * W, 0.6 * Hz), R),
        _e("la", "fluid", at(-0.52, -0.4), (0.34 * L, 0.34 * W, 0.55 * Hz), R),
        _e("ra", "fluid", at(-0.52, 0.44), (0.34 * L, 0.33 * W, 0.55 * Hz), R),
        _e("mitral", "membrane", at(-0.14, -0.42), (0.16 * L, 0.03 * W + 0.5, 0.5 * Hz), R @ _rot("z", 25), edge=0.6),
        _e("tricuspid", "membrane", at(-0.14, 0.44), (0.14 * L, 0.03 * W + 0.5, 0.5 * Hz), R @ _rot("z", -25), edge=0.6),
        _cap("aorta_d", "fluid", at(-1.15, -0.5) + np.array([0, 0, -80.0]), at(-1.15, -0.5) + np.array([0, 0, 80.0]),
             float(rng.uniform(9, 12))),
    ]
    crit = [Criterion("four_chambers", ["lv", "rv", "la", "ra"], 25, 3.0),
            Criterion("crux", ["septum_iv", "septum_av"], 15, 1.5)]
    return Scene("adult_heart", ga, prims, crit, size_mm=2 * L + 6.0, offset_scale=0.3 * W,
                 extent=(W + 3.0, L + 3.0))


def build_adult_abdomen(ga: float, rng: np.random.Generator) -> Scene:
    """Adult right upper quadrant (``ga`` unused): liver, diaphragm, gallbladder, veins, kidney."""
    s = float(rng.uniform(0.85, 1.15))
    gb = _rot("z", float(rng.uniform(-40, 40)))
    kid = _rot("z", float(rng.uniform(-50, 50)))
    kc = np.array([float(rng.uniform(-25, 25)), 45.0 * s, 0.0])
    prims = [
        _e("belly", "fat", (0, 0, 0), (300.0, 300.0, 300.0), edge=2.0),
        _e("liver", "fetal", (0, -10.0 * s, 0), (95.0 * s, 70.0 * s, 90.0 * s), _rot("z", float(rng.uniform(-15, 15))),
           edge=1.5),
        _sh("diaphragm", "membrane", (0, 75.0 * s, 0), (160.0 * s, 95.0 * s, 140.0 * s), 2.5, edge=0.8),
        _e("gallbladder", "fluid", (float(rng.uniform(-30, 30)), float(rng.uniform(-30, 0)) * s, 0),
           (float(rng.uniform(16, 24)) * s, float(rng.uniform(7, 11)) * s, 12.0 * s), gb),
        _cap("ivc", "fluid", (-40.0 * s, 30.0 * s, -90), (-40.0 * s, 30.0 * s, 90), float(rng.uniform(7, 11)) * s),
        _cap("portal", "fluid", (-30.0 * s, 5.0 * s, 0), (25.0 * s, -5.0 * s, 0), float(rng.uniform(5, 7)) * s),
    ]
    for k in range(3):  # hepatic veins fanning out towards the IVC
        a = np.deg2rad(float(rng.uniform(-60, 60)) + 180.0 * (k % 2))
        tip = np.array([-40.0 * s + 55.0 * s * np.cos(a), 30.0 * s - 45.0 * s * abs(np.sin(a)), float(rng.uniform(-8, 8))])
        prims.append(_cap(f"hv{k}", "fluid", (-40.0 * s, 30.0 * s, 0), tip, float(rng.uniform(2.5, 4.5)) * s))
    prims += [
        _e("kidney", "brain", kc, (48.0 * s, 24.0 * s, 26.0 * s), kid),
        _e("kidney_sinus", "maternal", kc, (30.0 * s, 9.0 * s, 14.0 * s), kid, edge=1.5),
        _sh("kidney_capsule", "placenta", kc, (49.0 * s, 25.0 * s, 27.0 * s), 1.5),
    ]
    crit = [Criterion("gallbladder", ["gallbladder"], 20, 3.0), Criterion("kidney", ["kidney"], 20, 3.0)]
    return Scene("adult_abdomen", ga, prims, crit, size_mm=120.0 * s, offset_scale=10.0 * s, extent=(60.0 * s, 55.0 * s))


BUILDERS = {"adult_heart": build_adult_heart, "adult_abdomen": build_adult_abdomen}
#: quality.score's global weights for these scenes (their q is not used as a label: MOS_RANGE is)
GLOBAL_WEIGHTS = {p: {"plane": 10, "zoom": 10, "settings": 5, "artefacts": 5} for p in NONFETAL}


def nonfetal_mos(seed: int, index: int) -> tuple[float, float]:
    """(mos, std) of non-fetal scene ``index``: a low score, deterministic in (seed, index)."""
    from . import rng_for

    r = rng_for(seed, index, stream=7)
    return float(r.uniform(*MOS_RANGE)), float(r.uniform(1.0, 2.5))
