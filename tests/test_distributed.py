"""GCC under torch.distributed (gloo, 2 CPU processes): the gathered loss and gradients equal the
single-process ones on the same data."""
import os
import time
from datetime import timedelta

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from train.losses import GCCLoss, NormInNormLoss

#: no rank may hang the suite: the rendezvous and collectives time out, and so does the whole group
GROUP_TIMEOUT = timedelta(seconds=120)


def run_ranks(fn, args, nprocs=2, timeout_s=300.0):
    """torch.multiprocessing.start_processes with a deadline: the ranks are killed if they are not
    done in ``timeout_s`` (a hung gloo collective would otherwise block forever)."""
    ctx = mp.start_processes(fn, args=args, nprocs=nprocs, join=False, start_method="spawn")
    deadline = time.monotonic() + timeout_s
    try:
        while not ctx.join(timeout=1.0):
            if time.monotonic() > deadline:
                pytest.fail(f"{fn.__name__}: ranks still running after {timeout_s:.0f} s")
    finally:
        for p in ctx.processes:
            if p.is_alive():
                p.kill()
                p.join(5)


def _data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(12, 3, generator=g, dtype=torch.float64)
    y = torch.rand(12, generator=g, dtype=torch.float64) * 100
    w = torch.tensor([10.0, -4.0, 2.0], dtype=torch.float64)
    return x, y, w


def _loss_and_grad(loss_fn, x, y, w):
    w = w.clone().requires_grad_(True)
    pred = 50 + x @ w
    loss = loss_fn(pred, y)
    loss.backward()
    return float(loss.detach()), w.grad.clone()


def _worker(rank, world, init, out_dir, sizes):
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world, timeout=GROUP_TIMEOUT)
    try:
        x, y, w = _data()
        # uneven shards (7 + 5) exercise the padding path of the gather
        lo = sum(sizes[:rank])
        xs, ys = x[lo : lo + sizes[rank]], y[lo : lo + sizes[rank]]
        res = {}
        for name, fn in (("gcc", GCCLoss(w_mae=0.5, tau=2.0)), ("nin", NormInNormLoss())):
            loss, grad = _loss_and_grad(fn, xs, ys, w)
            dist.all_reduce(grad)  # what DDP does (sum / world)
            grad /= world
            res[name] = (loss, grad)
        torch.save(res, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("sizes", [(6, 6), (7, 5)])
def test_gathered_gcc_equals_single_process(tmp_path, sizes):
    world = 2
    init = f"file://{tmp_path / 'rendezvous'}"
    run_ranks(_worker, (world, init, str(tmp_path), sizes), nprocs=world, timeout_s=180)
    x, y, w = _data()
    for name, fn in (("gcc", GCCLoss(w_mae=0.5, tau=2.0, gather=False)), ("nin", NormInNormLoss(gather=False))):
        ref_loss, ref_grad = _loss_and_grad(fn, x, y, w)
        for r in range(world):
            loss, grad = torch.load(tmp_path / f"rank{r}.pt")[name]
            assert loss == pytest.approx(ref_loss, abs=1e-10), (name, r)
            torch.testing.assert_close(grad, ref_grad, rtol=1e-8, atol=1e-10)
        # and it is not what a per-rank (non-gathered) loss would give
        per_rank = fn(50 + x[: sizes[0]] @ w, y[: sizes[0]])
        assert abs(float(per_rank) - ref_loss) > 1e-4


def _fit_worker(rank, world, init, out_dir):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from test_trainer import SMALL, _prepared

    from train.trainer import TrainConfig, fit

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world, timeout=GROUP_TIMEOUT)
    try:
        events = []
        r = fit(_prepared(32, 8, 8), out_dir, TrainConfig(**{**SMALL, "epochs": 2, "eval_boot": 0, "num_threads": 1}),
                progress=events.append, write_model=True)
        torch.save({"history": r.history, "metrics": r.metrics, "events": [e["event"] for e in events]},
                   os.path.join(out_dir, f"fit{rank}.pt"))
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_trainer_runs_under_two_gloo_ranks(tmp_path):
    from engine import modelpack

    init = f"file://{tmp_path / 'rendezvous_fit'}"
    run_ranks(_fit_worker, (2, init, str(tmp_path)), nprocs=2, timeout_s=600)
    r0, r1 = (torch.load(tmp_path / f"fit{r}.pt", weights_only=False) for r in (0, 1))
    assert len(r0["history"]) == 2
    for a, b in zip(r0["history"], r1["history"]):
        assert a["val_srcc"] == pytest.approx(b["val_srcc"], abs=1e-6)  # ranks agree (same weights)
    assert r0["metrics"]["srcc"] == pytest.approx(r1["metrics"]["srcc"], abs=1e-6)
    assert r0["events"][0] == "start" and r0["events"][-1] == "done"
    assert r1["events"] == []  # only rank 0 reports progress
    pkg = modelpack.load(tmp_path / "model.fuiqa")  # written once, by rank 0
    assert pkg.trained and pkg.meta["metrics"]["n"] == 8
