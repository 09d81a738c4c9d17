"""Every check of issue 10 (items 3-6) in one repeatable run: real HC18 frames, degradation ladders,
the decoy, plane and "unlike the training data" (OOD), foreign frames, the synthetic held-out set,
the heatmap on synthetic maps, and the speed of the live and cine paths.

    .venv/bin/python bench/bench_real.py [--model M.fuiqa] [--quick] [--json OUT.json] [--sheet]
    .venv/bin/python bench/bench_real.py --make-random runs/random_rt.fuiqa   # an untrained rt package

Prints a table (check, value, 95 % interval, target, verdict) and writes JSON (default
bench/results/real_checks.json). Real-data parts skip, with a line saying so, when ../shared is absent;
checks a model cannot answer (no plane / OOD head) say "not available". ``--quick`` runs a subset.
HC18 dev split: train.real.hc18_split (sha1(name) % 4 == 0), never trained on. The ladders, the decoy
and the "≥ 60" share use the dev frames from 18 weeks on (HC ≥ 150 mm), as issue 10 says.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import inspect
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine import modelpack  # noqa: E402
from engine.result import STRUCTURES  # noqa: E402
from engine.roi import find_roi, find_roi_stack  # noqa: E402
from engine.scorers import make_scorer  # noqa: E402
from train import real as R  # noqa: E402

SEV = R.SEVERITIES
NA = "not available"


# ---------------------------------------------------------------- helpers
def boot_ci(x, stat: str = "mean", n: int = 2000, seed: int = 0):
    """Percentile bootstrap 95 % interval of the mean / median / share of ``x`` (resampling items)."""
    x = np.asarray(x, float)
    if x.size < 2:
        return None
    idx = np.random.default_rng(seed).integers(0, x.size, (n, x.size))
    v = np.median(x[idx], axis=1) if stat == "median" else x[idx].mean(axis=1)
    return [round(float(np.percentile(v, 2.5)), 4), round(float(np.percentile(v, 97.5)), 4)]


def check(name, value, op, target, ci=None, n=None, note=""):
    ok = None
    if value is not None:
        ok = bool({">=": value >= target, "<=": value <= target, "<": value < target}[op])
    return {"name": name, "value": None if value is None else round(float(value), 4), "ci95": ci,
            "target": f"{op} {target}", "pass": ok, "n": n, "note": note}


def score_frames(scorer, frames, batch: int = 32):
    """The product path for still frames: ROI found on each frame, then the scorer -> FrameResults."""
    out = []
    for a in range(0, len(frames), batch):
        chunk = frames[a:a + batch]
        out += list(scorer.score(chunk, [find_roi(f).box for f in chunk]))
    return out


def _seed(name: str, k: int = 0) -> int:
    return int(hashlib.sha1(f"{name}/{k}".encode()).hexdigest()[:8], 16)


def _spearman(sev, s) -> float:
    from scipy.stats import spearmanr

    if np.ptp(s) < 1e-9:
        return 0.0  # a flat ladder: the model does not respond
    return float(spearmanr(sev, s)[0])


# ---------------------------------------------------------------- real HC18 frames
#: the checklist item each ladder's degradation takes away (as the generator scores it: gain → settings;
#: blur and speckle noise → artefacts; a shadow or the head out of view → structures; too small → zoom)
CRIT_OF = {"blur": "artefacts", "dark_gain": "settings", "speckle_noise": "artefacts",
           "acoustic_shadow": "structures", "slide_out": "structures", "too_small": "zoom"}


def _real_heatmap_checks(heat: list, S: int, out: dict) -> list:
    """The heatmap on real frames, as on the synthetic ones: on each clean frame, whether the most-attended
    cell lies on the head (its HC18 mask covers ≥ 5 % of the cell); on the shadow ladder's two worst
    steps, the AUC of points lost (a·(100−q)) for the cells the shadow wedge covers (≥ 50 %) against the
    cells it leaves alone (< 10 %), cells in the fan only. ``heat``: per frame ((image, head mask, its
    result), fan mask, [(shadowed image, shadow mask, its result)]) from the ladder run; ``S``: the model
    input's size."""
    from sklearn.metrics import roc_auc_score

    from engine.preprocess import clip_roi

    names = ("most-attended cell on the head (real HC18 dev frames)", "shadow cells as lost points on real frames: AUC")
    on, ys, ds = [], [], []
    for (img, mask, r), fan, shadowed in heat:
        if r.attention is None:
            return [check(n, None, ">=", t, note=NA + " (no attention map)") for n, t in zip(names, (0.6, 0.8))]
        g = r.attention.shape[0]
        cy, cx = np.unravel_index(int(np.argmax(r.attention)), r.attention.shape)
        on.append(float(_cells(mask, clip_roi(find_roi(img).box, img.shape), S, g)[cy, cx] >= 0.05))
        for im2, shadow, r2 in shadowed:
            box = clip_roi(find_roi(im2).box, im2.shape)  # the box score_frames found (deterministic)
            art, inside = _cells(shadow, box, S, g), _cells(fan, box, S, g)
            keep = (inside >= 0.5) & ((art >= 0.5) | (art < 0.1))
            ys += list((art[keep] >= 0.5).astype(int))
            ds += list(r2.deficit[keep])
    on = np.array(on)
    auc = float(roc_auc_score(ys, ds)) if len(set(ys)) == 2 else None
    out["heatmap_real"] = {"frames": len(on), "shadow_cells": int(np.sum(ys)), "cells": len(ys)}
    return [check(names[0], on.mean() if on.size else None, ">=", 0.60, boot_ci(on), len(on)),
            check(names[1], auc, ">=", 0.8, None, len(ys), "deficit a·(100−q) per cell, cells in the fan, shadow severities "
                  + "/".join(f"{v:g}" for v in SEV[-2:]))]


def _checklist_checks(crit: dict, clean: list, out: dict) -> list:
    """The checklist on real frames: on the clean frames, the share meeting each global item; along each
    ladder, Spearman(severity, P(the item it takes away)) per frame (≤ −0.3 on average, as for the
    score) and the share of frames whose item is met when clean and not met at the worst step."""
    if not crit or not next(iter(crit.values())):
        return [check("checklist on real frames", None, "<=", -0.3, note=NA + " (no criteria head)")]
    out["checklist_clean_met"] = {c: float(np.mean([r.criteria_prob[c] >= 0.5 for r in clean]))
                                  for c in ("structures", "plane", "zoom", "settings", "artefacts")}
    out["checklist_ladders"], checks = {}, []
    for f, rows in crit.items():
        a = np.array(rows)
        rho = np.array([_spearman(SEV, row) for row in a])
        flip = ((a[:, 0] >= 0.5) & (a[:, -1] < 0.5)).astype(float)
        out["checklist_ladders"][f] = {"item": CRIT_OF[f], "mean_prob_by_severity": a.mean(0).round(3).tolist(),
                                       "spearman_mean": float(rho.mean()), "met_then_not": float(flip.mean())}
        checks.append(check(f"checklist '{CRIT_OF[f]}' along the {f} ladder: Spearman", rho.mean(), "<=", -0.3,
                            boot_ci(rho), len(a), f"met when clean, not at the worst step: {flip.mean():.2f}"))
    return checks


def hc18_checks(scorer, quick: bool, log, ladder_frames: int = 0) -> tuple[dict, list]:
    root = R.hc18_root()
    if root is None:
        log("HC18 absent (../shared/data/hc18; FUIQA_HC18): real-frame checks skipped")
        return {"skipped": "HC18 absent"}, []
    _, dev = R.hc18_split(root)
    if quick:
        dev = dev[::5]
    data = [R.read_item(it) for it in dev]
    res = score_frames(scorer, [d[0] for d in data])
    sc = np.array([r.score for r in res])
    big = np.array([it.hc_mm >= 150 for it in dev])
    out = {"n_dev": len(dev), "n_hc150": int(big.sum()), "scores": {it.name: round(float(s), 2) for it, s in zip(dev, sc)},
           "score_mean": float(sc.mean()), "score_median_hc150": float(np.median(sc[big]))}
    ok60 = (sc[big] >= 60).astype(float)
    checks = [check("HC18 dev, HC ≥ 150 mm: share scoring ≥ 60", ok60.mean(), ">=", 0.70, boot_ci(ok60), int(big.sum())),
              check("HC18 dev, HC ≥ 150 mm: median score", np.median(sc[big]), ">=", 65, boot_ci(sc[big], "median"), int(big.sum()))]
    planes = [r.plane for r in res]
    if planes[0] is None:
        checks.append(check("HC18 dev: plane 'head' share", None, ">=", 0.85, note=NA + " (no plane head)"))
    else:
        head = np.array([p == "head" for p in planes], float)
        out["planes"] = {p: planes.count(p) for p in set(planes)}
        out["plane_head_share_hc150"] = float(head[big].mean()) if big.any() else None
        checks.append(check("HC18 dev: plane 'head' share", head.mean(), ">=", 0.85, boot_ci(head), len(head)))
    if res[0].ood is None:
        checks.append(check("HC18 dev: OOD fires (share)", None, "<", 0.10, note=NA + " (no OOD check in the model)"))
    else:
        ood = np.array([r.ood for r in res], float)
        checks.append(check("HC18 dev: OOD fires (share)", ood.mean(), "<", 0.10, boot_ci(ood), len(ood)))
    # ladders and the decoy on the frames from 18 weeks on
    sel = [i for i in range(len(dev)) if big[i]]
    cap = ladder_frames or (12 if quick else 0)
    if cap and cap < len(sel):
        sel = [sel[int(k)] for k in np.linspace(0, len(sel) - 1, cap).round()]
    t0 = time.time()
    lad = {f: [] for f in R.LADDER_FACTORS}
    crit = {f: [] for f in R.LADDER_FACTORS}  # P(the factor's checklist item met) along its ladder
    drops, decoy_planes, heat = [], [], []  # heat: what the real heatmap check needs, per frame
    for n, i in enumerate(sel):
        img, mask = data[i]
        fan = R.fan_mask(img)
        name = dev[i].name
        frames, keys, shadows = [], [], []
        for k, f in enumerate(R.LADDER_FACTORS):
            for s in SEV[1:]:
                im2, info = R.degrade(f, img, mask, s, _seed(name, k), fan)
                frames.append(im2)
                keys.append(f)
                if f == "acoustic_shadow" and s in SEV[-2:]:
                    shadows.append((len(frames) - 1, info["shadow"]))
        frames.append(R.degrade("tile_shuffle", img, mask, 1.0, _seed(name, 99), fan)[0])
        rs = score_frames(scorer, frames)
        heat.append(((img, mask, res[i]), fan, [(frames[j], sh, rs[j]) for j, sh in shadows]))
        s = np.array([r.score for r in rs])
        for k, f in enumerate(R.LADDER_FACTORS):
            lad[f].append([sc[i], *s[4 * k:4 * k + 4]])
            if res[i].criteria_prob is not None:
                c = CRIT_OF[f]
                crit[f].append([res[i].criteria_prob[c], *(r.criteria_prob[c] for r in rs[4 * k:4 * k + 4])])
        drops.append(sc[i] - s[-1])
        decoy_planes.append(rs[-1].plane)
        if n % 10 == 9:
            log(f"  ladders: {n + 1}/{len(sel)} frames, {time.time() - t0:.0f} s")
    rho = {f: np.array([_spearman(SEV, row) for row in v]) for f, v in lad.items()}
    per_frame_mean = np.mean([rho[f] for f in R.LADDER_FACTORS], axis=0)
    out["ladders"] = {f: {"mean_score_by_severity": np.mean(v, axis=0).round(2).tolist(),
                          "spearman_mean": float(rho[f].mean())} for f, v in lad.items()}
    out["ladder_frames"], out["ladder_seconds"] = len(sel), round(time.time() - t0, 1)
    checks.append(check("ladders: mean Spearman(severity, score) over factors", per_frame_mean.mean(), "<=", -0.7,
                        boot_ci(per_frame_mean), len(sel)))
    for f in R.LADDER_FACTORS:
        checks.append(check(f"ladder {f}: Spearman", rho[f].mean(), "<=", -0.3, boot_ci(rho[f]), len(sel)))
    checks += _checklist_checks(crit, [res[i] for i in sel], out)
    checks += _real_heatmap_checks(heat, scorer.input_size, out)
    d = np.array(drops)
    hit = (d >= 20).astype(float)
    out["decoy"] = {"mean_drop": float(d.mean()), "planes": {str(p): decoy_planes.count(p) for p in set(decoy_planes)}}
    checks.append(check("tile-shuffled decoy ≥ 20 points below the original (share)", hit.mean(), ">=", 0.75,
                        boot_ci(hit), len(d)))
    return out, checks


# ---------------------------------------------------------------- frames that are not fetal ultrasound
def _variants(img, rng):
    """The frame, flipped, a centre crop, on a black 640x480 viewer canvas, and two grey maps."""
    import cv2

    h, w = img.shape[:2]
    crop = cv2.resize(img[h // 8:h - h // 8, w // 8:w - w // 8], (w, h))
    canvas = np.zeros((480, 640) + img.shape[2:], np.uint8)
    k = min(440 / h, 600 / w)
    small = cv2.resize(img, (int(w * k), int(h * k)))
    y, x = (480 - small.shape[0]) // 2, (640 - small.shape[1]) // 2
    canvas[y:y + small.shape[0], x:x + small.shape[1]] = small
    gam = [np.clip(255 * (img / 255.0) ** g, 0, 255).astype(np.uint8) for g in (0.6, 1.6)]
    return [img, img[:, ::-1].copy(), crop, canvas, *gam]


def foreign_frames(quick: bool) -> dict:
    import cv2
    from pydicom import examples
    from sklearn.datasets import load_sample_images

    from engine.sources import open_source

    rng = np.random.default_rng(7)

    def frames_of(key, idx=(0,)):
        with open_source(examples.get_path(key)) as src:
            fs = [f.image for f in src]
        return [fs[i] for i in idx if i < len(fs)]

    groups = {"ct": [], "mr": [], "photo": [], "noise": [], "adult_echo": []}
    for f in frames_of("ct"):
        groups["ct"] += _variants(f, rng)
    for f in frames_of("mr") + frames_of("overlay"):
        groups["mr"] += _variants(f, rng)
    for im in load_sample_images().images:
        groups["photo"] += _variants(cv2.cvtColor(im, cv2.COLOR_RGB2BGR), rng)
    for k in range(6 if quick else 20):
        h, w = [(480, 640), (1080, 1920), (540, 800)][k % 3]
        kind = k % 4
        if kind == 0:
            z = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        elif kind == 1:
            z = rng.integers(0, 256, (h, w), dtype=np.uint8)
        elif kind == 2:
            z = np.clip(rng.normal(rng.uniform(40, 200), rng.uniform(10, 60), (h, w)), 0, 255).astype(np.uint8)
        else:
            z = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), 3)
            z = cv2.normalize(z, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
        groups["noise"].append(z)
    groups["adult_echo"] = frames_of("ybr_color", (0, 7, 14, 21, 28))
    return groups


def foreign_checks(scorer, quick: bool) -> tuple[dict, list]:
    groups = foreign_frames(quick)
    out, checks = {}, []
    res = {g: score_frames(scorer, fs) for g, fs in groups.items()}
    for g, rs in res.items():
        out[g] = {"n": len(rs), "scores": [round(r.score, 1) for r in rs], "planes": [r.plane for r in rs],
                  "ood": [r.ood for r in rs]}
    has_ood = res["ct"][0].ood is not None
    pooled = []
    for g in ("ct", "mr", "photo", "noise"):
        if has_ood:
            o = np.array([r.ood for r in res[g]], float)
            pooled += list(o)
            checks.append(check(f"OOD fires on {g} (share)", o.mean(), ">=", 0.95, boot_ci(o), len(o)))
        else:
            checks.append(check(f"OOD fires on {g} (share)", None, ">=", 0.95, note=NA + " (no OOD check in the model)"))
    if has_ood:
        checks.append(check("OOD fires on CT+MR+photos+noise (share)", np.mean(pooled), ">=", 0.95, boot_ci(pooled), len(pooled)))
    for g in ("adult_echo", "ct", "mr"):
        low = np.array([r.score < 30 or r.plane == "none" for r in res[g]], float)
        checks.append(check(f"{g}: score < 30 or plane 'none' (share)", low.mean(), ">=", 1.0, None, len(low),
                            f"max score {max(r.score for r in res[g]):.1f}"))
    nonus = [r.score for g in ("ct", "mr", "photo", "noise") for r in res[g]]
    checks.append(check("non-ultrasound frames (CT, MR, photos, noise): max score", max(nonus), "<", 30, None, len(nonus)))
    return out, checks


# ---------------------------------------------------------------- synthetic held-out set (tools/train_default.py)
def _train_default():
    spec = importlib.util.spec_from_file_location("train_default", ROOT / "tools" / "train_default.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def synthetic_checks(model_path: Path, quick: bool, workers: int, log) -> tuple[dict, list]:
    td = _train_default()
    n = 120 if quick else 600  # the held-out recipe of tools/train_default.py (seeds 9000-9002); quick: its prefix
    data = ROOT / "runs" / "bench_real" / f"heldout_{n}"
    t0 = time.time()
    gen = td.make_set(data, n, n // 4, max(35, n // 10), 9000, workers)
    log(f"held-out synthetic set ready ({data}, {time.time() - t0:.0f} s)")
    held = td.evaluate(model_path, data)
    us = held["ultrasound_only"]
    checks = [check("synthetic held-out SRCC", us["srcc"], ">=", 0.95, us.get("ci95", {}).get("srcc"), held["n"]),
              check("synthetic held-out PLCC", us["plcc"], ">=", 0.95, us.get("ci95", {}).get("plcc"), held["n"]),
              check("synthetic non-ultrasound frames: max score", held["non_ultrasound"]["max"], "<", 30, None,
                    held["non_ultrasound"]["n"])]
    if held.get("no_contact", {}).get("n"):
        checks.append(check("synthetic no-contact frames: max score", held["no_contact"]["max"], "<", 30, None,
                            held["no_contact"]["n"]))
    return {"generator": gen, "heldout": held}, checks


# ---------------------------------------------------------------- heatmap on the generator's maps
def _cells(m, box, size, grid):
    """Fraction of each heatmap cell covered by bool map ``m`` (frame pixels), on the letterboxed input."""
    from engine.preprocess import grid_coverage

    return grid_coverage(m, box, size, grid)


def heatmap_checks(scorer, quick: bool, log) -> tuple[dict, list]:
    from train import synth

    names = ("most-attended cell on a required structure (standard synthetic frames)",
             "shadow / lift-off cells as lost points: AUC")
    if "maps" not in inspect.signature(synth.render_sample).parameters:
        msg = "skipped: this generator has no Sample.maps (branch synth adds them)"
        log("heatmap checks " + msg)
        return {"skipped": msg}, [check(names[0], None, ">=", 0.60, note=msg), check(names[1], None, ">=", 0.8, note=msg)]
    from sklearn.metrics import roc_auc_score

    from engine.preprocess import clip_roi

    S = scorer.input_size
    per = 4 if quick else 12
    on, ys, ds = [], [], []
    for plane in ("head", "abdomen", "femur"):
        clean = {f: 0.0 for f in synth.factors_for(plane)}
        got = 0
        for i in range(per * 3):
            if got >= per:
                break
            s = synth.render_sample(plane, 9100, i, severity=clean, maps=True)
            if s.mos < 80:  # standard frames only
                continue
            got += 1
            box = clip_roi(find_roi(s.image).box, s.image.shape)
            r = scorer.score([s.image], box)[0]
            g = r.attention.shape[0]
            req = [k for k in STRUCTURES[plane] if k in s.maps]
            cov = np.max([_cells(s.maps[k], box, S, g) for k in req], axis=0) if req else np.zeros((g, g))
            cy, cx = np.unravel_index(int(np.argmax(r.attention)), r.attention.shape)
            on.append(float(cov[cy, cx] >= 0.05))
        for j, (fac, lo, hi) in enumerate((("shadow", 0.5, 1.0), ("liftoff", 0.4, 0.8))):
            for i in range(per):
                rng = np.random.default_rng(_seed(plane, 100 * j + i))
                s = synth.render_sample(plane, 9200 + j, i, severity={**clean, fac: float(rng.uniform(lo, hi))}, maps=True)
                box = clip_roi(find_roi(s.image).box, s.image.shape)
                r = scorer.score([s.image], box)[0]
                g = r.deficit.shape[0]
                art = _cells(s.maps[fac], box, S, g)
                fan = _cells(s.maps["fan"], box, S, g)
                keep = (fan >= 0.5) & ((art >= 0.5) | (art < 0.1))
                ys += list((art[keep] >= 0.5).astype(int))
                ds += list(r.deficit[keep])
    on = np.array(on)
    auc = float(roc_auc_score(ys, ds)) if len(set(ys)) == 2 else None
    out = {"standard_frames": len(on), "artefact_cells": int(np.sum(ys)), "cells": len(ys)}
    return out, [check(names[0], on.mean() if on.size else None, ">=", 0.60, boot_ci(on), len(on)),
                 check(names[1], auc, ">=", 0.8, None, len(ys), "deficit a·(100−q) per cell, cells in the fan")]


# ---------------------------------------------------------------- speed
def speed_checks(pkg, seconds: float) -> tuple[dict, list]:
    from engine.bench import _stats, measure, synthetic_frame_1080

    frame = synthetic_frame_1080()
    one = make_scorer("ort", pkg, threads=1)

    def live():  # 1080p frame -> ROI -> preprocess -> score, plane, criteria, heatmap (deficit)
        r = one.score([frame], find_roi(frame).box)[0]
        return r.plane_label, r.criteria, r.deficit, r.band

    from engine.roi import RoiTracker

    tracker = RoiTracker()  # what the live view runs: found on a few frames, then tracked (re-checked every 5 s)

    def live_cached():
        r = one.score([frame], tracker.update(frame).box)[0]
        return r.plane_label, r.criteria, r.deficit, r.band

    cine_sc = make_scorer("ort", pkg)
    clip = [frame] * 32
    croi = find_roi_stack(clip[:4]).box

    def cine():
        return [(r.plane_label, r.criteria, r.deficit) for r in cine_sc.score(clip, croi)]

    def timed(fn, batch, min_iters=15):
        c0 = time.process_time()
        st = _stats(ts := measure(fn, seconds, min_iters=min_iters), batch)
        # CPU seconds of this process per call (every thread): frames/s on an otherwise idle core
        cpu = (time.process_time() - c0) / (len(ts) + 5)
        st["cpu_frames_per_s"] = round(batch / max(cpu, 1e-9), 1)
        return st

    out = {"live_roi_each_frame": timed(live, 1), "live_roi_cached": timed(live_cached, 1),
           "cine_batch32": timed(cine, 32, 5), "ort_threads": {"live": one.threads, "cine": cine_sc.threads},
           "load_avg": list(os.getloadavg())}
    lv, lc, cn = out["live_roi_each_frame"], out["live_roi_cached"], out["cine_batch32"]
    load = f"load average {out['load_avg'][0]:.1f} on {os.cpu_count()} CPUs"
    return out, [check("live path 1080p (ROI tracked, as the live view runs), batch 1, 1 ORT thread: frames/s",
                       lc["frames_per_s"], ">=", 60,
                       note=f"{lc['cpu_frames_per_s']:.0f}/s by CPU time ({load}); a fresh ROI detection on every "
                            f"frame: {lv['frames_per_s']:.0f}/s wall, {lv['cpu_frames_per_s']:.0f}/s CPU"),
                 check(f"cine review batched (32, {cine_sc.threads} ORT thread(s)): frames/s", cn["frames_per_s"], ">=", 200,
                       note=f"{cn['cpu_frames_per_s']:.0f}/s by CPU time")]


# ---------------------------------------------------------------- the run
def table(checks) -> str:
    if not checks:
        return "(no checks ran: every part asked for was skipped)"
    w = max(len(c["name"]) for c in checks)
    lines = [f"| {'check':{w}s} | value    | 95 % interval     | target  | verdict |", "|" + "-" * (w + 2) + "|"
             + "----------|-------------------|---------|---------|"]
    for c in checks:
        v = "—" if c["value"] is None else f"{c['value']:.3f}"
        ci = "" if not c["ci95"] else f"[{c['ci95'][0]:.3f}, {c['ci95'][1]:.3f}]"
        verdict = {True: "PASS", False: "FAIL", None: "n/a"}[c["pass"]]
        note = f"  {c['note']}" if c["note"] else ""
        lines.append(f"| {c['name']:{w}s} | {v:8s} | {ci:17s} | {c['target']:7s} | {verdict:7s} |{note}")
    return "\n".join(lines)


def make_random(path: Path, seed: int = 0) -> Path:
    import torch

    from engine.export import package_model
    from engine.model import build_model

    torch.manual_seed(seed)
    package_model(build_model("rt").eval(), path, name=f"random rt (seed {seed})", trained=False)
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=modelpack.default_model_path())
    ap.add_argument("--quick", action="store_true", help="a subset of every part (a few minutes)")
    ap.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "real_checks.json")
    ap.add_argument("--parts", default="hc18,foreign,synthetic,heatmap,speed")
    ap.add_argument("--seconds", type=float, default=3.0, help="per speed measurement")
    ap.add_argument("--ladder-frames", type=int, default=0, help="at most this many frames for the ladders (0: all)")
    ap.add_argument("--workers", type=int, default=2, help="for making the held-out synthetic set")
    ap.add_argument("--sheet", action="store_true", help="write runs/real_ladders.png (one HC18 dev frame's ladders; HC18 pixels, not to be committed)")
    ap.add_argument("--make-random", type=Path, metavar="OUT", help="write an untrained build_model('rt') package and exit")
    a = ap.parse_args(argv)
    if a.make_random:
        print(f"wrote {make_random(a.make_random)}")
        return 0
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    t0 = time.time()
    pkg = modelpack.load(a.model)
    scorer = make_scorer("ort", pkg)
    res = {"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "model": {"path": str(a.model), "name": pkg.name,
           "hash": pkg.model_hash[:16], "trained": pkg.trained, "heads": bool(pkg.meta.get("heads"))},
           "quick": a.quick, "parts": {},
           "machine": {"cpus": os.cpu_count(), "load_avg_start": list(os.getloadavg())}}
    checks = []
    parts = {"hc18": lambda: hc18_checks(scorer, a.quick, log, a.ladder_frames), "foreign": lambda: foreign_checks(scorer, a.quick),
             "synthetic": lambda: synthetic_checks(a.model, a.quick, a.workers, log),
             "heatmap": lambda: heatmap_checks(scorer, a.quick, log), "speed": lambda: speed_checks(pkg, a.seconds)}
    for p in [p.strip() for p in a.parts.split(",") if p.strip()]:
        t = time.time()
        log(f"{p} ...")
        out, ch = parts[p]()
        out["seconds"] = round(time.time() - t, 1)
        res["parts"][p], checks = out, checks + ch
        log(f"{p}: {out['seconds']} s")
    if a.sheet and R.hc18_root() is not None:
        import cv2

        it = [d for d in R.hc18_split()[1] if d.hc_mm >= 150][2]
        sheet = ROOT / "runs" / "real_ladders.png"  # HC18 pixels: under the ignored runs/, never docs/
        sheet.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(sheet), R.ladder_sheet(*R.read_item(it), seed=0, width=288))
    res["checks"], res["seconds"] = checks, round(time.time() - t0, 1)
    res["machine"]["load_avg_end"] = list(os.getloadavg())
    print(f"model {a.model} ({pkg.name}, trained={pkg.trained}); {'quick' if a.quick else 'full'} run, "
          f"{res['seconds']:.0f} s; load average {res['machine']['load_avg_end'][0]:.1f} on {os.cpu_count()} CPUs")
    print(table(checks))
    if not checks:  # e.g. --parts hc18 without ../shared: an earlier run's JSON is not replaced by nothing
        print(f"{a.json} left as it was")
        return 0
    a.json.parent.mkdir(parents=True, exist_ok=True)
    modelpack.atomic_write_bytes(a.json, json.dumps(res, indent=1, default=str).encode())
    print(f"wrote {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
