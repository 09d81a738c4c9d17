"""Does a batch stand for the whole training set? KS distance of a batch's labels against the global
label distribution, and the cosine between the batch-PLCC gradient and the full-set PLCC gradient
(model parameters), for random, random + GCC queue, cluster-stratified and stratified + CMX batches.

    .venv/bin/python bench/cmx_batches.py [--pool DIR ...] [--n 200] [--batch 32] [--grad-epochs 4]
                                          [--ks-epochs 40] [--json bench/results/cmx_batches.json]

Data: a label-skewed subset (bench/synthsets.SKEW: 70 % of frames 60–79, like real FUIQA sets) of
synthetic images (``--pool``: folders made by ``fuiqa synth``; default: made under ``--work``).
Model states: the shipped default model (assets/models/default.fuiqa, trained) and an early one (the
same architecture trained ``--early-epochs`` epochs on the subset with MSE, no mixing), both in eval
mode (BatchNorm fixed, so batch and full-set gradients are of the same function). Clusters: k-means
on that model's pooled features (features only, as the trainer does). The full-set gradient is that
of 1 − PLCC over all n real images; a batch's is that of 1 − PLCC over its real + pseudo samples
(the queue variant: the current batch plus the detached predictions of the previous two batches).
CMX: train.mixing.plan_mix (gap-filling, appended) with train.trainer.batch_forward, no augmentation.
Prints a table, writes JSON.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.synthsets import load_split, skewed_indices, subset, synth  # noqa: E402

VARIANTS = ("random", "random + queue 64", "stratified", "stratified + CMX (feature)", "stratified + CMX (pixel)")


def _flat_grad(loss, params):
    import torch

    gs = torch.autograd.grad(loss, params, allow_unused=True)
    return torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1) for g, p in zip(gs, params)])


def full_gradient(model, x_u8, y, device, chunk: int = 64):
    """Gradient of 1 − PLCC over all images, accumulated chunk by chunk (dL/dp first, then p's backward)."""
    import torch

    from train.losses import pearson
    from train.trainer import predict, to_model_input, u8_to_gray01

    params = [p for p in model.parameters() if p.requires_grad]
    p_all = torch.from_numpy(predict(model, x_u8, device)).double().requires_grad_(True)
    loss = 1 - pearson(p_all, torch.from_numpy(np.asarray(y, np.float64)))
    (dp,) = torch.autograd.grad(loss, p_all)
    total = None
    for i in range(0, len(x_u8), chunk):
        xi = to_model_input(u8_to_gray01(torch.from_numpy(x_u8[i : i + chunk]))[:, None]).to(device)
        pi = model(xi)[0]
        g = _flat_grad((pi.double() * dp[i : i + chunk].to(device)).sum(), params)
        total = g if total is None else total + g
    return total


def batches_for(variant, n, batch, clusters, rng):
    from train.mixing import random_batches, stratified_batches

    if variant.startswith("random"):
        return random_batches(n, batch, rng)
    return stratified_batches(clusters, batch, rng)


def measure(model, tr, clusters, args, device, grad_epochs: int, ks_epochs: int) -> dict:
    import torch
    from scipy import stats

    from train.losses import pearson
    from train.mixing import MixConfig, plan_mix
    from train.trainer import TrainConfig, batch_forward

    y = tr.y.astype(np.float64)
    x_t = torch.from_numpy(tr.x)
    params = [p for p in model.parameters() if p.requires_grad]
    g_full = full_gradient(model, tr.x, y, device)
    mixcfg = MixConfig(kind="cmx", mix_share=args.mix_share, n_bins=args.n_bins)
    out = {}
    for v in VARIANTS:
        cmx = "CMX" in v
        cfg = TrainConfig(mixing="cmx" if cmx else "none", augment=False, mix_space="pixel" if "pixel" in v else "feature")
        ks, cos, sizes = [], [], []
        for epoch in range(max(grad_epochs, ks_epochs)):
            rng = np.random.default_rng([args.seed, epoch])
            bs = batches_for(v, len(y), args.batch, clusters, rng)
            queue_y, queue_p = [], []
            for bidx in bs:
                plan = plan_mix(bidx, y, clusters, rng, mixcfg) if cmx else plan_mix(bidx, y, None, rng, MixConfig(kind="none"))
                labels = np.concatenate([y[bidx], plan.target])
                if v.startswith("random + queue"):
                    labels = np.concatenate([labels, *queue_y[-2:]])
                ks.append(stats.ks_2samp(labels, y).statistic)
                sizes.append(len(labels))
                if epoch < grad_epochs:
                    pred, yb = batch_forward(model, model, x_t, y.astype(np.float32), bidx, plan, cfg, torch.Generator(), device)
                    if v.startswith("random + queue") and queue_p:
                        pred = torch.cat([pred, *[q.to(device) for q in queue_p[-2:]]])
                        yb = torch.cat([yb, *[torch.from_numpy(q.astype(np.float32)).to(device) for q in queue_y[-2:]]])
                    g = _flat_grad(1 - pearson(pred.double(), yb.double()), params)
                    cos.append(float(torch.nn.functional.cosine_similarity(g, g_full, dim=0)))
                    queue_p.append(pred[: len(bidx)].detach())
                queue_y.append(y[bidx])
        out[v] = {"ks_mean": float(np.mean(ks)), "ks_sd": float(np.std(ks)), "cos_mean": float(np.mean(cos)),
                  "cos_sd": float(np.std(cos)), "cos_median": float(np.median(cos)), "n_batches_grad": len(cos),
                  "n_batches_ks": len(ks), "labels_per_batch": float(np.mean(sizes))}
        print(f"  {v:<28} KS {out[v]['ks_mean']:.3f}  cos {out[v]['cos_mean']:+.3f} (median {out[v]['cos_median']:+.3f})", flush=True)
    return out


def early_model(tr, size, epochs, seed):
    from train.trainer import Prepared, TrainConfig, fit

    cut = max(8, len(tr) // 5)
    data = Prepared(tr, subset(tr, np.arange(cut)), subset(tr, np.arange(cut)), size, "cmx-bench")
    cfg = TrainConfig(epochs=epochs, mixing="none", loss="mse", input_size=size, seed=seed, eval_boot=0, patience=epochs + 1,
                      batch_size=32)
    import tempfile

    import torch

    from engine.model import build_model

    with tempfile.TemporaryDirectory() as d:
        r = fit(data, d, cfg, resume=False, write_model=False)
        ck = torch.load(Path(d) / "checkpoint.pt", weights_only=False)
    m = build_model("rt", "mqf", size)
    m.load_state_dict(ck["model"])
    return m.eval(), r.history[-1]["val_srcc"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pool", action="append", help="synthetic labelled folders (default: one made under --work)")
    ap.add_argument("--work", default="/tmp/fuiqa_cmx_bench")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--mix-share", type=float, default=0.25)
    ap.add_argument("--n-bins", type=int, default=8)
    ap.add_argument("--k", type=int, default=6)
    ap.add_argument("--grad-epochs", type=int, default=4)
    ap.add_argument("--ks-epochs", type=int, default=40)
    ap.add_argument("--early-epochs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", default=str(ROOT / "bench" / "results" / "cmx_batches.json"))
    args = ap.parse_args(argv)

    import torch

    from engine import modelpack
    from engine.modelpack import atomic_write_bytes
    from train.mixing import cluster
    from train.trainer import embed

    torch.set_num_threads(args.threads)
    device = torch.device("cpu")
    t0 = time.time()
    pkg = modelpack.load(modelpack.default_model_path())
    size = pkg.input_size
    pools = [Path(p) for p in args.pool] if args.pool else [synth(Path(args.work) / "pool", 1500, 101)]
    splits = [load_split(p, size)[0] for p in pools]
    xs, ys = np.concatenate([s.x for s in splits]), np.concatenate([s.y for s in splits])
    from train.trainer import Split

    pool = Split(xs, ys, [str(i) for i in range(len(ys))])
    tr = subset(pool, skewed_indices(pool.y, args.n, np.random.default_rng(args.seed)))
    print(f"{len(tr)} training images from a pool of {len(pool)} ({time.time() - t0:.0f} s); label bands "
          f"<60 / 60-79 / >=80: {np.mean(tr.y < 60):.2f} / {np.mean((tr.y >= 60) & (tr.y < 80)):.2f} / {np.mean(tr.y >= 80):.2f}",
          flush=True)
    torch.manual_seed(args.seed)
    early, early_srcc = early_model(tr, size, args.early_epochs, args.seed)
    states = {"default model (trained)": modelpack.torch_model(pkg, "cpu").eval(),
              f"early ({args.early_epochs} epochs MSE on the subset)": early}
    results = {}
    for name, model in states.items():
        model = model.float().eval()
        feats = embed(model, tr.x, device)
        clusters = cluster(feats, None, args.k, seed=args.seed)
        print(f"{name}: clusters of sizes {np.bincount(clusters).tolist()}", flush=True)
        results[name] = measure(model, tr, clusters, args, device, args.grad_epochs, args.ks_epochs)
    lines = [f"| model state | batches | labels/batch | KS vs global | cos(batch, full-set PLCC gradient) |", "|---|---|---|---|---|"]
    for name, res in results.items():
        for v, r in res.items():
            lines.append(f"| {name} | {v} | {r['labels_per_batch']:.1f} | {r['ks_mean']:.3f} ± {r['ks_sd']:.3f} | "
                         f"{r['cos_mean']:+.3f} ± {r['cos_sd']:.3f} (median {r['cos_median']:+.3f}) |")
    print("\n".join(lines))
    payload = {"settings": {**vars(args), "pools": [str(p) for p in pools], "input_size": size,
                            "early_val_srcc_on_subset_slice": early_srcc},
               "results": results, "table_md": "\n".join(lines), "seconds": round(time.time() - t0, 1)}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(Path(args.json), json.dumps(payload, indent=1).encode())
    print(f"wrote {args.json} ({payload['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
