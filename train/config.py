"""Training configuration and result types (validated parameters, clear errors)."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path


from .losses import LOSSES
from .mixing import MIX_SPACES, MIXINGS, MixConfig

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
    mixing: str = "none"  # "cmx" | "mixup" | "cmixup" | "none" (none: docs/ablation.md found no CMX gain, a third slower)
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
    # heatmap: where labels.csv has an ``artefact_map`` (train.cells), cells of a shadow / lift-off lose
    # the points (train/cells.py); 0 = off
    w_cells: float = 0.0
    cell_margin: float = 30.0  # quality points an artefact cell sits below the image's clean cells
    w_struct: float = 0.0  # attention on the required structures where the map marks them (train/cells.py)
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
        if not d["w_cells"]:  # off: keys (and checkpoints) from before the option still match
            d.pop("w_cells")
            d.pop("cell_margin")
        if not d["w_struct"]:
            d.pop("w_struct")
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


