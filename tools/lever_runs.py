"""What each real-domain lever adds (issue 10, deliver 2): four short fine-tunes of the synthetic model,
identical except for one lever, each checked on the real HC18 dev split and the synthetic held-out set.

    .venv/bin/python tools/lever_runs.py --work runs/levers            # build, train, check (~1 h on 1 CPU)
    .venv/bin/python tools/lever_runs.py --work runs/levers --report   # the table from the runs' checks

Runs (same seed, same synthetic subset, 2 epochs from runs/real/base.fuiqa, the real model's recipe):
  full        synthetic 3,000 + (a) real-style synthetic 1,500 + (b) HC18 train frames (6,552 rows) with
              (c) SonoNet-16's brain-plane probability in the anchor labels;
  no_style    without (a);
  no_hc18     without (b) (and so without (c));
  no_teacher  with (a) and (b) but every anchor at the teacher-free score (train.real_set.anchor_score(None)),
              its degradations scaled alike.
Data: the rows of runs/real/all (tools/train_real.py --data-only makes it); nothing is copied (the
images folder is a symlink). Checks: bench/bench_real.py --parts hc18,synthetic --ladder-frames 40 per run (all 173 dev frames;
ladders on 40 of them).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))
RUNS = ("full", "no_style", "no_hc18", "no_teacher")


def subsets(all_rows: list[dict], seed: int = 0, n_syn: int = 3000, n_sty: int = 1500) -> dict:
    from train.real_set import anchor_score

    rng = np.random.default_rng(seed)
    syn = [r for r in all_rows if r["name"].startswith("images/syn_")]
    sty = [r for r in all_rows if r["name"].startswith("images/sty_")]
    real = [r for r in all_rows if r["name"].startswith("images/real_")]
    syn = [syn[i] for i in np.sort(rng.permutation(len(syn))[:n_syn])]
    sty = [sty[i] for i in np.sort(rng.permutation(len(sty))[:n_sty])]
    flat = anchor_score(None)
    anchors = {r["group"]: float(r["mos"]) for r in real if r.get("kind") == "anchor"}
    no_t = []
    for r in real:
        r = dict(r)
        if r.get("kind") in ("anchor", "degraded"):  # degraded = anchor·(1 − drop): scales with its anchor
            r["mos"] = f"{float(r['mos']) * flat / anchors[r['group']]:.2f}"
        no_t.append(r)
    return {"full": syn + sty + real, "no_style": syn + real, "no_hc18": syn + sty, "no_teacher": syn + sty + no_t}


def write_set(d: Path, rows: list[dict], images: Path) -> None:
    d.mkdir(parents=True, exist_ok=True)
    if not (d / "images").exists():
        os.symlink(images.resolve(), d / "images")
    from train_real import write_rows

    write_rows(d / "labels.csv", rows)


def report(work: Path) -> str:
    want = ("HC ≥ 150 mm: share scoring ≥ 60", "HC ≥ 150 mm: median score", "ladders: mean Spearman",
            "tile-shuffled decoy", "plane 'head'", "synthetic held-out SRCC")
    lines = ["| run | " + " | ".join(want) + " |", "| --- |" + " --- |" * len(want)]
    out = {}
    for run in RUNS:
        p = work / run / "checks.json"
        if not p.exists():
            continue
        checks = json.loads(p.read_text())["checks"]
        vals = []
        for w in want:
            c = next((c for c in checks if w in c["name"]), None)
            vals.append("—" if c is None or c.get("value") is None else f"{c['value']:.3f}")
        out[run] = dict(zip(want, vals))
        lines.append(f"| {run} | " + " | ".join(vals) + " |")
    (work / "levers.json").write_text(json.dumps(out, indent=1))
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("runs/levers"))
    ap.add_argument("--real", type=Path, default=Path("runs/real"))
    ap.add_argument("--runs", default=",".join(RUNS))
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--report", action="store_true")
    a = ap.parse_args(argv)
    if a.report:
        print(report(a.work))
        return 0
    with open(a.real / "all" / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    sets = subsets(rows)
    cfg = json.loads((ROOT / "tools" / "real_model.json").read_text())
    cfg.update(epochs=a.epochs, init_from=str(a.real / "base.fuiqa"), patience=a.epochs)
    for run in a.runs.split(","):
        d = a.work / run
        write_set(d / "data", sets[run], a.real / "all" / "images")
        (d / "config.json").write_text(json.dumps(cfg, indent=1))
        model = d / "model" / "model.fuiqa"
        if not model.exists():
            subprocess.run([sys.executable, "-m", "app.cli", "train", str(d / "data"), "--out", str(d / "model"),
                            "--config", str(d / "config.json")], cwd=ROOT, check=True)
        if not (d / "checks.json").exists():
            subprocess.run([sys.executable, "bench/bench_real.py", "--model", str(model), "--parts", "hc18,synthetic",
                            "--ladder-frames", "40", "--json", str(d / "checks.json")], cwd=ROOT, check=True)
    print(report(a.work))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
