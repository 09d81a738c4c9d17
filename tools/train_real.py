"""Train the real-scans default model: synthetic + real-style synthetic + HC18 frames, fine-tuned from
the synthetic default, with plane / criteria heads and the OOD density.

    .venv/bin/python tools/train_real.py --work runs/real            # build the data, train, report
    .venv/bin/python tools/train_real.py --work runs/real --data-only

Data (all under --work; nothing of it is committed):
  synth/   SYNTHETIC plain fans (seed 1000) + screen captures (1001) + non-ultrasound frames (1002),
           the first images of the shipped synthetic recipe (tools/train_default.py make_set);
  style/   SYNTHETIC real-style frames (`fuiqa synth --style real`, seed 1100) of head, abdomen, femur
           and the 4CH heart (not assessed: no score label, plane only);
  hc18/    real HC18 head frames of the TRAIN part of the fixed split (train.real.hc18_split; the dev
           quarter is never used here), as anchors, degradations and decoys (train.real_set), the
           anchors scored with SonoNet-16's brain-plane probability as teacher;
  maps_plain/, maps_style/  SYNTHETIC plain and real-style fans with artefact maps (`fuiqa synth --maps`,
           seeds 1200/1201): the heatmap's per-cell supervision (train/cells.py), a shadow or lift-off
           added to half of them;
  neg2/    non-ultrasound frames closer to a real screen (train.negatives_real, seed 1300): tomography
           phantoms, dead-leaves photos, other-modality pydicom-data DICOMs (none of the bench's);
  all/     the union (hard links), labels.csv with every column;
  nonfetal_screen/, nonfetal_style/  SYNTHETIC non-fetal ultrasound (train/synth/nonfetal.py: an adult
           heart, an adult abdomen) on scanner screens (seed 1400) and in the real style (1401),
           labelled plane none, 1–10 points;
  all4/    all/ + the non-fetal parts, with a split column: every row of all/ keeps its split.
  nonfetal_real/  REAL non-fetal ultrasound: pydicom-data's GE lymph node, ALOKA pelvis and Philips
           near-empty fan, cropped and shown in 1,500 ways (train/nonfetal_real.py, seed 1500);
  all6/    all4b/ + nonfetal_real/, the new rows all in the train split.
Then round 1, `fuiqa train all --out model --config tools/real_model.json` (init_from the synthetic
model runs/real/base.fuiqa; the shipped round 1 ran before the maps and neg2 parts existed, on 26,752
rows), and round 2, `fuiqa train all --out model2 --config tools/real2_model.json` (init_from round 1,
33,252 rows, per-cell heatmap loss on; its maps then marked shadow / lift-off only), and round 3,
`--out model3 --config tools/real3_model.json` (init_from round 2, 3 epochs; the maps now also mark the
required structures and `w_struct` keeps half the attention on them), and round 4, `fuiqa train all4b
--out model4b --config tools/real4_model.json` (init_from round 3, 3 epochs; all4b = all4 with the
plain-synthetic train rows twice; chosen over the same run on all4 by val SRCC), and round 5, `fuiqa
train all4b --out model5c --config tools/real5_model.json` (init_from round 4b, lr 2e-4, 2 epochs: the
fuiqa-rt160-real4, chosen over the same run on all5 — the rows three times — by val SRCC),
and round 6, `fuiqa train all6 --out model6f --config tools/real6f_model.json` (init_from round 5,
lr 1e-4, 2 epochs; all6 = all4b + 1,500 frames of pydicom-data's REAL non-fetal scans,
train/nonfetal_real.py, in the train split only: the shipped fuiqa-rt160-real5, chosen over the same
run at lr 2e-4, tools/real6_model.json, by val SRCC; runs/real/selection6.md; its density then refit
with the real non-fetal rows left out, `tools/refit_density.py runs/real/model6f/model.fuiqa
runs/real/all6 --out runs/real/refit6/excl.fuiqa --exclude-kind real_nonfetal`, which caught more of
bench_ood_design's MR slices: 0.81 vs 0.69 trained).
And round 8, `fuiqa train all8 --out model8j --config tools/real8j_model.json` (init_from round 6, lr 5e-5,
2 epochs; all8 = all6 + 1,000 frames of two more REAL non-fetal pydicom-data scans, train/nonfetal_real.FILES8:
an adult echo screen and a colour-Doppler vessel, train split only: the shipped fuiqa-rt160-real6, chosen over
the same run at lr 1e-4, tools/real8_model.json, by val SRCC; runs/real/selection8.md), its density refit as
round 6's (runs/real/refit8j/excl.fuiqa). This script runs the shipped lr-5e-5 run (model8j, refit8j); the
lr-1e-4 one was run by hand: `fuiqa train runs/real/all8 --out runs/real/model8i --config tools/real8_model.json`.
Checks: bench/bench_real.py --model runs/real/refit8j/excl.fuiqa; install: --install that file.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def write_rows(path: Path, rows: list[dict]) -> None:
    """labels.csv of ``rows`` with every column any row has (first seen first), written atomically."""
    import io

    from engine.modelpack import atomic_write_bytes

    cols = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, restval="")
    w.writeheader()
    w.writerows(rows)
    atomic_write_bytes(path, buf.getvalue().encode())


def link_into(dst_root: Path, src_root: Path, rows: list[dict], prefix: str) -> list[dict]:
    out = []
    for r in rows:
        src = src_root / r["name"]
        if not src.exists():  # `fuiqa synth` names images by file name inside images/
            src = src_root / "images" / Path(r["name"]).name
        name = f"images/{prefix}_{Path(r['name']).name}"
        dst = dst_root / name
        if not dst.exists():
            os.link(src, dst)
        r = dict(r, name=name)
        if r.get("artefact_map"):  # the heatmap's per-cell supervision (fuiqa synth --maps) travels along
            mdst = dst_root / "maps" / f"{prefix}_{Path(r['artefact_map']).name}"
            mdst.parent.mkdir(exist_ok=True)
            if not mdst.exists():
                os.link(src_root / r["artefact_map"], mdst)
            r["artefact_map"] = f"maps/{mdst.name}"
        if r.get("group"):
            r["group"] = f"{prefix}_{r['group']}"
        out.append(r)
    return out


def build_hc18(out: Path, per_factor: int) -> dict:
    from train.real import hc18_split
    from train.real_set import teacher_brain_probs, write_real_set

    if (out / "DONE").exists():
        return json.loads((out / "DONE").read_text())
    train_items, dev = hc18_split()
    t0 = time.time()
    p = teacher_brain_probs(train_items, progress=lambda a, n: print(f"teacher {a}/{n}", flush=True) if a % 160 == 0 else None)
    rows = write_real_set(out, train_items, seed=0, per_factor=per_factor, p_brain=p)
    write_rows(out / "labels.csv", rows)
    info = {"n_frames": len(train_items), "n_dev_held_out": len(dev), "n_rows": len(rows), "teacher": p is not None,
            "per_factor": per_factor, "seconds": round(time.time() - t0, 1)}
    (out / "DONE").write_text(json.dumps(info))
    return info


def combine(work: Path) -> Path:
    allp = work / "all"
    (allp / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    rows += link_into(allp, work / "synth", read_rows(work / "synth" / "labels.csv"), "syn")
    rows += link_into(allp, work / "style", read_rows(work / "style" / "labels.csv"), "sty")
    rows += link_into(allp, work / "hc18", read_rows(work / "hc18" / "labels.csv"), "real")
    for part, prefix in (("maps_plain", "mpl"), ("maps_style", "mst"), ("neg2", "ng2")):
        if (work / part / "labels.csv").exists():
            rows += link_into(allp, work / part, read_rows(work / part / "labels.csv"), prefix)
    cols = ["name", "mos", "std", "plane", "group"]
    for r in rows:
        cols += [k for k in r if k not in cols]
    from engine.modelpack import atomic_write_bytes
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") for k in cols})
    atomic_write_bytes(allp / "labels.csv", buf.getvalue().encode())
    print(f"combined {len(rows)} rows into {allp}")
    return allp


#: round 4's extra parts (folder, prefix): SYNTHETIC non-fetal ultrasound (train/synth/nonfetal.py)
NONFETAL_PARTS = (("nonfetal_screen", "nfs"), ("nonfetal_style", "nfy"))


def extend_keeping_splits(work: Path, src: str = "all", dst: str = "all4", parts=NONFETAL_PARTS,
                          seed: int = 0, fractions=(0.85, 0.1, 0.05), repeat: str = "", copies: int = 1,
                          new_split: str | None = None) -> Path:
    """Round 4's data: ``src``'s rows plus ``parts``, with a ``split`` column. Every old row keeps the
    split it had (the rounds before trained on its train part: none of it may land in round 4's val or
    test); the new rows are split by group with the same seed and fractions (train.data's rule).
    ``repeat``: a name prefix (e.g. "images/syn_") whose *train* rows appear twice (a second hard
    link; ``copies`` of them): 1 + copies times the weight for that part in training, val and test untouched.
    ``new_split``: every new row in that split instead (round 6's three real non-fetal scans: train only,
    since a val or test row would be a crop of a training image)."""
    from train.data import _assign_splits, load_labelled

    old = load_labelled(work / src, seed=seed, fractions=fractions, check_images=False)
    split_of = {it.name: it.split for it in old.items}
    out = work / dst
    (out / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for r in read_rows(work / src / "labels.csv"):
        for key in ("name", "artefact_map"):
            if r.get(key):
                d = out / r[key]
                d.parent.mkdir(parents=True, exist_ok=True)
                if not d.exists():
                    os.link(work / src / r[key], d)
        rows.append(dict(r, split=split_of[r["name"]]))
        for c in range(copies if repeat and r["name"].startswith(repeat) and split_of[r["name"]] == "train" else 0):
            twin = f"images/x{c + 2}_" + Path(r["name"]).name
            if not (out / twin).exists():
                os.link(work / src / r["name"], out / twin)
            rows.append(dict(r, name=twin, split="train"))
    new = []
    for part, prefix in parts:
        new += link_into(out, work / part, read_rows(work / part / "labels.csv"), prefix)
    if new_split is not None:
        rows += [dict(r, split=new_split) for r in new]
    else:
        groups = _assign_splits([r.get("group") or r["name"] for r in new], seed, fractions)
        rows += [dict(r, split=groups[r.get("group") or r["name"]]) for r in new]
    write_rows(out / "labels.csv", rows)
    print(f"{dst}: {len(rows) - len(new)} rows of {src} (splits kept) + {len(new)} new rows")
    return out


HC18_CREDIT = ("HC18 (CC BY 4.0): T. L. A. van den Heuvel, D. de Bruijn, C. L. de Korte, B. van Ginneken, "
               "PLoS ONE 13(8): e0200412, 2018; doi 10.5281/zenodo.1327317")


def _pydicom_data_credit() -> str:
    from train.nonfetal_real import FILES, FILES8

    return "pydicom-data 1.0 test files (MIT licence, the pydicom project): " + ", ".join(FILES + FILES8)


def install(model: Path, checks: Path | None, work: Path, dest: Path, name: str = "fuiqa-rt160-real6") -> None:
    """Record what the model was trained on (and its real checks) in its metadata and install it
    atomically as the default model (modelpack.save writes a temp file, re-loads it, then renames)."""
    from engine import modelpack

    pkg = modelpack.load(model)
    hc = json.loads((work / "hc18" / "DONE").read_text())
    meta = dict(pkg.meta)
    meta["name"] = name
    meta["synthetic_training_data"] = False
    meta["training_data"] = {
        "short": f"SYNTHETIC + {hc['n_frames']} REAL HC18 HEAD FRAMES",
        "long": (f"synthetic images (plain fans, screen captures, real-style frames incl. a 4CH heart, fans with "
                 f"shadow / lift-off maps for the heatmap, non-fetal ultrasound (an adult heart and abdomen: no "
                 f"fetal plane), non-ultrasound frames: noise, photos, phantoms, other modalities) + {hc['n_frames']} "
                 "real HC18 fetal head frames (GE Voluson) with controlled degradations and tile-shuffled decoys "
                 "+ five real NON-fetal scans of pydicom-data (a lymph node, a pelvis, an empty fan, an adult echo, "
                 "a colour-Doppler vessel; plane none); fine-tuned from the synthetic model in seven rounds. Abdomen, femur and 4CH were learnt from "
                 "synthetic images only."),
        "hc18": {**hc, "split": "train part of sha1(name) % 4 != 0; the dev quarter never trained on"},
        "teacher": "SonoNet-16 (Apache-2.0, Baumgartner et al. 2017): brain-plane probability scores the HC18 anchors",
        "attribution": HC18_CREDIT,
        "real_nonfetal": _pydicom_data_credit(),
    }
    if checks and checks.exists():
        rc = json.loads(checks.read_text())
        meta["real_checks"] = [{k: c.get(k) for k in ("name", "value", "ci95", "target", "pass", "n", "note")}
                               for c in rc.get("checks", [])]
    import train_default as TD

    meta["real_frames"] = TD.real_frames(model)  # photos, CT, MR, adult echo, black, snow, demo sweep (pinned by tests)
    modelpack.save(dest, meta, pkg.onnx, pkg.weights)
    print(f"installed {model} as {dest}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="runs/real")
    ap.add_argument("--n", type=int, default=12000)
    ap.add_argument("--screen", type=int, default=3000)
    ap.add_argument("--neg", type=int, default=1200)
    ap.add_argument("--style", type=int, default=4000)
    ap.add_argument("--per-factor", type=int, default=2)
    ap.add_argument("--maps", type=int, default=2500, help="synthetic images with artefact maps, per style (plain, real)")
    ap.add_argument("--neg2", type=int, default=1500, help="phantom / dead-leaves photo / other-modality frames")
    ap.add_argument("--config", default=str(ROOT / "tools" / "real_model.json"))
    ap.add_argument("--data-only", action="store_true")
    ap.add_argument("--install", metavar="MODEL", help="record training data + checks, install as the default model")
    ap.add_argument("--name", default="fuiqa-rt160-real6", help="the installed model's name")
    ap.add_argument("--config2", default=str(ROOT / "tools" / "real2_model.json"),
                    help="the second round (after --config's): fine-tunes the first round's model with the maps and neg2 parts")
    ap.add_argument("--config3", default=str(ROOT / "tools" / "real3_model.json"),
                    help="the third round: fine-tunes round 2 with attention on the required structures (w_struct)")
    ap.add_argument("--config4", default=str(ROOT / "tools" / "real4_model.json"),
                    help="the fourth round: fine-tunes round 3 on all4 (all + SYNTHETIC non-fetal ultrasound, splits kept)")
    ap.add_argument("--config5", default=str(ROOT / "tools" / "real5_model.json"),
                    help="the fifth round: fine-tunes round 4b on all4b at a lower learning rate")
    ap.add_argument("--config6", default=str(ROOT / "tools" / "real6f_model.json"),
                    help="the sixth round: fine-tunes round 5 on all6 (all4b + REAL non-fetal ultrasound, train only)")
    ap.add_argument("--config8", default=str(ROOT / "tools" / "real8j_model.json"),
                    help="the eighth round: fine-tunes round 6 on all8 (all6 + two more REAL non-fetal scans, train only)")
    ap.add_argument("--real-nonfetal8", type=int, default=1000,
                    help="frames of round 8's real non-fetal scans (train/nonfetal_real.FILES8; 0: no round 8)")
    ap.add_argument("--real-nonfetal", type=int, default=1500,
                    help="frames of pydicom-data's real non-fetal scans (train/nonfetal_real.py; 0: no round 6)")
    ap.add_argument("--nonfetal", default="800,1200",
                    help="non-fetal ultrasound scenes: screen captures,real-style frames (0: no round 4)")
    ap.add_argument("--checks", default=str(ROOT / "bench" / "results" / "real_checks.json"))
    a = ap.parse_args(argv)
    work = Path(a.work)
    if a.install:
        from engine.modelpack import default_model_path

        install(Path(a.install), Path(a.checks), work, default_model_path(), a.name)
        return 0
    import train_default as TD

    TD.make_set(work / "synth", a.n, a.screen, a.neg, 1000, 1)
    if not (work / "style" / "labels.csv").exists():
        TD.fuiqa("synth", work / "style", "--n", a.style, "--seed", 1100, "--style", "real",
                 "--planes", "head,abdomen,femur,4CH", "--workers", 1, "--no-progress")
    print(build_hc18(work / "hc18", a.per_factor), flush=True)
    # second round (fuiqa-rt160-real2): per-cell heatmap supervision and more non-ultrasound frames
    for part, seed, style in (("maps_plain", 1200, "plain"), ("maps_style", 1201, "real")):
        if a.maps and not (work / part / "labels.csv").exists():
            TD.fuiqa("synth", work / part, "--n", a.maps, "--seed", seed, "--maps", "--style", style, "--no-progress")
    if a.neg2 and not (work / "neg2" / "labels.csv").exists():
        from train.negatives_real import write_negatives as write_negatives2

        write_rows(work / "neg2" / "labels.csv", write_negatives2(work / "neg2", a.neg2, seed=1300))
    data = combine(work)
    # fourth round (fuiqa-rt160-real3): ultrasound that shows no fetal plane (an adult heart, abdomen)
    n_nonfetal = [int(v) for v in str(a.nonfetal).split(",")] if a.nonfetal not in ("0", "") else []
    for (part, _), n, seed, style in zip(NONFETAL_PARTS, n_nonfetal, (1400, 1401), ("--screen", "--style=real")):
        if not (work / part / "labels.csv").exists():
            TD.fuiqa("synth", work / part, "--n", n, "--seed", seed, "--planes", "adult_heart,adult_abdomen",
                     style, "--no-progress")
    data4 = (work / "all4") if n_nonfetal else None
    if data4 is not None and not (data4 / "labels.csv").exists():
        extend_keeping_splits(work)
    if a.data_only:
        return 0
    if data4 is not None and not (work / "all4b" / "labels.csv").exists():
        extend_keeping_splits(work, dst="all4b", repeat="images/syn_")
    data4b = (work / "all4b") if data4 is not None else None
    data6 = (work / "all6") if data4b is not None and a.real_nonfetal else None
    if data6 is not None and not (data6 / "labels.csv").exists():
        from train.nonfetal_real import write_real_nonfetal

        if not (work / "nonfetal_real" / "labels.csv").exists():
            write_real_nonfetal(work / "nonfetal_real", a.real_nonfetal, seed=1500)
        extend_keeping_splits(work, src="all4b", dst="all6", parts=(("nonfetal_real", "nfr"),), new_split="train")
    data8 = (work / "all8") if data6 is not None and a.real_nonfetal8 else None
    if data8 is not None and not (data8 / "labels.csv").exists():
        from train.nonfetal_real import FILES8, write_real_nonfetal

        if not (work / "nonfetal_real8" / "labels.csv").exists():
            write_real_nonfetal(work / "nonfetal_real8", a.real_nonfetal8, seed=1501, files=FILES8)
        extend_keeping_splits(work, src="all6", dst="all8", parts=(("nonfetal_real8", "nf8"),), new_split="train")
    rounds = ((work / "model", a.config, data), (work / "model2", a.config2, data), (work / "model3", a.config3, data),
              (work / "model4", a.config4, data4), (work / "model4b", a.config4, data4b),
              (work / "model5c", a.config5, data4b), (work / "model6f", a.config6, data6),
              (work / "model8j", a.config8, data8))
    for out, config, data in rounds:  # round 1, 2, 3, 4: each fine-tunes the one before
        if data is None:
            continue
        if (out / "model.fuiqa").exists():
            continue
        cmd = [sys.executable, "-m", "app.cli", "train", str(data), "--out", str(out), "--config", config]
        print("$", " ".join(cmd), flush=True)
        rc = subprocess.run(cmd, cwd=ROOT).returncode
        if rc:
            return rc
    for run, refit_dir, data_r in (("model6f", "refit6", data6), ("model8j", "refit8j", data8)):
        _refit_without_real_nonfetal(work / run / "model.fuiqa", work / refit_dir / "excl.fuiqa", data_r)
    return 0


def _refit_without_real_nonfetal(model: Path, excl: Path, data: Path | None) -> None:
    """``model``'s density refit on ``data`` with the real non-fetal rows left out, written to ``excl``."""
    if data is not None and model.exists() and not excl.exists():
        from refit_density import refit

        excl.parent.mkdir(parents=True, exist_ok=True)
        refit(model, data, excl, exclude_kinds=("real_nonfetal",))


if __name__ == "__main__":
    raise SystemExit(main())
