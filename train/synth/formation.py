"""B-mode image formation for the synthetic generator (SYNTHETIC images).

Pipeline (all in the polar beam domain, depth x beam, then scan-converted with ``cv2.remap``):

1. tissue maps: every polar sample is a point on the image plane; its model-frame position gives the
   echo amplitude and attenuation of the tissue there (painter's order over the scene's primitives),
   under maternal layers (fat, interfaces, uterine wall) and over a posterior wall;
2. round-trip attenuation along each beam (``exp(-cumsum(att))``): bone shadows, enhancement behind
   fluid because the time-gain compensation (TGC) is set for soft tissue;
3. speckle: circular complex Gaussian scatterers times the amplitude, convolved with a Gaussian
   point-spread function (axial narrow, lateral wider away from the focus); the envelope ``|.|`` is
   Rayleigh distributed in uniform tissue;
4. electronic noise (before TGC, so it rises with depth), reverberation bands near the probe,
   probe lift-off (beams without contact carry only ring-down reverberation);
5. TGC, gain, log compression into a dynamic range; scan conversion; motion blur; video noise.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .anatomy import TISSUES, Scene


@dataclass
class Geometry:
    kind: str = "curvilinear"  # "curvilinear" | "linear"
    depth: float = 90.0  # imaging depth (mm)
    radius: float = 50.0  # curvilinear probe radius (mm)
    half_angle: float = np.deg2rad(35)  # curvilinear half field of view (rad)
    width: float = 40.0  # linear aperture (mm)
    nr: int = 256  # depth samples
    na: int = 192  # beams

    def grid(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Image-plane lateral and depth (mm) of every polar sample, and each sample's area (mm^2)."""
        r = (np.arange(self.nr) + 0.5) / self.nr * self.depth
        dr = self.depth / self.nr
        if self.kind == "linear":
            a = (np.arange(self.na) + 0.5) / self.na * self.width - self.width / 2
            A, D = np.meshgrid(a, r)
            area = np.full_like(A, dr * self.width / self.na)
            return A, D, area
        th = (np.arange(self.na) + 0.5) / self.na * 2 * self.half_angle - self.half_angle
        TH, RR = np.meshgrid(th, r)
        A = (self.radius + RR) * np.sin(TH)
        D = (self.radius + RR) * np.cos(TH) - self.radius
        area = dr * (self.radius + RR) * (2 * self.half_angle / self.na)
        return A, D, area

    def bbox(self) -> tuple[float, float, float, float]:
        """(lateral min, lateral max, depth min, depth max) of the field of view in mm."""
        if self.kind == "linear":
            return -self.width / 2, self.width / 2, 0.0, self.depth
        R, t = self.radius, self.half_angle
        half = (R + self.depth) * np.sin(t)
        return -half, half, R * np.cos(t) - R, self.depth

    def window(self, a: float, d: float, rho: float) -> tuple[slice, slice] | None:
        """Polar sample rows/columns that may fall within ``rho`` mm of image point (a, d)."""
        if self.kind == "linear":
            r0, r1 = d - rho, d + rho
            a0, a1 = a - rho, a + rho
            c0 = int(np.floor((a0 + self.width / 2) / self.width * self.na))
            c1 = int(np.ceil((a1 + self.width / 2) / self.width * self.na)) + 1
        else:
            h = float(np.hypot(a, d + self.radius))
            r0, r1 = h - self.radius - rho, h - self.radius + rho
            if rho >= h:
                c0, c1 = 0, self.na
            else:
                th, dth = np.arctan2(a, d + self.radius), np.arcsin(rho / h)
                k = self.na / (2 * self.half_angle)
                c0 = int(np.floor((th - dth + self.half_angle) * k))
                c1 = int(np.ceil((th + dth + self.half_angle) * k)) + 1
        i0 = int(np.floor(r0 / self.depth * self.nr))
        i1 = int(np.ceil(r1 / self.depth * self.nr)) + 1
        i0, i1 = max(0, i0), min(self.nr, i1)
        c0, c1 = max(0, c0), min(self.na, c1)
        if i1 <= i0 or c1 <= c0:
            return None
        return slice(i0, i1), slice(c0, c1)

    def lateral_spacing(self) -> np.ndarray:
        """Beam spacing (mm) at every depth sample."""
        r = (np.arange(self.nr) + 0.5) / self.nr * self.depth
        if self.kind == "linear":
            return np.full(self.nr, self.width / self.na)
        return (self.radius + r) * 2 * self.half_angle / self.na

    def maps(self, out_w: int, out_h: int, box: tuple[int, int, int, int], view=None):
        """``cv2.remap`` maps that draw the field of view into ``box`` (x, y, w, h) of an out_w x out_h
        canvas (aspect kept, centred in the box); also returns the mm-per-pixel scale and the fan mask.
        ``view`` (lateral min, max, depth min, max in mm): draw only that part (a zoomed display)."""
        amin, amax, dmin, dmax = self.bbox() if view is None else view
        bx, by, bw, bh = box
        s = max((amax - amin) / bw, (dmax - dmin) / bh)  # mm per pixel
        cx = bx + bw / 2
        cy = by + (bh - (dmax - dmin) / s) / 2
        xs = (np.arange(out_w, dtype=np.float32) + 0.5 - cx) * s
        if view is not None:
            xs += np.float32((amin + amax) / 2)
        ys = (np.arange(out_h, dtype=np.float32) + 0.5 - cy) * s + dmin
        X, Y = np.meshgrid(xs, ys)
        if self.kind == "linear":
            mx = (X + self.width / 2) / self.width * self.na - 0.5
            my = Y / self.depth * self.nr - 0.5
        else:
            rr = np.hypot(X, Y + self.radius) - self.radius
            th = np.arctan2(X, Y + self.radius)
            mx = (th + self.half_angle) / (2 * self.half_angle) * self.na - 0.5
            my = rr / self.depth * self.nr - 0.5
        mask = (mx >= -0.5) & (mx <= self.na - 0.5) & (my >= -0.5) & (my <= self.nr - 0.5)
        if view is not None:  # a zoomed view is cut to its box (the fan may be wider)
            inside = np.zeros_like(mask)
            inside[max(0, by):by + bh, max(0, bx):bx + bw] = True
            mask &= inside
        return mx.astype(np.float32), my.astype(np.float32), float(s), mask


@dataclass
class Pose:
    """Where the image plane cuts the model: the model origin sits at image point (a_c, d_c) mm,
    rotated in-plane by ``rot`` deg, the plane tilted by ``tilt_x``/``tilt_y`` deg about the model's
    x/y axes and shifted by ``offset`` mm along the model's z axis."""

    a_c: float = 0.0
    d_c: float = 50.0
    rot: float = 0.0
    tilt_x: float = 0.0
    tilt_y: float = 0.0
    offset: float = 0.0

    def matrix(self) -> np.ndarray:
        g, ax, ay = np.deg2rad([self.rot, self.tilt_x, self.tilt_y])
        Rz = np.array([[np.cos(g), -np.sin(g), 0], [np.sin(g), np.cos(g), 0], [0, 0, 1]])
        Rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
        Ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
        return Rx @ Ry @ Rz

    def to_model(self, A: np.ndarray, D: np.ndarray) -> np.ndarray:
        M = self.matrix()
        P = np.stack([A.ravel() - self.a_c, D.ravel() - self.d_c, np.zeros(A.size)], 1)
        Q = P @ M.T
        Q[:, 2] += self.offset
        return Q

    def plane(self) -> tuple[np.ndarray, np.ndarray]:
        """(point, unit normal) of the image plane in model coordinates."""
        M = self.matrix()
        return np.array([0.0, 0.0, self.offset]), M[:, 2]

    def tilt_deg(self) -> float:
        n = self.plane()[1]
        return float(np.rad2deg(np.arccos(np.clip(abs(n[2]), 0, 1))))


@dataclass
class Acquisition:
    gain_db: float = 0.0  # overall gain error (0 = well set)
    dr_db: float = 60.0  # dynamic range of log compression
    psf_scale: float = 1.0  # 1 = in focus; > 1 defocus blur
    focus: float = 0.55  # focal depth as a fraction of the depth
    motion_mm: float = 0.0  # motion blur length
    motion_deg: float = 0.0
    noise: float = 0.0  # noise severity 0..1 (electronic + video noise)
    liftoff: float = 0.0  # fraction of the aperture without contact (1 = probe in air)
    liftoff_side: int = 1
    shadow_width: float = 0.0  # shadow caster width (mm), 0 = none
    shadow_a: float = 0.0  # its lateral position at the caster depth (mm)
    maternal: float = 12.0  # maternal abdominal wall thickness (mm)
    placenta: tuple[float, float, float] | None = None  # (lateral from, lateral to, thickness) mm
    reverb: float = 0.35  # near-field reverberation strength
    tgc_slope: float = 0.022  # Np/mm compensated by TGC
    posterior: float = 1e9  # depth of the posterior uterine wall (mm)


@dataclass
class Formed:
    polar: np.ndarray  # float32 display values 0..255, nr x na
    measures: dict = field(default_factory=dict)  # visible areas etc. for the label
    layers: dict = field(default_factory=dict)  # polar float maps (with layers=True): prims, shadow, liftoff


def _smooth_step(x: np.ndarray, w: float) -> np.ndarray:
    return np.clip(0.5 + x / w, 0.0, 1.0)


def tissue_maps(scene: Scene | None, geom: Geometry, pose: Pose, acq: Acquisition, phase: float,
                measure: list[str] | None = None, style=None, layers: dict | None = None):
    """Echo amplitude, attenuation and membership of the ``measure`` primitives on the polar grid.
    ``style`` (style.Style): paint the uterine contents first; ``layers``: a dict to receive the
    shadow caster's membership ("caster")."""
    A, D, area = geom.grid()
    A, D = A.astype(np.float32), D.astype(np.float32)
    shape = A.shape
    fl_e, fl_a = TISSUES["fluid"]
    echo = np.full(shape, fl_e, np.float32)
    att = np.full(shape, fl_a, np.float32)

    def paint(m, tissue):
        e, t = TISSUES[tissue]
        echo[...] += (e - echo) * m
        att[...] += (t - att) * m

    wall = acq.maternal + 1.2 * np.sin(A / 17.0 + phase)
    if style is not None:
        from .style import paint_environment

        ex, ey = scene.extent if scene is not None else (10.0, 10.0)
        paint_environment(style, geom, A, D, echo, att, a_c=pose.a_c, d_c=pose.d_c, ex=ex, ey=ey, rot=pose.rot,
                          wall=wall, posterior=acq.posterior)
    # posterior uterine wall
    wav = 1.5 * np.sin(A / 13.0 + phase) + 1.0 * np.sin(A / 5.3 + 2 * phase)
    paint(_smooth_step(D - acq.posterior - wav, 2.0), "maternal")
    members = {}
    if scene is not None:
        M = pose.matrix()
        M2 = M[:, :2]
        q0 = M @ np.array([-pose.a_c, -pose.d_c, 0.0]) + np.array([0.0, 0.0, pose.offset])
        p0, n = pose.plane()
        want = set(measure or [])
        for p in scene.prims:
            if p.name in want:
                members[p.name] = np.zeros(shape, np.float32)
            cm, b = p.center_mid(), p.bound()
            h = float(n @ (cm - p0))
            if abs(h) >= b:
                continue
            foot = M.T @ (cm - h * n - np.array([0.0, 0.0, pose.offset]))
            win = geom.window(foot[0] + pose.a_c, foot[1] + pose.d_c, float(np.sqrt(b * b - h * h)))
            if win is None:
                continue
            m = p.member_plane(A[win], D[win], M2, q0)
            if p.name in want:
                members[p.name][win] = m
            if p.tissue is not None:
                e, t = TISSUES[p.tissue]
                if style is not None:  # echo only: attenuation (shadows, visibility) stays
                    e = e * style.echo_gain.get(p.tissue, 1.0)
                    if p.tissue in ("membrane", "bone", "dense_bone") and style.specular > 0:
                        e = e * _specular(m, geom, win, style.specular)
                ew, aw = echo[win], att[win]
                ew += (e - ew) * m
                aw += (t - aw) * m
    # maternal wall: fat, fascia interfaces, uterine wall; optional anterior placenta
    w = acq.maternal
    fat = 0.45 * w + 0.8 * np.sin(A / 9.0 + 3 * phase)
    paint(_smooth_step(wall - D, 0.8), "maternal")
    paint(_smooth_step(fat - D, 0.8), "fat")
    paint(np.exp(-((D - fat) / 0.5) ** 2), "membrane")
    paint(0.7 * np.exp(-((D - wall) / 0.6) ** 2), "membrane")
    if acq.placenta is not None:
        a0, a1, th = acq.placenta
        u = np.clip((A - a0) / max(a1 - a0, 1e-3), 0, 1)
        thick = th * np.clip(np.sin(np.pi * u), 0, 1) + 0.8 * np.sin(A / 6.0 + phase)
        pm = _smooth_step(wall + thick - D, 1.5) * (D > wall - 1) * (thick > 0.5)
        paint(pm, "placenta")
        paint(0.5 * np.exp(-((D - wall - thick) / 0.6) ** 2) * (thick > 0.5), "membrane")
    if acq.shadow_width > 0:
        dc = 0.6 * w
        g = ((A - acq.shadow_a) / (acq.shadow_width / 2)) ** 2 + ((D - dc) / max(1.5, 0.25 * w)) ** 2
        m = np.clip((1.0 - g) * 3.0, 0, 1).astype(np.float32)
        paint(m, "gas")
        if layers is not None:
            layers["caster"] = m
    if style is not None:
        from .style import maternal_texture

        maternal_texture(style, A, D, echo, wall)
    return echo, att, members, area


def _specular(m: np.ndarray, geom: Geometry, win, strength: float) -> np.ndarray:
    """Echo weight of a smooth reflector: strong where its surface faces the beam, weak where the beam
    runs along it (a skull's lateral walls are faint on a real scan). The surface normal comes from the
    structure tensor of the membership (so thin shells have one too); beams run along polar rows."""
    if min(m.shape) < 3:
        return np.float32(1.0)
    dr = geom.depth / geom.nr
    lat = float(np.mean(geom.lateral_spacing()[win[0]]))
    gr, gc = np.gradient(m)
    gr, gc = gr / np.float32(dr), gc / np.float32(lat)
    sr, sc = max(0.5, 1.2 / dr), max(0.5, 1.2 / lat)
    jr = _blur(gr * gr, sr, sc)
    jc = _blur(gc * gc, sr, sc)
    c2 = jr / (jr + jc + np.float32(1e-6))
    return np.float32(1 - strength) + np.float32(strength) * c2 ** np.float32(1.5)


def _gauss_ss(sa: float, sl: float) -> float:
    ka = cv2.getGaussianKernel(2 * int(3 * sa) + 1, sa)
    kl = cv2.getGaussianKernel(2 * int(3 * sl) + 1, sl)
    return float((ka ** 2).sum() * (kl ** 2).sum())


def _blur(z: np.ndarray, sa: float, sl: float) -> np.ndarray:
    ka, kl = 2 * int(3 * sa) + 1, 2 * int(3 * sl) + 1
    return cv2.GaussianBlur(z, (kl, ka), sigmaX=sl, sigmaY=sa, borderType=cv2.BORDER_REFLECT)


def contact_profile(geom: Geometry, acq: Acquisition) -> np.ndarray:
    """Per-beam contact (1 = coupled, 0 = lifted off), soft across a few beams."""
    if acq.liftoff <= 0:
        return np.ones(geom.na, np.float32)
    u = (np.arange(geom.na) + 0.5) / geom.na
    if acq.liftoff_side < 0:
        u = 1 - u
    if acq.liftoff >= 0.999:
        return np.zeros(geom.na, np.float32)
    return np.clip((u - acq.liftoff) / 0.04 + 0.5, 0, 1).astype(np.float32)


def form(scene: Scene | None, geom: Geometry, pose: Pose, acq: Acquisition, rng: np.random.Generator,
         measure: list[str] | None = None, speckle: np.ndarray | None = None, style=None,
         layers: bool = False) -> Formed:
    """Form one polar B-mode image (display values 0..255) and the measures the label needs.

    ``speckle`` (nr x na x 2, float32, unit variance) may be given to keep speckle correlated over a
    sweep; otherwise it is drawn from ``rng``. ``style`` (style.Style): the "real" look (contents of
    the uterus, speckle cell size, TGC and lateral gain). ``layers``: also return polar maps of the
    ``measure`` primitives' membership, the acoustic shadow of the shadow caster and lift-off."""
    phase = float(rng.uniform(0, 2 * np.pi)) if speckle is None else 0.7
    lay: dict = {}
    echo, att, members, area = tissue_maps(scene, geom, pose, acq, phase, measure, style, lay)
    # tissue heterogeneity coarser than speckle (vessels, fibres, lobules): a smooth log-normal field,
    # fixed for a given phase so a sweep does not flicker
    trng = np.random.default_rng(int(phase * 1e6))
    lo = trng.standard_normal((max(4, geom.nr // 10), max(4, geom.na // 10))).astype(np.float32)
    tex = cv2.resize(lo, (geom.na, geom.nr), interpolation=cv2.INTER_CUBIC)
    echo = echo * np.exp(0.28 * tex)
    dr = geom.depth / geom.nr
    r = (np.arange(geom.nr, dtype=np.float32) + 0.5) * dr
    T = np.exp(-np.cumsum(att * dr, axis=0) + att * dr)  # transmission to each sample and back
    contact = contact_profile(geom, acq)
    amp = echo * T * contact[None, :]
    if style is not None and style.haze > 0:  # clutter / side-lobe haze: fluid is not pitch black
        amp += np.float32(style.haze) * np.exp(-acq.tgc_slope * r)[:, None] * contact[None, :]  # flat after TGC
    # near-field reverberation (coupled beams: weak, fast decay; lifted beams: strong ring-down)
    ds = max(2.0, 0.45 * acq.maternal)
    rev_c = np.zeros(geom.nr, np.float32)
    for k in range(1, 4):
        rev_c += acq.reverb * 0.45 ** k * np.exp(-(((r - k * ds) / 0.6) ** 2))
    rev_c += acq.reverb * 0.6 * np.exp(-r / 2.5)
    rev_l = np.zeros(geom.nr, np.float32)
    for k in range(1, 30):
        rev_l += 2.5 * 0.76 ** k * np.exp(-(((r - k * 3.2) / 0.45) ** 2))
    rev_l += 1.5 * np.exp(-r / 1.5)
    amp += rev_c[:, None] * contact[None, :] + rev_l[:, None] * (1 - contact)[None, :]
    # speckle: complex scatterers * amplitude, convolved with the PSF
    if speckle is None:
        speckle = rng.standard_normal((geom.nr, geom.na, 2), dtype=np.float32)
    lat = float(np.mean(geom.lateral_spacing()))
    cell = 1.0 if style is None else style.cell
    sa = max(0.35, 0.32 * acq.psf_scale * cell / dr)
    sl_f = max(0.35, 0.75 * acq.psf_scale * cell / lat)
    sl_d = max(0.35, 1.9 * acq.psf_scale * cell / lat)
    if style is not None:  # speckle grains of at least the display's pixel size (axial) and a few (lateral)
        sa, sl_f, sl_d = max(sa, style.grain[0]), max(sl_f, style.grain[1]), max(sl_d, style.grain[1])
    z = speckle * amp[:, :, None]
    zf = _blur(z, sa, sl_f) / np.sqrt(_gauss_ss(sa, sl_f))
    zd = _blur(z, sa, sl_d) / np.sqrt(_gauss_ss(sa, sl_d))
    wd = np.clip(np.abs(r / geom.depth - acq.focus) / 0.45, 0, 1)[:, None, None]
    z = zf * (1 - wd) + zd * wd
    # electronic noise, before TGC (so it grows with depth)
    nl = 10 ** ((-62 + 44 * acq.noise) / 20)
    z += nl * rng.standard_normal(z.shape, dtype=np.float32)
    env = np.sqrt(z[:, :, 0] ** 2 + z[:, :, 1] ** 2)
    tgc = np.exp(acq.tgc_slope * r)[:, None]
    db = 20 * np.log10(env * tgc + 1e-6) + acq.gain_db
    if style is not None:
        from .style import gain_map_db

        db += gain_map_db(style, geom.nr, geom.na)
    polar = (0.55 + db / acq.dr_db) * 255.0
    if style is not None and style.smooth > 0:  # the scanner's speckle reduction (fewer black holes)
        polar = _blur(polar.astype(np.float32), style.smooth * 0.6, style.smooth)
    if style is not None and style.sri > 0:  # edge-preserving speckle reduction (SRI-like)
        polar = cv2.bilateralFilter(np.clip(polar, -50, 300).astype(np.float32), 5, style.sri, 1.6)
    # what a reader can see: coupled beams, not behind bone or gas (excess attenuation over soft tissue)
    excess = np.maximum(att - np.float32(0.035), 0)
    vis = contact[None, :] * np.clip(np.exp(-np.cumsum(excess * dr, axis=0) + excess * dr) / 0.35, 0, 1)
    cols = np.arange(geom.na)
    va = {}
    for k, m in members.items():
        on = m > 0.3
        first = np.argmax(on, axis=0)  # where each beam meets the structure: is the path there clear?
        w = np.where(on.any(axis=0), vis[first, cols], 0.0)
        va[k] = float(((m * area).sum(axis=0) * w).sum())
    meas = {"visible_area": va,
            "contact": float(contact.mean())}
    if layers:
        lay.update(members)
        lay["liftoff"] = np.broadcast_to((1 - contact)[None, :], (geom.nr, geom.na)).astype(np.float32)
        m = lay.pop("caster", None)
        if m is None:
            lay["shadow"] = np.zeros((geom.nr, geom.na), np.float32)
        else:  # behind the caster (not the bright caster itself), where it takes more than half the echo
            ex_c = m * np.float32(TISSUES["gas"][1] - TISSUES["fetal"][1])
            tc = np.exp(-np.cumsum(ex_c * dr, axis=0))
            lay["shadow"] = ((tc < 0.5) & (m < 0.5)).astype(np.float32)
    return Formed(np.clip(polar, 0, 255).astype(np.float32), meas, lay)


def scan_convert(polar: np.ndarray, geom: Geometry, out_w: int, out_h: int,
                 box: tuple[int, int, int, int] | None = None, maps=None):
    """Draw the polar image into a black canvas; returns (uint8 image, fan mask, mm per pixel)."""
    if maps is None:
        maps = geom.maps(out_w, out_h, box or (2, 2, out_w - 4, out_h - 4))
    mx, my, s, mask = maps
    img = cv2.remap(polar, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    img[~mask] = 0
    return img, mask, s


def degrade(img: np.ndarray, mask: np.ndarray, mm_per_px: float, acq: Acquisition,
            rng: np.random.Generator) -> np.ndarray:
    """Motion blur and video noise on the scan-converted image (float 0..255) -> uint8."""
    out = img
    L = acq.motion_mm / mm_per_px
    if L >= 1.0:
        k = int(np.ceil(L)) | 1
        ker = np.zeros((k, k), np.float32)
        c = k // 2
        t = np.deg2rad(acq.motion_deg)
        for s in np.linspace(-L / 2, L / 2, 2 * k):
            ker[int(round(c + s * np.sin(t))), int(round(c + s * np.cos(t)))] += 1
        ker /= ker.sum()
        out = cv2.filter2D(out, -1, ker, borderType=cv2.BORDER_CONSTANT)
    if acq.noise > 0:
        out = out + rng.standard_normal(out.shape, dtype=np.float32) * (18.0 * acq.noise ** 1.5)
    out = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    out[~mask] = 0
    return out
