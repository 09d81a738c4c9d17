"""Write a labelled SYNTHETIC data set: OUT/images/synth_<plane>_<index>.png, OUT/labels.csv,
OUT/SYNTHETIC.txt and optionally OUT/sweeps/sweep_XXX.{mp4,dcm,csv}. Same seed -> same bytes.

Planes the product does not assess ("4CH"): their rows carry the generator's own four-chamber audit
as ``mos`` (a number, so every loader reads them) and the set gains a ``scored`` column (1 for head,
abdomen, femur; 0 for 4CH): a trainer trains the plane head on every row and the score and criteria
only where ``scored`` is 1 (equivalently: where the plane is in engine.result.ASSESSED_PLANES). Sets of
assessed planes only have no ``scored`` column (their bytes are those of earlier versions)."""
from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import cv2
import numpy as np

from . import ALL_PLANES, PLANES, make_spec, render_spec, rng_for
from .nonfetal import NONFETAL, nonfetal_mos
from .quality import FACTORS
from .screen import draw_screen, screen_layout

GENERATOR_VERSION = "fuiqa-synth 1"
FLAG_COLUMNS = ["f_structures", "f_plane", "f_zoom", "f_settings", "f_artefacts"]
COLUMNS = (["name", "mos", "std", "plane", "group", "q_true", "ga", "probe"] + FLAG_COLUMNS + ["missing"]
           + [f"s_{f}" for f in FACTORS])
MARKER = "SYNTHETIC.txt"


def screen_size(size: int) -> tuple[int, int]:
    return int(round(size * 4 / 3)) // 2 * 2, int(size)


def render_item(plane: str, seed: int, index: int, size: int = 256, screen: bool = False,
                severity: dict | None = None, realism: float = 0.0, sample: bool = False):
    """(image, label row) of data-set image ``index``; ``realism`` > 0: the "real" style (style.py).
    ``sample=True``: (image, row, Sample) with the Sample's pixel maps."""
    rng = rng_for(seed, index)
    if screen:
        W, H = screen_size(size)
        box = screen_layout(W, H)
        spec = make_spec(plane, severity, rng, size=box[3], realism=realism)
        s = render_spec(spec, rng, canvas=(W, H, box), maps=sample)
        fan = s.image if s.image.ndim == 2 else cv2.cvtColor(s.image, cv2.COLOR_BGR2GRAY)
        img = draw_screen(fan, s.mask, depth_mm=spec.geom.depth, mm_per_px=s.info["mm_per_px"], box=box,
                          plane=plane, gain_db=spec.acq.gain_db, dr_db=spec.acq.dr_db)
        if s.image.ndim == 3:  # a tinted vendor map: the fan keeps its colours
            img[s.mask] = s.image[s.mask]
    else:
        spec = make_spec(plane, severity, rng, size=size, realism=realism)
        s = render_spec(spec, rng, size=size, maps=sample)
        img = s.image
    name = f"synth_{plane}_{index:06d}.png"
    row = {"name": name, "mos": f"{s.mos:.2f}", "std": f"{s.std:.2f}", "plane": plane,
           "group": f"synth_{index:06d}", "q_true": f"{s.q:.2f}", "ga": f"{s.info['ga']:.1f}",
           "probe": s.info["probe"], "missing": ";".join(s.missing)}
    row.update({k: str(v) for k, v in s.flags.items()})
    row.update({f"s_{f}": f"{s.severity.get(f, 0.0):.3f}" for f in FACTORS})
    row["scored"] = str(int(plane in PLANES))
    if plane in NONFETAL:  # ultrasound with no fetal plane: plane "none", a low score, no checklist
        mos, sd = nonfetal_mos(seed, index)
        row.update({"mos": f"{mos:.2f}", "std": f"{sd:.2f}", "plane": "none", "q_true": f"{mos:.2f}", "missing": "",
                    "scored": "1", "kind": plane})
        row.update({k: "" for k in s.flags})
    return (img, row, s) if sample else (img, row)


#: artefact-map PNG levels (``maps=True``): outside the imaging region, a required structure of the
#: plane (inside the region), the rest of the region, an artefact region
MAP_OUTSIDE, MAP_STRUCTURE, MAP_FAN, MAP_ARTEFACT = 0, 64, 128, 255


def artefact_map(s) -> np.ndarray:
    """uint8 map of a Sample (with maps): MAP_FAN inside the imaging region, MAP_STRUCTURE on the
    plane's required structures (engine.result.STRUCTURES; where the attention should weigh),
    MAP_ARTEFACT where the acoustic shadow or the lift-off lies (where the image loses its points; it
    wins over a structure it covers), MAP_OUTSIDE elsewhere."""
    from engine.result import STRUCTURES

    m = np.where(s.maps["fan"], MAP_FAN, MAP_OUTSIDE).astype(np.uint8)
    for k in STRUCTURES.get(s.plane, ()):
        if k in s.maps:
            m[s.maps[k] & s.maps["fan"]] = MAP_STRUCTURE
    m[s.maps["shadow"] | s.maps["liftoff"]] = MAP_ARTEFACT
    return m


def artefact_severity(seed: int, index: int, plane: str, share: float) -> dict | None:
    """With probability ``share``: the generator's own severities of this image with an acoustic
    shadow (2/3) or a lift-off (1/3) of uniform severity added (so artefact maps are common); else
    None (the generator samples as usual)."""
    from .quality import factors_for, sample_severities

    r = np.random.default_rng([seed, index, 4242])
    if share <= 0 or r.random() >= share:
        return None
    sev = sample_severities(plane, r)
    fac = "shadow" if (r.random() < 2 / 3 and "shadow" in factors_for(plane)) else "liftoff"
    sev[fac] = float(r.uniform(0.3, 1.0))
    return sev


def _write_png(path: Path, img: np.ndarray, what: str) -> None:
    ok, buf = cv2.imencode(".png", img)
    if not ok:
        raise RuntimeError(f"PNG encoding failed for {what}")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(buf.tobytes())
    os.replace(tmp, path)


def _job(args):
    plane, seed, index, size, screen, images_dir, realism, maps, art_share = args
    if not maps:
        img, row = render_item(plane, seed, index, size, screen, realism=realism)
    else:
        sev = artefact_severity(seed, index, plane, art_share)
        img, row, s = render_item(plane, seed, index, size, screen, severity=sev, realism=realism, sample=True)
        mname = "maps/" + row["name"]
        _write_png(Path(images_dir).parent / mname, artefact_map(s), mname)
        row["artefact_map"] = mname
    _write_png(Path(images_dir) / row["name"], img, row["name"])
    return row


def write_labels(path: Path, rows: list[dict], scored: bool = False) -> None:
    cols = COLUMNS + ["scored"] if scored else list(COLUMNS)
    for extra in ("artefact_map", "kind"):
        if any(extra in r for r in rows):
            cols = cols + [extra]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") for k in cols})
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(buf.getvalue(), encoding="utf-8")
    os.replace(tmp, path)


def write_marker(out: Path, info: dict) -> None:
    text = ("SYNTHETIC DATA - made by `fuiqa synth`, not from any patient or scanner.\n"
            "Images are simulated B-mode fetal ultrasound; labels are computed from how each image was\n"
            "made (plane criteria) and a simulated rater panel. See docs/synthetic.md.\n\n"
            + json.dumps(info, indent=1, sort_keys=True) + "\n")
    (out / MARKER).write_text(text, encoding="utf-8")


def generate(out, n: int, *, planes=PLANES, seed: int = 0, sweeps: int = 0, size: int = 256,
             screen: bool = False, workers: int = 1, progress: bool = True, sweep_frames: int = 75,
             realism: float = 0.0, maps: bool = False, artefact_share: float = 0.5) -> dict:
    """Write the data set; returns a summary dict. ``planes`` may include "4CH" (not assessed; see the
    module docstring); ``realism`` (0..1): the "real" style for every image (0 = plain). ``maps``:
    also OUT/maps/<name>.png (:func:`artefact_map`, plain fans only) named in an ``artefact_map``
    column, with an added shadow or lift-off in ``artefact_share`` of the images — the per-cell
    supervision of the heatmap."""
    from tqdm import tqdm

    out = Path(out)
    planes = tuple(planes)
    for p in planes:
        if p not in ALL_PLANES:
            raise ValueError(f"unknown plane {p!r}; choose from {', '.join(ALL_PLANES)}")
    if n < 0 or size < 64:
        raise ValueError("need n >= 0 and size >= 64")
    if not 0.0 <= realism <= 1.0:
        raise ValueError(f"realism {realism:g} outside 0-1")
    if maps and screen:
        raise ValueError("maps are made for plain fans only (not --screen)")
    if not 0.0 <= artefact_share <= 1.0:
        raise ValueError(f"artefact_share {artefact_share:g} outside 0-1")
    images = out / "images"
    images.mkdir(parents=True, exist_ok=True)
    if maps:
        (out / "maps").mkdir(exist_ok=True)
    jobs = [(planes[i % len(planes)], seed, i, size, screen, str(images), realism, maps, artefact_share)
            for i in range(n)]
    rows: list[dict] = []
    bar = tqdm(total=n, desc="synth images", unit="img", disable=not progress)
    if workers > 1 and n > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(workers) as pool:
            for row in pool.imap(_job, jobs, chunksize=8):
                rows.append(row)
                bar.update(1)
    else:
        for j in jobs:
            rows.append(_job(j))
            bar.update(1)
    bar.close()
    write_labels(out / "labels.csv", rows, scored=any(p not in PLANES for p in planes))
    info = {"generator": GENERATOR_VERSION, "seed": seed, "n": n, "planes": list(planes), "size": size,
            "screen": screen, "sweeps": sweeps}
    if realism > 0:  # only then, so plain sets keep their bytes
        info["realism"] = realism
    if maps:
        info["maps"] = {"artefact_share": artefact_share, "levels": {"outside": MAP_OUTSIDE, "structure": MAP_STRUCTURE,
                                                                     "fan": MAP_FAN, "artefact": MAP_ARTEFACT}}
    write_marker(out, info)
    sweep_paths = []
    if sweeps:
        from .sweep import write_sweep

        (out / "sweeps").mkdir(exist_ok=True)
        for k in tqdm(range(sweeps), desc="synth sweeps", unit="sweep", disable=not progress):
            plane = planes[k % len(planes)]
            sweep_paths.append(write_sweep(out / "sweeps" / f"sweep_{k:03d}", plane, seed=seed, index=k,
                                           frames=sweep_frames, size=size, realism=realism))
    mos = np.array([float(r["mos"]) for r in rows]) if rows else np.zeros(0)
    return {"out": str(out), "n": n, "sweeps": [str(p) for p in sweep_paths],
            "mos_hist": np.histogram(mos, bins=10, range=(0, 100))[0].tolist()}
