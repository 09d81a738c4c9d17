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

import copy
import hashlib
import io
import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable

import numpy as np

from engine.preprocess import MEAN, STD, preprocess

from . import metrics as M
from .losses import LOSSES, make_loss
from .mixing import (MIX_SPACES, MIXINGS, MixConfig, cluster, mix_inputs, mixed_features, n_batches, plan_mix,
                     random_batches, stratified_batches)


class TrainError(Exception):
    """Training cannot run or cannot continue (bad config, too little data, mismatched checkpoint)."""


@dataclass
class TrainConfig:
    # model
    model: str = "rt"  # "rt" | "gpu"
    fusion: str = "mqf"  # "mqf" | "last"
    input_size: int = 0  # 0: the size's own (rt 128, gpu 224); else a multiple of 32
    name: str | None = None
    # optimisation
    loss: str = "gcc"  # "gcc" | "mse" | "l1" | "nin"
    epochs: int = 30
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup: float = 0.05  # share of all steps spent in linear warm-up
    patience: int = 8  # early stopping: epochs without a better validation SRCC
    seed: int = 0
    # GCC
    w_plcc: float = 1.0
    w_srcc: float = 1.0
    w_mae: float = 1.0
    tau: float = 2.0  # soft-rank temperature in score points (used when tau_rel = 0)
    tau_rel: float = 0.2  # soft-rank temperature relative to the batch's prediction spread (scale-free)
    queue_size: int = 0
    # mixing
    mixing: str = "cmx"  # "cmx" | "mixup" | "cmixup" | "none"
    k: int = 6
    alpha: float = 0.4
    p_within: float = 1.0  # CMX: share of gap-filling pairs taken inside one cluster
    mix_share: float = 0.25  # pseudo-samples APPENDED per batch, as a share of the batch size
    sigma: float = 10.0
    recluster_every: int = 2
    label_weight: float = 0.0  # 0: CMX clusters on features only
    mix_space: str = "feature"  # "feature": blend fused MQF features | "pixel": blend the images
    cmx_start: int = 1  # CMX: epochs of warm-up (random batches, no mixing) before clustering on features
    cmx_ramp: int = 2  # epochs over which the mixing share ramps in (linearly) after cmx_start
    n_bins: int = 8  # CMX: quantile bins of the label distribution the pseudo-samples fill
    lam_clip: float = 0.1  # CMX: λ clipped to [lam_clip, 1 − lam_clip]
    # plane and criteria heads (used where labels.csv has a plane / the generator's criteria columns)
    w_plane: float = 0.2
    w_criteria: float = 0.2
    # start from the weights of a packaged model (fine-tuning; heads it lacks start fresh)
    init_from: str | None = None
    # augmentation (on the model input; mild so the label still holds)
    augment: bool = True
    aug_gain: float = 0.06
    aug_speckle: float = 0.05
    aug_rotate: float = 5.0
    aug_scale: float = 0.05
    # data
    split_seed: int = 0
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)
    min_train: int = 8
    min_eval: int = 2
    skip_bad: bool = False
    # runtime
    num_threads: int = 1  # 2 OMP threads ran ~10x slower per step whenever another process shared the 2 cores
    device: str = "auto"  # "auto" | "cpu" | "cuda"
    eval_boot: int = 1000  # bootstrap resamples for the test metrics' 95% CIs
    bn_recal: int = 512  # clean training images used to re-estimate BatchNorm statistics before each validation

    def __post_init__(self):
        self.fractions = tuple(float(f) for f in self.fractions)
        problems = []
        if self.model not in ("rt", "gpu"):
            problems.append(f"model must be 'rt' or 'gpu', not {self.model!r}")
        if self.fusion not in ("mqf", "last"):
            problems.append(f"fusion must be 'mqf' or 'last', not {self.fusion!r}")
        if self.loss not in LOSSES:
            problems.append(f"loss must be one of {LOSSES}, not {self.loss!r}")
        if self.mixing not in MIXINGS:
            problems.append(f"mixing must be one of {MIXINGS}, not {self.mixing!r}")
        if self.mix_space not in MIX_SPACES:
            problems.append(f"mix_space must be one of {MIX_SPACES}, not {self.mix_space!r}")
        if self.input_size and not problems:
            from engine.model import arch  # owns the rule for input sizes (imports torch: only when set)

            try:
                arch(self.model, self.fusion, self.input_size)
            except ValueError as e:
                problems.append(str(e))
        if self.epochs < 1 or self.batch_size < 2:
            problems.append("epochs must be >= 1 and batch_size >= 2")
        if not (0 <= self.mix_share <= 1 and 0 <= self.p_within <= 1):
            problems.append("mix_share and p_within must lie in [0, 1]")
        if len(self.fractions) != 3 or abs(sum(self.fractions) - 1) > 1e-6:
            problems.append(f"fractions must be three numbers summing to 1, not {self.fractions}")
        if problems:
            raise TrainError("bad training config: " + "; ".join(problems))

    @classmethod
    def from_dict(cls, d: dict, source: str = "config") -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise TrainError(f"{source}: unknown option(s) {unknown}; known: {sorted(known)}")
        try:
            return cls(**d)
        except TypeError as e:
            raise TrainError(f"{source}: {e}") from None

    @classmethod
    def from_json(cls, path) -> "TrainConfig":
        path = Path(path)
        try:
            d = json.loads(path.read_text())
        except FileNotFoundError:
            raise TrainError(f"config file {path} does not exist") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise TrainError(f"config file {path} is not valid JSON: {e}") from None
        if not isinstance(d, dict):
            raise TrainError(f"config file {path} must hold a JSON object")
        return cls.from_dict(d, str(path))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["fractions"] = list(self.fractions)
        return d

    def key(self) -> str:
        """Hash of everything that changes the result (not threads/device/eval settings)."""
        d = self.to_dict()
        for k in ("num_threads", "device", "eval_boot", "name"):
            d.pop(k)
        if not d["input_size"]:
            d.pop("input_size")  # the default: keys (and checkpoints) from before the option still match
        if d["w_plane"] == 0.2 and d["w_criteria"] == 0.2 and not d["init_from"]:
            for k in ("w_plane", "w_criteria", "init_from"):  # defaults: older checkpoints still match
                d.pop(k)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    def mix_config(self) -> MixConfig:
        return MixConfig(kind=self.mixing, k=self.k, alpha=self.alpha, p_within=self.p_within, mix_share=self.mix_share,
                         sigma=self.sigma, recluster_every=self.recluster_every, label_weight=self.label_weight,
                         n_bins=self.n_bins, lam_clip=self.lam_clip)


@dataclass
class TrainResult:
    out_dir: Path
    model_path: Path | None  # None when stopped before the end
    metrics: dict  # test metrics ({} when stopped)
    best_epoch: int
    best_val_srcc: float
    epochs_run: int
    stopped: bool
    history: list = field(default_factory=list)
    seconds: float = 0.0


# --------------------------------------------------------------------------------------------------
# data


@dataclass
class Split:
    x: np.ndarray  # uint8 (N, S, S): the preprocessed model inputs, 8-bit gray
    y: np.ndarray  # float32 (N,) labels 0–100
    names: list[str]
    groups: list | None = None  # per-image group (patient, sweep) for the bootstrap; None: images are independent
    plane: np.ndarray | None = None  # int64 (N,) index into engine.result.PLANES; -1 = not labelled
    crit: np.ndarray | None = None  # float32 (N, len(CRITERIA)) 0/1; NaN = not labelled / not applicable

    def __len__(self):
        return len(self.y)


#: labels.csv plane names -> engine.result.PLANES (anything else: not labelled)
_PLANE_ALIASES = {"negative": "none", "background": "none", "4ch": "4CH", "brain": "head"}


def head_targets(items) -> tuple[np.ndarray, np.ndarray]:
    """Plane index and criteria targets of labelled items.

    plane: the ``plane`` column (head / abdomen / femur / 4CH / none); -1 where absent or unknown.
    criteria: the generator's ``f_structures … f_artefacts`` flags for the global criteria and, per
    structure of the item's plane, 1 unless the ``missing`` column names it; NaN where not labelled
    (a site's labels.csv with only ``mos`` trains the score alone).
    """
    from engine.result import CRITERIA, GLOBAL_CRITERIA, PLANES, STRUCTURES

    n = len(items)
    plane = np.full(n, -1, np.int64)
    crit = np.full((n, len(CRITERIA)), np.nan, np.float32)
    col = {c: i for i, c in enumerate(CRITERIA)}
    for i, it in enumerate(items):
        p = (it.plane or "").strip()
        p = _PLANE_ALIASES.get(p.lower(), p)
        if p in PLANES:
            plane[i] = PLANES.index(p)
        ex = it.extra or {}
        for g in GLOBAL_CRITERIA:
            v = str(ex.get(f"f_{g}", "")).strip()
            if v in ("0", "1"):
                crit[i, col[g]] = float(v)
        if p in STRUCTURES and ("missing" in ex or f"f_structures" in ex):
            missing = {m for m in str(ex.get("missing", "")).split(";") if m}
            for st in STRUCTURES[p]:
                crit[i, col[st]] = 0.0 if st in missing else 1.0
    return plane, crit


@dataclass
class Prepared:
    train: Split
    val: Split
    test: Split
    size: int
    data_hash: str = ""
    synthetic: bool = False
    generator: dict | None = None
    root: str = ""
    skipped: list = field(default_factory=list)


def find_roi_box(img: np.ndarray):
    """ROI box via engine.roi.find_roi (the scoring path's ROI finder); None (whole frame) until
    engine/roi.py exists."""
    try:
        from engine.roi import find_roi
    except ImportError:
        return None
    return find_roi(img).box


def input_to_u8(x: np.ndarray) -> np.ndarray:
    """Inverse of preprocess's normalisation (exact: preprocess quantises to uint8 first)."""
    return np.clip(np.rint((x * STD + MEAN) * 255.0), 0, 255).astype(np.uint8)


def u8_to_gray01(u8):
    """uint8 (…) -> float gray in [0, 1] (numpy or torch)."""
    return u8 / 255.0 if isinstance(u8, np.ndarray) else u8.float() / 255.0


def prepare_items(items, size: int, progress: Callable | None = None, what: str = "") -> Split:
    from .data import read_image

    n = len(items)
    x = np.empty((n, size, size), np.uint8)
    buf = np.empty((1, size, size), np.float32)
    for i, it in enumerate(items):
        img = read_image(it.path)
        preprocess(img, find_roi_box(img), size, out=buf)
        x[i] = input_to_u8(buf[0])
        if progress and (i % 50 == 0 or i == n - 1):
            progress({"event": "prepare", "split": what, "done": i + 1, "total": n})
    plane, crit = head_targets(items)
    return Split(x, np.array([it.mos for it in items], np.float32), [it.name for it in items],
                 [getattr(it, "group", None) for it in items], plane, crit)


def _generator_info(ds) -> dict | None:
    g = getattr(ds, "generator", None)
    if g:
        return dict(g) if isinstance(g, dict) else {"info": str(g)}
    marker = Path(ds.root) / "SYNTHETIC.txt"
    if marker.exists():
        text = marker.read_text(errors="replace")
        try:  # `fuiqa synth` writes a short text header, then its settings (seed, n, ...) as JSON
            d = json.loads(text[text.index("{"):])
            if isinstance(d, dict):
                return d
        except (ValueError, json.JSONDecodeError):
            pass
        return {"marker": text.strip()[:2000]}
    return None


def prepare(data_root, config: TrainConfig, progress: Callable | None = None) -> Prepared:
    """Load labels, read + ROI + preprocess every image once; check the splits are big enough."""
    from engine.model import arch

    from .data import load_labelled

    ds = load_labelled(data_root, skip_bad=config.skip_bad, seed=config.split_seed, fractions=config.fractions)
    tr, va, te = ds.split("train"), ds.split("val"), ds.split("test")
    if len(tr) < config.min_train or len(va) < config.min_eval or len(te) < config.min_eval:
        raise TrainError(
            f"{data_root}: too few labelled images to train: train {len(tr)} (need >= {config.min_train}), "
            f"val {len(va)}, test {len(te)} (need >= {config.min_eval} each)"
        )
    if np.ptp([it.mos for it in tr]) <= 0:
        raise TrainError(f"{data_root}: all training labels are equal ({tr[0].mos}); nothing to learn")
    size = arch(config.model, config.fusion, config.input_size).input_size
    return Prepared(
        prepare_items(tr, size, progress, "train"),
        prepare_items(va, size, progress, "val"),
        prepare_items(te, size, progress, "test"),
        size,
        ds.hash(),
        bool(ds.synthetic),
        _generator_info(ds),
        str(data_root),
        list(ds.skipped),
    )


# --------------------------------------------------------------------------------------------------
# distributed helpers


def _dist():
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist
    return None


def init_distributed_from_env() -> bool:
    """Initialise torch.distributed when launched by torchrun (RANK/WORLD_SIZE set)."""
    import torch
    import torch.distributed as dist

    if _dist() is not None:
        return True
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or "RANK" not in os.environ:
        return False
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend)
    return True


def _rank_world():
    d = _dist()
    return (d.get_rank(), d.get_world_size()) if d else (0, 1)


def _any_true(flag: bool, device) -> bool:
    d = _dist()
    if d is None:
        return flag
    import torch

    t = torch.tensor([1.0 if flag else 0.0], device=device)
    d.all_reduce(t)
    return bool(t.item() > 0)


# --------------------------------------------------------------------------------------------------
# augmentation


def augment(g, cfg: TrainConfig, gen):
    """Mild ultrasound augmentations on a batch of gray [0,1] inputs (B,1,S,S) (torch)."""
    import torch
    import torch.nn.functional as F

    B = g.shape[0]
    dev = g.device

    def u(lo, hi, *shape):
        return torch.rand(*shape, generator=gen).to(dev) * (hi - lo) + lo

    if cfg.aug_rotate > 0 or cfg.aug_scale > 0:
        ang = u(-cfg.aug_rotate, cfg.aug_rotate, B) * math.pi / 180
        s = u(1 - cfg.aug_scale, 1 + cfg.aug_scale, B)
        c, si = torch.cos(ang) / s, torch.sin(ang) / s
        zero = torch.zeros_like(c)
        theta = torch.stack([torch.stack([c, -si, zero], 1), torch.stack([si, c, zero], 1)], 1)
        grid = F.affine_grid(theta, list(g.shape), align_corners=False)
        g = F.grid_sample(g, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    if cfg.aug_gain > 0:
        g = g * u(1 - cfg.aug_gain, 1 + cfg.aug_gain, B).view(B, 1, 1, 1)
    if cfg.aug_speckle > 0:
        amp = u(0, cfg.aug_speckle, B).view(B, 1, 1, 1)
        noise = torch.randn(g.shape, generator=gen).to(dev)
        g = g * (1 + amp * noise)
    return g.clamp(0, 1)


def to_model_input(g):
    return (g - MEAN) / STD


# --------------------------------------------------------------------------------------------------
# evaluation helpers


def _batched(model, fn, x_u8: np.ndarray, device, batch: int) -> np.ndarray:
    """Run ``fn(model, inputs)`` over cached uint8 inputs (N,S,S) in eval mode, no grad."""
    import torch

    was = model.training
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(x_u8), batch):
            t = torch.from_numpy(x_u8[i : i + batch]).to(device)[:, None]
            out.append(fn(model, to_model_input(u8_to_gray01(t))).float().cpu().numpy())
    model.train(was)
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def predict(model, x_u8: np.ndarray, device, batch: int = 128) -> np.ndarray:
    """Scores for cached uint8 inputs (N,S,S)."""
    return _batched(model, lambda m, x: m(x)[0], x_u8, device, batch)


def embed(model, x_u8: np.ndarray, device, batch: int = 128) -> np.ndarray:
    """Pooled MQF features for cached uint8 inputs (N,S,S) — what CMX clusters on."""
    return _batched(model, lambda m, x: m.embed(x), x_u8, device, batch)


def recalibrate_bn(model, x_u8: np.ndarray, device, batch: int = 64) -> None:
    """Re-estimate BatchNorm running statistics on clean (un-mixed, un-augmented) inputs.

    Training batches are half pseudo-samples (mixing averages speckle away) and augmented, and the
    weights move fast under a short schedule, so the running averages lag and describe a different
    input distribution than scoring sees; measured on a 200-image set this compressed eval-mode
    scores to a sixth of their range (raw RMSE 26 vs 6 after recalibration). A forward pass over a
    few hundred clean training images (exact cumulative average) fixes it.
    """
    import torch
    import torch.nn as nn

    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns or len(x_u8) == 0:
        return
    was = model.training
    moms = [b.momentum for b in bns]
    for b in bns:
        b.reset_running_stats()
        b.momentum = None  # cumulative average
    model.train()
    with torch.no_grad():
        for i in range(0, len(x_u8), batch):
            chunk = x_u8[i : i + batch]
            if len(chunk) < 2:
                break
            t = torch.from_numpy(chunk).to(device)[:, None]
            model(to_model_input(u8_to_gray01(t)))
    for b, m in zip(bns, moms):
        b.momentum = m
    model.train(was)


def _predict_sharded(model, x_u8, device) -> np.ndarray:
    """Each rank predicts its share; all ranks get all predictions in order."""
    rank, world = _rank_world()
    if world == 1:
        return predict(model, x_u8, device)
    idx = np.arange(len(x_u8))[rank::world]
    local = predict(model, x_u8[idx], device)
    parts = [None] * world
    _dist().all_gather_object(parts, (idx, local))
    out = np.empty(len(x_u8), np.float32)
    for i, p in parts:
        out[i] = p
    return out


def _outputs(model, x_u8, device, batch: int = 128) -> dict:
    """All named outputs (engine.model.MQFNet.outputs) for cached uint8 inputs, eval mode."""
    import torch

    was = model.training
    model.eval()
    parts: dict[str, list] = {}
    with torch.no_grad():
        for i in range(0, len(x_u8), batch):
            t = torch.from_numpy(x_u8[i : i + batch]).to(device)[:, None]
            for k, v in model.outputs(to_model_input(u8_to_gray01(t))).items():
                parts.setdefault(k, []).append(v.float().cpu().numpy())
    model.train(was)
    return {k: np.concatenate(v) for k, v in parts.items()}


def head_metrics(model, split: Split, device) -> dict:
    """Plane accuracy and criteria accuracy on the labelled rows of a split."""
    if split.plane is None or not len(split):
        return {}
    o = _outputs(model, split.x, device)
    out = {}
    m = split.plane >= 0
    if m.any():
        out["plane_accuracy"] = float(np.mean(np.argmax(o["plane"][m], 1) == split.plane[m]))
        out["n_plane"] = int(m.sum())
    c = ~np.isnan(split.crit)
    if c.any():
        out["criteria_accuracy"] = float(np.mean((o["criteria"][c] >= 0.5) == (split.crit[c] >= 0.5)))
        out["n_criteria"] = int(c.sum())
    return out


def fit_density(model, data: Prepared, device, seed: int = 0, n_fit: int = 8000, quantile: float = 0.99) -> dict:
    """The "unlike the training data" check: a Gaussian on the model's pooled features (Ledoit–Wolf
    shrinkage covariance) fitted on clean training inputs, stored in the model (its ``ood`` output is
    the squared Mahalanobis distance), with the threshold at the ``quantile`` of held-out
    (validation) distances, so about 1 − quantile of in-distribution frames raise it."""
    import torch
    from sklearn.covariance import LedoitWolf

    from engine.result import PLANES

    def scans(split):  # rows that are ultrasound scans: frames labelled "none" (photos, noise…) are not
        if split.plane is None:
            return np.arange(len(split))
        return np.flatnonzero(split.plane != PLANES.index("none"))

    rng = np.random.default_rng([seed, 99])
    tr = data.train
    idx = np.sort(rng.permutation(scans(tr))[:n_fit])
    feats = _outputs(model, tr.x[idx], device)["ood_features"].astype(np.float64)
    lw = LedoitWolf().fit(feats)
    with torch.no_grad():
        model.set_density(lw.location_, lw.precision_)
    d_val = _outputs(model, data.val.x[scans(data.val)], device)["ood"]
    thr = float(np.quantile(d_val, quantile))
    return {"threshold": thr, "quantile": quantile, "n_fit": int(len(idx)), "n_calib": int(len(d_val)),
            "features": model.cfg.ood_features,
            "method": f"Mahalanobis on pooled features ({model.cfg.ood_features}), Ledoit-Wolf covariance, "
                      "threshold = val quantile"}


def _quick_metrics(pred, y) -> dict:
    try:
        m = M.compute(pred, y)
    except ValueError:
        return {"srcc": 0.0, "plcc": 0.0}
    return {"srcc": m["srcc"], "plcc": m["plcc"], "rmse": m["rmse"]}


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


def batch_forward(ddp, model, x_all, y_all, bidx, plan, config: TrainConfig, gen, device, rank: int = 0, world: int = 1):
    """This rank's share of a batch and of its appended pseudo-samples through the model:
    (the model's outputs — score first —, labels), real samples first. Pixel mixing blends the two partner images; feature
    mixing feeds both partners and blends their fused features (mixing.mixed_features)."""
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
    if config.augment:
        x = augment(x, config, gen)
    x = to_model_input(x).to(device, non_blocking=True)
    if m and config.mix_space == "feature":
        with mixed_features(model, len(real), plan.lam):
            out = ddp(x)
    else:
        out = ddp(x)
    return out, y.to(device)


# --------------------------------------------------------------------------------------------------
# checkpoint


def _atomic_save(obj, path: Path) -> None:
    import torch

    from engine.modelpack import atomic_write_bytes

    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def init_weights(model, path) -> None:
    """Load a packaged model's weights into ``model`` (fine-tuning): layers of the same name and
    shape are taken, the rest (e.g. heads the old model lacks) keep their fresh init."""
    import torch

    from engine import modelpack

    pkg = modelpack.load(path)
    if pkg.weights is None:
        raise TrainError(f"init_from {path}: the model file carries no torch weights")
    state = torch.load(io.BytesIO(pkg.weights), map_location="cpu", weights_only=True)
    own = model.state_dict()
    take = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if len(take) < len(state) // 2:
        raise TrainError(f"init_from {path}: its architecture does not fit this model "
                         f"({len(take)} of {len(state)} tensors match)")
    model.load_state_dict(take, strict=False)


class _HeadLoss:
    """Plane cross-entropy + criteria BCE on the rows that carry those labels (real rows only: a
    blend of two frames has no one plane); rows of planes the product does not assess (4CH) carry
    no score label."""

    def __init__(self, tr: Split, config: TrainConfig, model):
        import torch

        from engine.result import PLANES

        self.on = bool(model.cfg.heads) and tr.plane is not None and (bool((tr.plane >= 0).any())
                                                                         or bool((~np.isnan(tr.crit)).any()))
        self.wp, self.wc = float(config.w_plane), float(config.w_criteria)
        if not self.on:
            return
        self.plane = torch.from_numpy(tr.plane)
        self.crit = torch.from_numpy(tr.crit)
        self.scored = torch.from_numpy(tr.plane != PLANES.index("4CH"))
        self.any_unscored = not bool(self.scored.all())

    def score_rows(self, bidx, rank, world, n_out: int):
        """Rows of the batch output that carry a score label: real rows of assessed planes, then every
        pseudo-sample (their targets are scores); None when all rows do."""
        import torch

        if not self.on or not self.any_unscored:
            return None
        real = self.scored[np.asarray(bidx)[rank::world]]
        return torch.cat([real, torch.ones(n_out - len(real), dtype=torch.bool)])

    def __call__(self, out, bidx, rank, world, device):
        """On the real rows only (they come first): a blend of two frames has no one plane."""
        import torch
        import torch.nn.functional as F

        if len(out) < 6:
            return 0.0
        # the heads always join the graph (DDP needs every parameter used), at weight 0 without labels
        loss = 0.0 * (out[3].sum() + out[4].sum())
        if not self.on:
            return loss
        real = np.asarray(bidx)[rank::world]
        plane, crit = self.plane[real].to(device), self.crit[real].to(device)
        r = len(real)
        p_prob, c_prob = out[3][:r], out[4][:r]
        m = plane >= 0
        if self.wp > 0 and bool(m.any()):
            # out[3] is softmax probabilities (the graph output): NLL on their log
            loss = loss + self.wp * F.nll_loss(torch.log(p_prob[m].clamp_min(1e-6)), plane[m])
        c = ~torch.isnan(crit)
        if self.wc > 0 and bool(c.any()):
            loss = loss + self.wc * F.binary_cross_entropy(c_prob[c].clamp(1e-6, 1 - 1e-6), crit[c])
        return loss


def _set_aside(path: Path, why: str):
    """Move a bad checkpoint out of the way (kept for inspection) and stop with a clear message."""
    bad = path.with_name(f"{path.stem}.bad-{time.strftime('%Y%m%d-%H%M%S')}{path.suffix}")
    try:
        os.replace(path, bad)
        where = f"set aside as {bad.name}; run again to start afresh"
    except OSError as e:
        where = f"could not be set aside ({e}); remove it to start afresh"
    raise TrainError(f"{path}: checkpoint {why}; {where}")


def _load_checkpoint(path: Path) -> dict:
    """The checkpoint's contents, checked before anything is resumed from it (else :func:`_set_aside`)."""
    import torch

    try:
        ck = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # noqa: BLE001 - truncated zip, bad pickle, ...
        _set_aside(path, f"is damaged or truncated ({type(e).__name__}: {str(e)[:200]})")
    need = ("config_key", "data_hash", "model", "optimizer", "scheduler", "epoch", "history", "best",
            "bad_epochs", "rng")
    if not isinstance(ck, dict) or any(k not in ck for k in need):
        missing = [k for k in need if not isinstance(ck, dict) or k not in ck]
        _set_aside(path, f"lacks {', '.join(missing)}")
    return ck


def _state_copy(model):
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


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
            out, yb = batch_forward(ddp, model, x_all, y_all, bidx, plan, config, gen, device, rank, world)
            pred = out[0]
            keep = heads.score_rows(bidx, rank, world, len(pred))
            loss = loss_fn(pred, yb) if keep is None else loss_fn(pred[keep], yb[keep])  # over real + pseudo samples
            loss = loss + heads(out, bidx, rank, world, device)
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


# --------------------------------------------------------------------------------------------------
# evaluation of a packaged model (what `fuiqa eval` runs)


def split_settings(meta: dict) -> tuple[int, tuple[float, ...]]:
    """(split_seed, fractions) a packaged model was trained with (the trainer's defaults if it says none)."""
    tc = meta.get("train_config") or {}
    default = TrainConfig()
    return int(tc.get("split_seed", default.split_seed)), tuple(tc.get("fractions") or default.fractions)


def evaluate_package(model_path, data_root, split: str = "test", n_boot: int = 1000, backend: str = "ort",
                     batch: int = 64, split_seed: int | None = None, fractions=None, split_from=None) -> dict:
    """Score a labelled split with a packaged model through engine.scorers (same preprocessing + ROI).

    The split is recomputed with the seed/fractions stored in the model's train_config (so "test"
    means the images this model never trained on) — or in ``split_from``'s, to compare two models on
    the same images — unless overridden; ``split="all"`` uses every image.
    """
    from engine import modelpack
    from engine.scorers import make_scorer

    from .data import load_labelled, read_image

    pkg = modelpack.load(model_path)
    seed, fr = split_settings((modelpack.load(split_from) if split_from else pkg).meta)
    seed = split_seed if split_seed is not None else seed
    fr = tuple(fractions or fr)
    ds = load_labelled(data_root, seed=seed, fractions=fr)
    items = ds.items if split == "all" else ds.split(split)
    if len(items) < 2:
        raise TrainError(f"{data_root}: split {split!r} has {len(items)} image(s); need at least 2")
    scorer = make_scorer(backend, pkg)
    preds = []
    for i in range(0, len(items), batch):
        chunk = items[i : i + batch]
        imgs = [read_image(it.path) for it in chunk]
        rois = [find_roi_box(im) for im in imgs]
        preds.append(np.asarray(scorer.score(imgs, rois).scores, np.float32))
    pred = np.concatenate(preds)
    y = np.array([it.mos for it in items], np.float32)
    groups = [it.group for it in items] if any(it.group for it in items) else None
    m = M.evaluate(pred, y, n_boot=n_boot, groups=groups)
    m.update({"split": split, "model": str(model_path), "data": str(data_root), "backend": scorer.backend,
              "trained": pkg.trained, "synthetic_training_data": pkg.synthetic})
    return m
