"""The trainer: labelled images -> a validated ``.fuiqa`` model package.

    train(data_root, out_dir, config) ->
      1. load labels (train.data.load_labelled), read each image once, find its ROI once
         (engine.roi.find_roi), preprocess once (engine.preprocess.preprocess — the scoring path) and
         cache the model inputs in memory as uint8 (exactly recoverable: preprocess quantises to 8 bit);
      2. per epoch: (re)cluster for CMX on the model's features after a warm-up, draw batches
         (stratified over clusters for CMX, random otherwise; ``epoch_batches``), append pseudo-samples
         to each batch (``batch_forward``), augment (mild, label-neutral:
         gain ±6 %, speckle-like multiplicative noise, rotation ±5°, scale ±5 %, no flips), AdamW step
         with a warm-up + cosine schedule; validation SRCC/PLCC; early stopping on validation SRCC
         (best weights kept); an atomic checkpoint (weights, optimizer, scheduler, RNG, history);
      3. at the end: the best weights are evaluated on the test split, packaged with
         engine.export.package_model (ONNX checked against torch, atomic write) into
         ``out_dir/model.fuiqa`` and the metrics written to ``out_dir/metrics.json``.

Resume: when ``out_dir/checkpoint.pt`` exists and was made with the same config and data, training
continues after the last completed epoch (``resume="auto"``, the default). Each epoch's randomness is
derived from (seed, epoch), so a resumed run follows the same path as an uninterrupted one.

Stop: ``should_stop()`` is polled every step; a stop leaves the last checkpoint and any existing model
untouched. Distributed: under ``torchrun`` (env RANK/WORLD_SIZE) the same code runs with
DistributedDataParallel (gloo on CPU, nccl on GPU): every rank builds the same global batch and
trains on its slice; GCC gathers predictions and labels from all ranks with gradients.
"""
from __future__ import annotations

import json
import math
import random
import time
from pathlib import Path
from typing import Callable

import numpy as np

from . import metrics as M
from .augment import augment  # noqa: F401  (re-exported: train.trainer.augment)
from .cells import CellLoss
from .heads import _HeadLoss
from .losses import make_loss
from .mixing import cluster, mix_inputs, mixed_features, n_batches, plan_mix, random_batches, stratified_batches

# the trainer's API is re-exported here (train.trainer.X), its parts live in their own modules
from .checkpoint import _atomic_save, _load_checkpoint, _set_aside, _state_copy, init_weights  # noqa: F401
from .config import TrainConfig, TrainError, TrainResult  # noqa: F401
from .distributed import _any_true, _dist, _rank_world, init_distributed_from_env  # noqa: F401
from .evaluation import (_batched, _outputs, _predict_sharded, _quick_metrics, embed, evaluate_package,  # noqa: F401
                         fit_density, head_metrics, predict, recalibrate_bn, split_settings)
from .prepared import (Prepared, Split, _generator_info, find_roi_box, head_targets, input_to_u8,  # noqa: F401
                       prepare, prepare_items, to_model_input, u8_to_gray01)

# --------------------------------------------------------------------------------------------------
# batch construction (one epoch's batches; a batch plus its pseudo-samples through the model)


def min_batch(world: int = 1) -> int:
    """Smallest batch the samplers make (a shorter tail is merged): 3 for the correlation terms, and
    at least one sample per rank."""
    return max(3, int(world))


def mix_ramp(config: TrainConfig, epoch: int) -> float:
    """Share of ``mix_share`` in force at ``epoch`` (any mixing): 0 during the ``cmx_start`` warm-up
    epochs, then a linear ramp to 1 over ``cmx_ramp`` epochs."""
    if config.mixing == "none" or epoch < config.cmx_start:
        return 0.0
    return float(min(1.0, (epoch - config.cmx_start + 1) / max(1, config.cmx_ramp)))


def epoch_batches(model, tr, config: TrainConfig, epoch: int, clusters, rng, device, world: int = 1):
    """(batches, clusters, ramp) for one epoch, identical on every rank. CMX: random batches and no
    mixing during the ``cmx_start`` warm-up epochs (random-init features mean nothing), then k-means on
    the model's features (every ``recluster_every`` epochs) and cluster-stratified batches. Every
    sampler makes mixing.n_batches(n, B) batches: the count the LR schedule uses."""
    n, gb = len(tr), min(config.batch_size, len(tr))
    ramp = mix_ramp(config, epoch)
    if config.mixing == "cmx" and epoch >= config.cmx_start:
        if clusters is None or (epoch - config.cmx_start) % max(1, config.recluster_every) == 0:
            feats = embed(model, tr.x, device)
            clusters = cluster(feats, tr.y, config.k, seed=config.seed + epoch, label_weight=config.label_weight)
        return stratified_batches(clusters, gb, rng, min_batch(world)), clusters, ramp
    return random_batches(n, gb, rng, min_batch(world)), clusters, ramp


def batch_forward(ddp, model, x_all, y_all, bidx, plan, config: TrainConfig, gen, device, rank: int = 0, world: int = 1,
                  cells=None):
    """This rank's share of a batch and of its appended pseudo-samples through the model:
    (the model's outputs — score first —, labels), real samples first. Pixel mixing blends the two partner images; feature
    mixing feeds both partners and blends their fused features (mixing.mixed_features). ``cells``
    (uint8 (N, 2, g, g), train.prepared.Split.cells): then (outputs, labels, the real rows' cell maps,
    augmented like their images, float 0–1)."""
    import torch

    real = np.asarray(bidx)[rank::world]
    plan = plan.take(slice(rank, None, world))
    m = len(plan)
    gray = lambda idx: u8_to_gray01(x_all[idx])[:, None]  # noqa: E731
    x = gray(real)
    if m and config.mix_space == "pixel":
        x = torch.cat([x, mix_inputs(gray(plan.a), gray(plan.b), plan.lam).to(x.dtype)])
    elif m:
        x = torch.cat([x, gray(plan.a), gray(plan.b)])
    y = torch.from_numpy(np.concatenate([y_all[real], plan.target]).astype(np.float32))
    c = cells[real].float() / 255.0 if cells is not None else None
    if config.augment:
        x = augment(x, config, gen) if c is None else augment(x, config, gen, c)
        if c is not None:
            x, c = x
    x = to_model_input(x).to(device, non_blocking=True)
    if m and config.mix_space == "feature":
        with mixed_features(model, len(real), plan.lam):
            out = ddp(x)
    else:
        out = ddp(x)
    if cells is not None:
        return out, y.to(device), c.to(device)
    return out, y.to(device)


# --------------------------------------------------------------------------------------------------
# main loop


def fit(
    data: Prepared,
    out_dir,
    config: TrainConfig,
    progress: Callable[[dict], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    resume: str | bool = "auto",
    write_model: bool = True,
) -> TrainResult:
    """Train on prepared (cached) data; see the module docstring. ``resume``: "auto" | True | False."""
    import torch

    from engine.model import build_model

    t0 = time.time()
    out_dir = Path(out_dir)
    rank, world = _rank_world()
    is_main = rank == 0
    emit = progress if (progress and is_main) else (lambda e: None)
    should_stop = should_stop or (lambda: False)
    torch.set_num_threads(max(1, int(config.num_threads)))
    if config.device == "auto":
        device = torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else torch.device("cpu")
    else:
        device = torch.device(config.device)
    if is_main:
        out_dir.mkdir(parents=True, exist_ok=True)

    # seeded model init (same on every rank; DDP broadcasts rank 0's anyway)
    torch.manual_seed(config.seed)
    np.random.seed(config.seed)
    random.seed(config.seed)
    model = build_model(config.model, config.fusion, config.input_size)
    if config.init_from:
        init_weights(model, config.init_from)
    model = model.to(device)
    if device.type == "cpu":
        # NHWC: same math, 1.3-1.75x more samples/s per step on CPU (bench/bench_train_step.py:
        # 128 px, 1 thread, batch 32: 136 -> 191); packaging turns the weights back to contiguous
        model = model.to(memory_format=torch.channels_last)
    loss_fn = make_loss(config.loss, w_plcc=config.w_plcc, w_srcc=config.w_srcc, w_mae=config.w_mae,
                        tau=config.tau, tau_rel=config.tau_rel, queue_size=config.queue_size).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)

    tr = data.train
    n = len(tr)
    gb = min(config.batch_size, n)  # global batch
    steps_per_epoch = n_batches(n, gb, min_batch(world))  # what every sampler makes (epoch_batches)
    total = steps_per_epoch * config.epochs
    warm = max(1, int(config.warmup * total))

    def lr_lambda(step):
        if step < warm:
            return (step + 1) / warm
        p = min(1.0, (step - warm) / max(1, total - warm))
        return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * p))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda)

    ddp = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        ddp = DDP(model, device_ids=[device.index] if device.type == "cuda" else None)

    # ---- resume
    ckpt_path = out_dir / "checkpoint.pt"
    key = config.key()
    start_epoch, history = 0, []
    best = {"srcc": -2.0, "epoch": -1, "state": _state_copy(model)}
    bad_epochs = 0
    clusters = None
    if resume and ckpt_path.exists():
        ck = _load_checkpoint(ckpt_path)
        same = ck.get("config_key") == key and ck.get("data_hash") == data.data_hash
        if not same:
            if resume is True:
                raise TrainError(f"{ckpt_path} was made with another config or data set; remove it or use another --out")
        else:
            try:
                model.load_state_dict(ck["model"])
                opt.load_state_dict(ck["optimizer"])
                sched.load_state_dict(ck["scheduler"])
                start_epoch, history = ck["epoch"] + 1, ck["history"]
                best = ck["best"]
                bad_epochs = ck["bad_epochs"]
                clusters = ck.get("clusters")
                if hasattr(loss_fn, "load_queue_state"):  # the GCC queue: a resumed run sees the same correlation
                    loss_fn.load_queue_state(ck.get("gcc_queue"))
                torch.set_rng_state(ck["rng"]["torch"])
            except Exception as e:  # noqa: BLE001 - a damaged checkpoint must not become a traceback
                _set_aside(ckpt_path, f"does not fit this model ({type(e).__name__}: {e})")
            emit({"event": "resume", "epoch": start_epoch, "checkpoint": str(ckpt_path)})

    mixcfg = config.mix_config()
    emit({"event": "start", "epochs": config.epochs, "start_epoch": start_epoch, "steps_per_epoch": steps_per_epoch,
          "n_train": n, "n_val": len(data.val), "n_test": len(data.test), "world_size": world,
          "device": str(device), "config": config.to_dict()})

    x_all = torch.from_numpy(tr.x)  # uint8 (N,S,S), CPU
    y_all = tr.y
    heads = _HeadLoss(tr, config, model)
    cell_loss = CellLoss(tr, config)
    cells_all = torch.from_numpy(tr.cells) if cell_loss.on else None
    stopped = False
    epoch = start_epoch
    for epoch in range(start_epoch, config.epochs):
        if bad_epochs >= config.patience:
            break
        rng = np.random.default_rng([config.seed, epoch])
        gen = torch.Generator().manual_seed(int(config.seed) * 100003 + epoch * 1009 + rank)
        # ---- batches (identical on every rank)
        batches, clusters, ramp = epoch_batches(model, tr, config, epoch, clusters, rng, device, world)
        ddp.train()
        losses = []
        for step, bidx in enumerate(batches):
            if _any_true(bool(should_stop()), device):
                stopped = True
                break
            plan = plan_mix(bidx, y_all, clusters, rng, mixcfg, ramp)  # pseudo-samples appended to the batch
            fwd = batch_forward(ddp, model, x_all, y_all, bidx, plan, config, gen, device, rank, world, cells_all)
            out, yb = fwd[0], fwd[1]
            pred = out[0]
            keep = heads.score_rows(bidx, rank, world, len(pred))
            loss = loss_fn(pred, yb) if keep is None else loss_fn(pred[keep], yb[keep])  # over real + pseudo samples
            loss = loss + heads(out, bidx, rank, world, device)
            if cell_loss.on:
                loss = loss + cell_loss(out, fwd[2], bidx, rank, world)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            sched.step()
            lv = float(loss.detach())
            if not math.isfinite(lv):
                raise TrainError(f"training diverged at epoch {epoch + 1}, step {step + 1} (loss {lv}); lower lr")
            losses.append(lv)
            emit({"event": "step", "epoch": epoch + 1, "step": step + 1, "steps": len(batches), "loss": lv,
                  "lr": sched.get_last_lr()[0]})
        if stopped:
            break
        # ---- validate, early stopping, checkpoint
        if config.bn_recal > 0:
            sel = np.random.default_rng([config.seed, epoch, 7]).permutation(n)[: config.bn_recal]
            recalibrate_bn(model, tr.x[np.sort(sel)], device)
        vpred = _predict_sharded(model, data.val.x, device)
        vm = _quick_metrics(vpred, data.val.y)
        improved = vm["srcc"] > best["srcc"] + 1e-4
        if improved:
            best = {"srcc": vm["srcc"], "epoch": epoch, "state": _state_copy(model)}
            bad_epochs = 0
        else:
            bad_epochs += 1
        rec = {"epoch": epoch + 1, "epochs": config.epochs, "train_loss": float(np.mean(losses)) if losses else float("nan"),
               "val_srcc": vm["srcc"], "val_plcc": vm["plcc"], "val_rmse": vm.get("rmse"), "best_epoch": best["epoch"] + 1,
               "seconds": round(time.time() - t0, 1)}
        history.append(rec)
        if is_main:
            _atomic_save({"config_key": key, "config": config.to_dict(), "data_hash": data.data_hash, "epoch": epoch,
                          "model": _state_copy(model), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                          "best": best, "bad_epochs": bad_epochs, "history": history, "clusters": clusters,
                          "gcc_queue": loss_fn.queue_state() if hasattr(loss_fn, "queue_state") else None,
                          "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
                                  "python": random.getstate()}}, ckpt_path)
        emit({"event": "epoch", **rec})
    else:
        epoch = config.epochs - 1
    if not stopped and _any_true(bool(should_stop()), device):  # a stop after the last epoch: still no model
        stopped = True

    if stopped:
        emit({"event": "stopped", "epoch": epoch + 1, "checkpoint": str(ckpt_path) if ckpt_path.exists() else None})
        return TrainResult(out_dir, None, {}, best["epoch"] + 1, best["srcc"], len(history), True, history,
                           time.time() - t0)

    # ---- final: best weights, test metrics, feature density, package
    model.load_state_dict(best["state"])
    tpred = _predict_sharded(model, data.test.x, device)
    test = M.evaluate(tpred, data.test.y, n_boot=config.eval_boot if is_main else 0, seed=config.seed,
                      groups=data.test.groups)
    test = {**test, "split": "test", "val_srcc": best["srcc"], "best_epoch": best["epoch"] + 1,
            "n_train": len(data.train), "n_val": len(data.val)}
    extra_meta = {}
    if model.cfg.heads:
        test.update(head_metrics(model, data.test, device))
        extra_meta["ood"] = fit_density(model, data, device, seed=config.seed)
    model_path = out_dir / "model.fuiqa" if write_model else None
    if write_model and should_stop():  # stopped while testing: no model either
        emit({"event": "stopped", "epoch": epoch + 1, "checkpoint": str(ckpt_path) if ckpt_path.exists() else None})
        return TrainResult(out_dir, None, {}, best["epoch"] + 1, best["srcc"], len(history), True, history,
                           time.time() - t0)
    if is_main:
        from engine.modelpack import atomic_write_bytes

        if write_model:
            from engine.export import package_model

            model.cpu().eval().to(memory_format=torch.contiguous_format)
            package_model(
                model, model_path, trained=True, name=config.name or f"fuiqa-{config.model}-{config.fusion}",
                synthetic_training_data=data.synthetic, data_hash=data.data_hash, metrics=test,
                train_config=config.to_dict(), generator=data.generator, **extra_meta,
            )
            model.to(device)
        atomic_write_bytes(out_dir / "metrics.json", json.dumps(M.json_safe(
            {"test": test, "history": history, "data": str(data.root), "data_hash": data.data_hash,
             "synthetic": data.synthetic, "config": config.to_dict(), "seconds": round(time.time() - t0, 1)}),
            indent=2, default=float).encode())
    emit({"event": "done", "model": str(model_path) if model_path else None, "metrics": test})
    return TrainResult(out_dir, model_path, test, best["epoch"] + 1, best["srcc"], len(history), False, history,
                       time.time() - t0)


def train(data_root, out_dir, config: TrainConfig | None = None, progress=None, should_stop=None,
          resume: str | bool = "auto") -> TrainResult:
    """Labelled folder -> ``out_dir/model.fuiqa`` (+ checkpoint.pt, metrics.json); see the module docstring."""
    import torch

    config = config or TrainConfig()
    torch.set_num_threads(max(1, int(config.num_threads)))
    init_distributed_from_env()
    data = prepare(data_root, config, progress if _rank_world()[0] == 0 else None)
    return fit(data, out_dir, config, progress, should_stop, resume)


