"""Training step throughput on CPU: memory layout (NCHW vs channels_last) x torch threads x input size.

    .venv/bin/python bench/bench_train_step.py [--steps 30] [--json bench/results/train_step.json]

One step is what the trainer does per batch of 32: augment (train.trainer.augment), forward, the GCC
loss (train.losses), backward, gradient clipping and an AdamW step, on random inputs. Each setting runs
in its own process (torch's thread count is per process) after 3 warm-up steps. Prints a table of
samples/s and writes JSON. Run it on an otherwise idle machine: a second busy process on a 2-core
machine halves (or worse) every number.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one(layout: str, threads: int, size: int, batch: int, steps: int) -> dict:
    import torch

    sys.path.insert(0, str(ROOT))
    from engine.model import build_model
    from train.losses import make_loss
    from train.trainer import TrainConfig, augment, to_model_input

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = build_model("rt", "mqf", size)
    if layout == "channels_last":
        model = model.to(memory_format=torch.channels_last)
    loss_fn = make_loss("gcc")
    opt = torch.optim.AdamW(model.parameters(), 1e-3)
    cfg = TrainConfig(mixing="none")
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(batch, 1, size, size)
    y = torch.rand(batch) * 100

    def step():
        pred = model(to_model_input(augment(x, cfg, gen)))[0]
        loss = loss_fn(pred, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()

    for _ in range(3):
        step()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    dt = time.perf_counter() - t
    return {"layout": layout, "threads": threads, "input_size": size, "batch": batch, "steps": steps,
            "samples_per_s": round(steps * batch / dt, 1), "ms_per_step": round(1000 * dt / steps, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--sizes", default="128,160")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "train_step.json")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # layout,threads,size: run one setting, print JSON
    a = ap.parse_args()
    if a.one:
        layout, th, size = a.one.split(",")
        print(json.dumps(one(layout, int(th), int(size), a.batch, a.steps)))
        return 0
    rows = []
    for size in map(int, a.sizes.split(",")):
        for th in map(int, a.threads.split(",")):
            for layout in ("nchw", "channels_last"):
                p = subprocess.run([sys.executable, __file__, "--one", f"{layout},{th},{size}", "--steps", str(a.steps),
                                    "--batch", str(a.batch)], capture_output=True, text=True, check=True)
                rows.append(json.loads(p.stdout.strip().splitlines()[-1]))
    print(f"{'input':>5s} {'threads':>7s} {'layout':>14s} {'samples/s':>10s} {'ms/step':>8s} {'vs nchw':>8s}")
    base = {}
    for r in rows:
        key = (r["input_size"], r["threads"])
        if r["layout"] == "nchw":
            base[key] = r["samples_per_s"]
        r["speedup_vs_nchw"] = round(r["samples_per_s"] / base[key], 2)
        print(f"{r['input_size']:5d} {r['threads']:7d} {r['layout']:>14s} {r['samples_per_s']:10.1f} "
              f"{r['ms_per_step']:8.1f} {r['speedup_vs_nchw']:7.2f}x")
    a.json.parent.mkdir(parents=True, exist_ok=True)
    import torch

    a.json.write_text(json.dumps({"torch": torch.__version__, "batch": a.batch, "results": rows}, indent=2))
    print(f"wrote {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
