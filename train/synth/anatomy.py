"""3-D fetal anatomy for the synthetic generator (SYNTHETIC material, not a real fetus).

Each standard plane has a small 3-D model built from primitives (ellipsoids, ellipsoid shells and
capsules) in a model frame (millimetres) whose ``z = 0`` plane is the standard plane:

* ``head``   x: occipito-frontal (anterior +x), y: biparietal, z: cranio-caudal (transthalamic plane z=0)
* ``abdomen`` x: left-right, y: posterior-anterior (anterior +y), z: cranio-caudal (AC plane z=0)
* ``femur``  x: along the shaft, y: across in the plane, z: normal to the plane

The image is a plane slice through the model (see formation.py), so off-plane tilt and offset make
structures appear, distort or vanish the way a real tilt does, and a sweep through the model is
3-D consistent. Sizes follow gestational age (GA, weeks) with published-style growth curves
(rounded, for plausibility only).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: tissue -> (echo amplitude relative to soft tissue, round-trip amplitude attenuation, Np/mm)
TISSUES: dict[str, tuple[float, float]] = {
    "fluid": (0.01, 0.001),  # amniotic fluid, ventricles, stomach, vessels: anechoic, enhancing
    "maternal": (1.0, 0.026),  # maternal soft tissue, uterine wall
    "fat": (0.55, 0.030),  # subcutaneous fat
    "placenta": (0.9, 0.022),
    "fetal": (0.65, 0.020),  # fetal soft tissue / liver
    "muscle": (0.5, 0.022),
    "brain": (0.42, 0.014),  # hypoechoic fetal brain
    "thalamus": (0.11, 0.014),  # hypoechoic deep grey matter / cartilage
    "membrane": (3.0, 0.030),  # falx, skin line, septum walls, choroid plexus
    "bone": (14.0, 0.28),  # fetal skull: bright, partial shadow
    "dense_bone": (16.0, 1.2),  # femur, spine, ribs: bright, dense shadow
    "gas": (12.0, 2.5),  # maternal bowel gas / limb: shadow caster over the region of interest
}


@dataclass
class Prim:
    """One primitive. ``tissue=None`` marks a measure-only primitive (not drawn)."""

    name: str
    kind: str  # "ellipsoid" | "shell" | "capsule"
    tissue: str | None
    center: np.ndarray
    axes: np.ndarray = field(default_factory=lambda: np.ones(3))  # semi-axes (ellipsoid, shell)
    R: np.ndarray = field(default_factory=lambda: np.eye(3))  # columns: local axes in model frame
    thick: float = 0.0  # shell thickness (mm)
    p1: np.ndarray | None = None  # capsule second end (center is the first)
    radius: float = 0.0  # capsule radius (mm)
    edge: float = 0.45  # soft edge width (mm)

    def bound(self) -> float:
        """Radius of a sphere around ``self.center_mid()`` that holds the primitive."""
        if self.kind == "capsule":
            return float(np.linalg.norm(self.p1 - self.center) / 2 + self.radius + self.edge)
        return float(self.axes.max() + self.thick / 2 + self.edge)

    def center_mid(self) -> np.ndarray:
        return (self.center + self.p1) / 2 if self.kind == "capsule" else self.center

    def dist(self, Q: np.ndarray) -> np.ndarray:
        """Approximate signed distance (mm) of points ``Q`` (N,3); negative inside."""
        if self.kind == "capsule":
            d = self.p1 - self.center
            rel = Q - self.center
            t = np.clip(rel @ d / float(d @ d), 0.0, 1.0)
            return np.linalg.norm(rel - t[:, None] * d[None, :], axis=1) - self.radius
        L = (Q - self.center) @ self.R
        u = L / self.axes
        rho = np.sqrt(np.einsum("ij,ij->i", u, u)) + 1e-9
        g = np.sqrt(np.einsum("ij,ij->i", u / self.axes, u / self.axes)) / rho + 1e-9
        sd = (rho - 1.0) / g
        if self.kind == "shell":
            return np.abs(sd) - self.thick / 2
        return sd

    def member(self, Q: np.ndarray) -> np.ndarray:
        """Soft membership in [0, 1]."""
        return np.clip(0.5 - self.dist(Q) / self.edge, 0.0, 1.0)

    def member_plane(self, A: np.ndarray, D: np.ndarray, M2: np.ndarray, q0: np.ndarray) -> np.ndarray:
        """Membership at image-plane points: model point Q = M2 @ (A, D) + q0 (M2: 3x2). Same as
        :meth:`member` but evaluated as affine maps of the two image coordinates (fast, float32)."""
        A = A.astype(np.float32, copy=False)
        D = D.astype(np.float32, copy=False)
        if self.kind == "capsule":
            d = self.p1 - self.center
            dd = float(d @ d)
            c0 = q0 - self.center
            rel = [A * np.float32(M2[k, 0]) + D * np.float32(M2[k, 1]) + np.float32(c0[k]) for k in range(3)]
            ta, tb = (M2[:, 0] @ d) / dd, (M2[:, 1] @ d) / dd
            t = np.clip(A * np.float32(ta) + D * np.float32(tb) + np.float32((c0 @ d) / dd), 0.0, 1.0)
            d2 = sum((rel[k] - t * np.float32(d[k])) ** 2 for k in range(3))
            dist = np.sqrt(d2) - np.float32(self.radius)
        else:
            RM = self.R.T @ M2  # 3x2: local coords as affine maps of (A, D)
            rc = self.R.T @ (q0 - self.center)
            u2 = np.zeros_like(A)
            g2 = np.zeros_like(A)
            for j in range(3):
                inv = 1.0 / self.axes[j]
                uj = A * np.float32(RM[j, 0] * inv) + D * np.float32(RM[j, 1] * inv) + np.float32(rc[j] * inv)
                u2 += uj * uj
                uj *= np.float32(inv)
                g2 += uj * uj
            rho = np.sqrt(u2) + np.float32(1e-6)
            dist = (rho - 1.0) * rho / (np.sqrt(g2) + np.float32(1e-9))
            if self.kind == "shell":
                dist = np.abs(dist) - np.float32(self.thick / 2)
        return np.clip(np.float32(0.5) - dist * np.float32(1.0 / self.edge), 0.0, 1.0)


@dataclass
class Criterion:
    """A required structure: the primitives whose visible area counts, and its weight in the score."""

    name: str
    prims: list[str]
    weight: float
    size_mm: float  # smallest feature size: how sensitive it is to blur


@dataclass
class Scene:
    plane: str
    ga: float
    prims: list[Prim]  # painter's order
    criteria: list[Criterion]
    size_mm: float  # major dimension used for magnification (fill of the fan depth)
    offset_scale: float  # mm of off-plane offset at severity 1
    extent: tuple[float, float]  # in-plane half extent (x, y) of the main structure (mm)
    ideal_area: dict[str, float] = field(default_factory=dict)

    def prim(self, name: str) -> Prim:
        for p in self.prims:
            if p.name == name:
                return p
        raise KeyError(name)


def _rot(axis: str, deg: float) -> np.ndarray:
    a = np.deg2rad(deg)
    c, s = np.cos(a), np.sin(a)
    if axis == "x":
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    if axis == "y":
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def _e(name, tissue, c, axes, R=None, edge=0.45):
    return Prim(name, "ellipsoid", tissue, np.asarray(c, float), np.asarray(axes, float),
                np.eye(3) if R is None else R, edge=edge)


def _sh(name, tissue, c, axes, thick, edge=0.45):
    return Prim(name, "shell", tissue, np.asarray(c, float), np.asarray(axes, float), thick=thick, edge=edge)


def _cap(name, tissue, p0, p1, r, edge=0.45):
    return Prim(name, "capsule", tissue, np.asarray(p0, float), p1=np.asarray(p1, float), radius=r, edge=edge)


# ---------------------------------------------------------------- growth curves (approximate)
def bpd_mm(ga: float) -> float:
    return 3.0 * ga - 13.0


def ac_mm(ga: float) -> float:
    return 11.0 * ga - 70.0


def fl_mm(ga: float) -> float:
    return 2.5 * ga - 17.0


def build_head(ga: float, rng: np.random.Generator) -> Scene:
    b = bpd_mm(ga) / 2 * rng.uniform(0.95, 1.05)
    a = b * rng.uniform(1.22, 1.34)  # OFD / BPD (cephalic index ~ 0.75-0.82)
    c = b * 0.92
    sk = float(np.clip(0.04 * b + 0.6, 1.2, 2.6))  # skull thickness
    prims = [
        _e("scalp", "fetal", (0, 0, 0), (a + sk + 2.0, b + sk + 2.0, c + sk + 2.0)),
        _e("brain", "brain", (0, 0, 0), (a, b, c)),
        _e("cerebellum", "fetal", (-0.62 * a, 0, -0.5 * c), (0.16 * a, 0.32 * b, 0.18 * c)),
        _e("cisterna", "fluid", (-0.80 * a, 0, -0.52 * c), (0.08 * a, 0.2 * b, 0.14 * c)),
        _e("atrium_l", "fluid", (-0.52 * a, 0.30 * b, 0.30 * c), (0.18 * a, 0.08 * b, 0.22 * c), _rot("z", -15)),
        _e("atrium_r", "fluid", (-0.52 * a, -0.30 * b, 0.30 * c), (0.18 * a, 0.08 * b, 0.22 * c), _rot("z", 15)),
        _e("choroid_l", "membrane", (-0.54 * a, 0.30 * b, 0.30 * c), (0.12 * a, 0.05 * b, 0.15 * c), _rot("z", -15)),
        _e("choroid_r", "membrane", (-0.54 * a, -0.30 * b, 0.30 * c), (0.12 * a, 0.05 * b, 0.15 * c), _rot("z", 15)),
        _e("insula_l", "membrane", (-0.02 * a, 0.62 * b, 0.05 * c), (0.26 * a, 0.5, 0.35 * c), _rot("z", 12), edge=0.5),
        _e("insula_r", "membrane", (-0.02 * a, -0.62 * b, 0.05 * c), (0.26 * a, 0.5, 0.35 * c), _rot("z", -12), edge=0.5),
        _e("falx", "membrane", (0, 0, 0.15 * c), (0.93 * a, 0.45, 0.85 * c), edge=0.5),
        _e("thalamus_l", "thalamus", (-0.10 * a, 0.15 * b, -0.04 * c), (0.20 * a, 0.15 * b, 0.26 * c), _rot("z", 20)),
        _e("thalamus_r", "thalamus", (-0.10 * a, -0.15 * b, -0.04 * c), (0.20 * a, 0.15 * b, 0.26 * c), _rot("z", -20)),
        _e("third_ventricle", "fluid", (-0.10 * a, 0, -0.04 * c), (0.17 * a, 0.8, 0.2 * c)),
        _e("csp_wall", "membrane", (0.33 * a, 0, 0.04 * c), (0.14 * a + 0.7, max(2.0, 0.09 * b) + 0.7, 0.24 * c)),
        _e("csp", "fluid", (0.33 * a, 0, 0.04 * c), (0.14 * a, max(2.0, 0.09 * b), 0.24 * c)),
        _sh("skull", "bone", (0, 0, 0), (a + sk / 2, b + sk / 2, c + sk / 2), sk),
    ]
    crit = [
        Criterion("skull", ["skull"], 15, 3.0),
        Criterion("midline", ["falx"], 10, 1.5),
        Criterion("thalami", ["thalamus_l", "thalamus_r"], 15, 6.0),
        Criterion("csp", ["csp"], 15, 3.0),
        Criterion("third_ventricle", ["third_ventricle"], 5, 1.5),
    ]
    return Scene("head", ga, prims, crit, size_mm=2 * (a + sk + 2), offset_scale=0.5 * c,
                 extent=(a + sk + 2, b + sk + 2))


def build_abdomen(ga: float, rng: np.random.Generator) -> Scene:
    r = ac_mm(ga) / (2 * np.pi) * rng.uniform(0.95, 1.05)
    rx, ry, rz = r, r * rng.uniform(0.88, 0.96), 2.6 * r
    prims = [
        _e("body", "fetal", (0, 0, 0), (rx + 1.5, ry + 1.5, rz)),
        _sh("skin", "membrane", (0, 0, 0), (rx + 1.2, ry + 1.2, rz), 1.0),
        _e("heart", "muscle", (0.1 * r, 0.15 * r, 1.75 * r), (0.55 * r, 0.5 * r, 0.45 * r)),
        _e("ventricle_l", "fluid", (0.25 * r, 0.15 * r, 1.75 * r), (0.18 * r, 0.2 * r, 0.25 * r)),
        _e("ventricle_r", "fluid", (-0.05 * r, 0.25 * r, 1.75 * r), (0.16 * r, 0.2 * r, 0.25 * r)),
        _e("kidney_l", "thalamus", (0.38 * r, -0.55 * r, -0.9 * r), (0.2 * r, 0.17 * r, 0.45 * r)),
        _e("kidney_r", "thalamus", (-0.38 * r, -0.55 * r, -0.9 * r), (0.2 * r, 0.17 * r, 0.45 * r)),
        _e("bladder", "fluid", (0, 0.3 * r, -2.0 * r), (0.3 * r, 0.3 * r, 0.35 * r)),
        _cap("aorta", "fluid", (-0.1 * r, -0.45 * r, -3 * r), (-0.1 * r, -0.45 * r, 3 * r), 0.05 * r + 0.3),
        _cap("ivc", "fluid", (-0.3 * r, -0.25 * r, -3 * r), (-0.3 * r, -0.25 * r, 2 * r), 0.05 * r + 0.3),
        _e("stomach", "fluid", (0.38 * r, 0.12 * r, 0.1 * r), (0.27 * r, 0.18 * r, 0.4 * r), _rot("z", 30)),
        _cap("uv_a", "fluid", (-0.08 * r, 0.68 * r, 0), (0.0, 0.2 * r, 0), 0.045 * r + 0.6),
        _cap("uv_b", "fluid", (0.0, 0.2 * r, 0), (-0.2 * r, 0.04 * r, 0), 0.04 * r + 0.6),
        _cap("spine_body", "dense_bone", (0, -0.68 * r, -3 * r), (0, -0.68 * r, 3 * r), 0.09 * r),
        _cap("lamina_l", "dense_bone", (0.16 * r, -0.86 * r, -3 * r), (0.16 * r, -0.86 * r, 3 * r), 0.06 * r),
        _cap("lamina_r", "dense_bone", (-0.16 * r, -0.86 * r, -3 * r), (-0.16 * r, -0.86 * r, 3 * r), 0.06 * r),
    ]
    ribs = _ribs(rx, ry, r)
    prims += ribs
    rib_names = [p.name for p in ribs if "+0.00" in p.name]
    crit = [
        Criterion("abdomen", ["skin"], 15, 3.0),
        Criterion("stomach", ["stomach"], 20, 5.0),
        Criterion("umbilical_vein", ["uv_a", "uv_b"], 20, 2.5),
        Criterion("spine", ["spine_body", "lamina_l", "lamina_r"], 10, 2.5),
        Criterion("ribs", rib_names, 5, 1.5),
    ]
    return Scene("abdomen", ga, prims, crit, size_mm=2 * (rx + 1.5), offset_scale=0.5 * r,
                 extent=(rx + 1.5, ry + 1.5))


def build_femur(ga: float, rng: np.random.Generator) -> Scene:
    fl = fl_mm(ga) * rng.uniform(0.95, 1.05)
    rb = max(1.4, 0.055 * fl)
    h = fl / 2
    prims = [
        _e("thigh", "muscle", (0.05 * fl, 0.0, 0), (0.72 * fl, 0.3 * fl + 3, 0.3 * fl + 3)),
        _sh("thigh_skin", "membrane", (0.05 * fl, 0.0, 0), (0.72 * fl, 0.3 * fl + 3, 0.3 * fl + 3), 0.9),
        _e("knee", "fetal", (h + 0.22 * fl, 0.05 * fl, 0), (0.2 * fl, 0.22 * fl, 0.22 * fl)),
        _e("epiphysis_a", "thalamus", (-h - 0.09 * fl, 0, 0), (0.1 * fl, 0.09 * fl, 0.09 * fl)),
        _e("epiphysis_b", "thalamus", (h + 0.09 * fl, 0, 0), (0.1 * fl, 0.09 * fl, 0.09 * fl)),
        _cap("femur", "dense_bone", (-h, 0, 0), (h, 0, 0), rb),
        _cap("femur_end_a", None, (-h, 0, 0), (-h + 0.12 * fl, 0, 0), rb),
        _cap("femur_end_b", None, (h - 0.12 * fl, 0, 0), (h, 0, 0), rb),
    ]
    crit = [
        Criterion("diaphysis", ["femur"], 30, 2 * rb),
        Criterion("end_a", ["femur_end_a"], 10, 2 * rb),
        Criterion("end_b", ["femur_end_b"], 10, 2 * rb),
    ]
    return Scene("femur", ga, prims, crit, size_mm=fl + 0.2 * fl, offset_scale=1.15 * rb + 1.0,
                 extent=(h + 0.19 * fl, 0.3 * fl + 3))


def _ribs(rx: float, ry: float, r: float, zks=(-0.55, 0.0, 0.55)) -> list[Prim]:
    """Sloping rib arcs on both sides (short segments cross a transverse plane)."""
    ribs = []
    for side in (1, -1):
        for zk in zks:
            pts = []
            for phi in np.deg2rad([-115, -80, -45, -10, 15]):
                pts.append((side * 0.9 * rx * np.cos(phi), 0.9 * ry * np.sin(phi), (zk + 0.3 * np.sin(phi)) * r))
            for i in range(len(pts) - 1):
                ribs.append(_cap(f"rib_{'l' if side > 0 else 'r'}{zk:+.2f}_{i}", "dense_bone", pts[i], pts[i + 1],
                                 max(0.6, 0.035 * r)))
    return ribs


def build_heart(ga: float, rng: np.random.Generator) -> Scene:
    """Four-chamber view of the fetal heart (x: fetal left +, y: anterior +, z: cranio-caudal): a round
    thorax with ribs and spine, lungs either side, the heart a third of the thorax with its apex to the
    fetal left-anterior; two atria (by the spine) and two ventricles (towards the apex) as dark chambers
    split by a bright cross of septa (interventricular/interatrial septum and the AV-valve plane)."""
    r = ac_mm(ga) / (2 * np.pi) * 0.88 * rng.uniform(0.95, 1.05)
    rx, ry, rz = r, r * rng.uniform(0.9, 0.97), 2.4 * r
    ang = float(rng.uniform(35, 55))  # heart axis vs the antero-posterior axis, towards the left
    R = _rot("z", 90 - ang)  # local x: base -> apex
    u = R[:, 0]
    v = R[:, 1]  # towards the fetal right-anterior
    ch = np.array([0.1 * r, 0.12 * r, 0.0])
    L, W, Hz = 0.56 * r, 0.44 * r, 0.45 * r

    def at(su, tv):
        return ch + su * L * u + tv * W * v

    prims = [
        _e("body", "fetal", (0, 0, 0), (rx + 1.5, ry + 1.5, rz)),
        _sh("skin", "membrane", (0, 0, 0), (rx + 1.2, ry + 1.2, rz), 1.0),
        _e("lung_l", "placenta", (0.5 * r, -0.22 * r, 0), (0.36 * r, 0.42 * r, 1.1 * r)),
        _e("lung_r", "placenta", (-0.45 * r, -0.05 * r, 0), (0.42 * r, 0.6 * r, 1.1 * r)),
        _e("heart", "muscle", ch, (L, W, Hz), R),
        _e("septum_iv", "membrane", at(0.3, 0.0), (0.62 * L, 0.05 * W + 0.4, 0.8 * Hz), R, edge=0.5),
        _e("septum_av", "membrane", at(-0.08, 0.0), (0.05 * L + 0.4, 0.85 * W, 0.8 * Hz), R, edge=0.5),
        _e("lv", "fluid", at(0.4, -0.42), (0.4 * L, 0.34 * W, 0.6 * Hz), R),
        _e("rv", "fluid", at(0.36, 0.44), (0.36 * L, 0.36 * W, 0.6 * Hz), R),
        _e("la", "fluid", at(-0.5, -0.42), (0.32 * L, 0.33 * W, 0.55 * Hz), R),
        _e("ra", "fluid", at(-0.5, 0.45), (0.34 * L, 0.35 * W, 0.55 * Hz), R),
        _cap("aorta_d", "fluid", (0.14 * r, -0.5 * r, -3 * r), (0.14 * r, -0.5 * r, 3 * r), 0.06 * r + 0.3),
        _cap("spine_body", "dense_bone", (0, -0.68 * r, -3 * r), (0, -0.68 * r, 3 * r), 0.09 * r),
        _cap("lamina_l", "dense_bone", (0.16 * r, -0.86 * r, -3 * r), (0.16 * r, -0.86 * r, 3 * r), 0.06 * r),
        _cap("lamina_r", "dense_bone", (-0.16 * r, -0.86 * r, -3 * r), (-0.16 * r, -0.86 * r, 3 * r), 0.06 * r),
    ]
    ribs = _ribs(rx, ry, r)
    prims += ribs
    crit = [
        Criterion("thorax", ["skin"], 15, 3.0),
        Criterion("four_chambers", ["lv", "rv", "la", "ra"], 25, 3.0),
        Criterion("crux", ["septum_iv", "septum_av"], 15, 1.5),
        Criterion("spine", ["spine_body", "lamina_l", "lamina_r"], 10, 2.5),
        Criterion("ribs", [p.name for p in ribs if "+0.00" in p.name], 5, 1.5),
    ]
    return Scene("4CH", ga, prims, crit, size_mm=2 * (rx + 1.5), offset_scale=0.5 * r,
                 extent=(rx + 1.5, ry + 1.5))


BUILDERS = {"head": build_head, "abdomen": build_abdomen, "femur": build_femur, "4CH": build_heart}
#: the planes whose quality the product assesses (the default of a data set)
PLANES = ("head", "abdomen", "femur")
from .nonfetal import BUILDERS as _NONFETAL_BUILDERS  # noqa: E402 (needs the primitives above)

BUILDERS.update(_NONFETAL_BUILDERS)
#: every scene the generator can draw; "4CH" is drawn so a model can tell a plane it does not assess,
#: the non-fetal scenes (nonfetal.py) so it can tell ultrasound that shows no fetal plane
ALL_PLANES = tuple(BUILDERS)


def build_scene(plane: str, ga: float, rng: np.random.Generator) -> Scene:
    if plane not in BUILDERS:
        raise ValueError(f"unknown plane {plane!r}; choose from {', '.join(ALL_PLANES)}")
    scene = BUILDERS[plane](ga, rng)
    scene.ideal_area = ideal_areas(scene)
    return scene


def ideal_areas(scene: Scene, cells: int = 90) -> dict[str, float]:
    """Area (mm^2) of each criterion's structure in the ideal standard plane (model z = 0)."""
    out = {}
    names = {n for c in scene.criteria for n in c.prims}
    ex, ey = 1.3 * scene.extent[0], 1.3 * scene.extent[1]
    for p in scene.prims:
        if p.name not in names:
            continue
        if p.kind == "capsule":
            lo = np.minimum(p.center, p.p1)[:2] - p.radius - p.edge
            hi = np.maximum(p.center, p.p1)[:2] + p.radius + p.edge
        else:
            lo, hi = p.center[:2] - p.bound(), p.center[:2] + p.bound()
        lo = np.maximum(lo, (-ex, -ey))
        hi = np.minimum(hi, (ex, ey))
        if np.any(hi <= lo):
            out[p.name] = 0.0
            continue
        step = float(max(hi - lo)) / cells
        xs = np.arange(lo[0], hi[0], step) + step / 2
        ys = np.arange(lo[1], hi[1], step) + step / 2
        X, Y = np.meshgrid(xs, ys)
        Q = np.stack([X.ravel(), Y.ravel(), np.zeros(X.size)], 1)
        out[p.name] = float(p.member(Q).sum() * step * step)
    return {c.name: sum(out[n] for n in c.prims) for c in scene.criteria}
