"""Scorers: frames -> 0–100 quality scores and heatmaps.

One interface, several backends::

    scorer = make_scorer("auto", model_path)      # or "ort", "torch", "tensorrt"
    result = scorer.score(frames, rois)           # ScoreResult
    result.scores    # (N,) float32, 0–100
    result.heatmaps  # (N, h, w) float32, 0–100, over the letterboxed model input
    scorer.backend   # "onnxruntime" | "torch" | "tensorrt"
    scorer.reason    # why auto chose this backend

Every scorer runs :func:`engine.preprocess.preprocess_batch` itself, so callers hand it raw frames.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from . import modelpack
from .preprocess import preprocess_batch


@dataclass
class ScoreResult:
    scores: np.ndarray  # (N,)
    heatmaps: np.ndarray  # (N, h, w)
    attention: np.ndarray | None = None  # (N, h, w)


class Scorer:
    backend = "base"

    def __init__(self, package: modelpack.ModelPackage):
        self.package = package
        self.input_size = package.input_size
        self.reason = ""

    @property
    def warning(self) -> str | None:
        return self.package.warning()

    def score(self, frames, rois=None) -> ScoreResult:
        """Score raw frames (list of arrays, or one array ``(N,H,W[,C])``)."""
        if isinstance(frames, np.ndarray) and frames.ndim in (2,) :
            frames = [frames]
        x = preprocess_batch(frames, rois, self.input_size)
        return self.score_tensor(x)

    def score_tensor(self, x: np.ndarray) -> ScoreResult:  # (N,1,S,S) float32
        raise NotImplementedError

    def close(self) -> None:
        pass


class OrtScorer(Scorer):
    """ONNX Runtime on the CPU: the default everywhere."""

    backend = "onnxruntime"

    def __init__(self, package, threads: int | None = None):
        super().__init__(package)
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(package.onnx, opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001
            raise modelpack.ModelError(f"ONNX Runtime cannot load the model {package.path}: {e}") from None
        self.reason = "ONNX Runtime on the CPU"

    def score_tensor(self, x):
        s, h, a = self.session.run(None, {"image": np.ascontiguousarray(x, np.float32)})
        return ScoreResult(s, h, a)


class TorchScorer(Scorer):
    """torch eager; on CUDA it runs in FP16 (autocast)."""

    backend = "torch"

    def __init__(self, package, device: str | None = None, fp16: bool | None = None):
        super().__init__(package)
        import torch

        self.torch = torch
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.fp16 = (self.device.startswith("cuda")) if fp16 is None else fp16
        self.model = modelpack.torch_model(package, self.device)
        self.reason = f"torch on {self.device}" + (" (FP16)" if self.fp16 else "")

    def score_tensor(self, x):
        torch = self.torch
        t = torch.from_numpy(np.ascontiguousarray(x, np.float32)).to(self.device, non_blocking=True)
        with torch.inference_mode(), torch.autocast(self.device.split(":")[0], dtype=torch.float16, enabled=self.fp16):
            s, h, a = self.model(t)
        return ScoreResult(s.float().cpu().numpy(), h.float().cpu().numpy(), a.float().cpu().numpy())


def make_scorer(backend: str = "auto", model=None, **kw) -> Scorer:
    """Build a scorer. ``model``: a path, a :class:`ModelPackage`, or None for the default model."""
    pkg = model if isinstance(model, modelpack.ModelPackage) else modelpack.load(model or modelpack.default_model_path())
    if backend in ("ort", "onnxruntime"):
        return OrtScorer(pkg, **kw)
    if backend == "torch":
        return TorchScorer(pkg, **kw)
    if backend == "auto":
        return OrtScorer(pkg, **kw)
    raise ValueError(f"unknown backend {backend!r}")
