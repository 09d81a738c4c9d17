"""Scorers: frames -> 0–100 quality scores and heatmaps.

One interface, several backends::

    scorer = make_scorer("auto", model_path)      # or "ort", "torch", "tensorrt"
    result = scorer.score(frames, rois)           # ScoreResult
    result.scores    # (N,) float32, 0–100
    result.heatmaps  # (N, h, w) float32, 0–100, over the letterboxed model input
    scorer.backend   # "onnxruntime" | "torch" | "tensorrt"
    scorer.reason    # what runs and why auto chose it
    scorer.warning   # "UNTRAINED MODEL ..." or None

Every scorer runs :func:`engine.preprocess.preprocess` itself (into a reused batch buffer), so
callers hand it raw frames.

What ``score`` accepts (explicit, never guessed)
-----------------------------------------------
``frames``
    * a list or tuple of frames (each ``H×W`` gray or ``H×W×C`` colour, as
      :func:`~engine.preprocess.preprocess` takes them);
    * a 4-D array ``(N, H, W, C)``: a batch of colour frames;
    * a 2-D array ``(H, W)``: ONE gray frame.
    A 3-D array is ambiguous (one ``H×W×C`` colour frame, or ``N`` gray ``H×W`` frames) and is
    refused with a ``ValueError``: use :meth:`Scorer.score_one` for one frame, or pass a list.
``rois``
    ``None`` (whole frame), ONE ROI for every frame (``(x, y, w, h)`` numbers, or an object with a
    ``.box`` such as :class:`engine.roi.RoiResult`), or a list with one entry (ROI or ``None``) per
    frame.
"""
from __future__ import annotations

import numbers
import os
import threading
import numpy as np

from . import modelpack
from .bmode import grain_corr, offmap_share
from .preprocess import preprocess
from .result import CRITERIA, PLANES, FrameResult, ScoreResult, concat, empty

from .backend import BACKENDS, BackendUnavailable  # noqa: F401 - re-exported (one class, one table)


def result_from_outputs(outputs: dict[str, np.ndarray], package: modelpack.ModelPackage) -> ScoreResult:
    """Graph outputs by name (``score``, ``heatmap``, ``attention`` and, where the model has them,
    ``plane``, ``criteria``, ``ood``) -> :class:`ScoreResult`; every backend builds its result here."""
    if "score" not in outputs:  # a graph with other output names: score, heatmap, attention by position
        outputs = dict(zip(("score", "heatmap", "attention"), outputs.values()))
    n = int(np.asarray(outputs["score"]).shape[0])
    f32 = lambda k: None if outputs.get(k) is None else np.asarray(outputs[k], np.float32)  # noqa: E731
    ood = package.meta.get("ood") or {}
    heads = package.meta.get("heads") or {}
    return ScoreResult(
        f32("score").reshape(n), f32("heatmap"), f32("attention"), f32("plane"), f32("criteria"), f32("ood"),
        ood_threshold=ood.get("threshold"),
        plane_names=tuple(heads.get("planes", PLANES)), criteria_names=tuple(heads.get("criteria", CRITERIA)),
    )


def _with_bmode(res: ScoreResult, frames, boxes) -> ScoreResult:
    """``res`` with engine/bmode.py's checks of the frames themselves (colour, full resolution), which
    the graph never sees."""
    res.colour_share = np.array([offmap_share(f, b) for f, b in zip(frames, boxes)], np.float32)
    res.grain = np.array([grain_corr(f, b) for f, b in zip(frames, boxes)], np.float32)
    return res


def _is_single_roi(r) -> bool:
    if r is None:
        return True
    if hasattr(r, "box"):
        return True
    if isinstance(r, np.ndarray):
        return r.ndim == 1 and r.shape[0] == 4
    return isinstance(r, (tuple, list)) and len(r) == 4 and all(isinstance(v, numbers.Real) for v in r)


def _roi_box(r, i: int):
    if r is None:
        return None
    if hasattr(r, "box"):
        r = r.box
    try:
        box = tuple(int(round(float(v))) for v in r)
    except (TypeError, ValueError):
        raise ValueError(f"ROI for frame {i} is {r!r}, not (x, y, w, h)") from None
    if len(box) != 4:
        raise ValueError(f"ROI for frame {i} has {len(box)} numbers, not 4 (x, y, w, h)")
    if box[2] <= 0 or box[3] <= 0:
        raise ValueError(f"ROI for frame {i} has no area: {box}")
    return box


def normalize_inputs(frames, rois=None) -> tuple[list[np.ndarray], list]:
    """Apply the rules in the module docstring: -> (list of frames, list of ROI boxes or None)."""
    if isinstance(frames, np.ndarray):
        if frames.ndim == 2:
            frames = [frames]
        elif frames.ndim == 4:
            frames = list(frames)
        elif frames.ndim == 3:
            raise ValueError(
                f"a 3-D array {frames.shape} is ambiguous (one H×W×C colour frame or N gray frames): "
                "use score_one(frame) for one frame, or pass a list of frames"
            )
        else:
            raise ValueError(f"frames array must be 2-D (one gray frame) or 4-D (N,H,W,C), not {frames.shape}")
    elif isinstance(frames, (list, tuple)):
        frames = list(frames)
    else:
        raise TypeError(f"frames must be a list of arrays or an array, not {type(frames).__name__}")
    n = len(frames)
    if _is_single_roi(rois):
        boxes = [_roi_box(rois, 0)] * n
    else:
        rois = list(rois)
        if len(rois) != n:
            raise ValueError(f"{len(rois)} ROIs for {n} frames")
        boxes = [_roi_box(r, i) for i, r in enumerate(rois)]
    return frames, boxes


class Scorer:
    backend = "base"
    #: largest batch run at once; bigger inputs are split into chunks of this size
    max_batch = 64

    def __init__(self, package: modelpack.ModelPackage):
        self.package = package
        self.input_size = package.input_size
        self.reason = ""
        self._local = threading.local()  # one reused input buffer per calling thread (live + cine may share a scorer)

    @property
    def warning(self) -> str | None:
        return self.package.warning()

    def _batch(self, n: int) -> np.ndarray:
        """A reused (n,1,S,S) float32 buffer of the calling thread (grown, never shrunk)."""
        buf = getattr(self._local, "buf", None)
        if buf is None or buf.shape[0] < n:
            cap = max(n, 2 * buf.shape[0]) if buf is not None else n
            buf = self._local.buf = np.empty((cap, 1, self.input_size, self.input_size), np.float32)
        return buf[:n]

    def preprocess(self, frames, rois=None) -> np.ndarray:
        """Frames + ROIs -> the model input batch ``(N,1,S,S)`` (a view of a reused buffer)."""
        frames, boxes = normalize_inputs(frames, rois)
        x = self._batch(len(frames))
        for i, (f, r) in enumerate(zip(frames, boxes)):
            preprocess(f, r, self.input_size, out=x[i])
        return x

    def score(self, frames, rois=None) -> ScoreResult:
        """Score raw frames; see the module docstring for what ``frames`` and ``rois`` may be."""
        frames, boxes = normalize_inputs(frames, rois)
        if not frames:
            return empty(self.input_size // int(self.package.meta.get("arch", {}).get("grid_stride", 8)))
        parts = []
        for a in range(0, len(frames), self.max_batch):
            fs, bs = frames[a : a + self.max_batch], boxes[a : a + self.max_batch]
            x = self._batch(len(fs))
            for i, (f, r) in enumerate(zip(fs, bs)):
                preprocess(f, r, self.input_size, out=x[i])
            parts.append(_with_bmode(self.score_tensor(x), fs, bs))
        return concat(parts)

    def score_one(self, frame: np.ndarray, roi=None) -> tuple[float, np.ndarray]:
        """One frame (any layout) -> ``(score, heatmap (h,w))``."""
        r = self.result_one(frame, roi)
        return r.score, r.heatmap

    def result_one(self, frame: np.ndarray, roi=None) -> FrameResult:
        """One frame (any layout) -> its :class:`~engine.result.FrameResult` (plane, checklist, OOD …)."""
        x = self._batch(1)
        frame, box = np.asarray(frame), _roi_box(roi, 0)
        preprocess(frame, box, self.input_size, out=x[0])
        return _with_bmode(self.score_tensor(x), [frame], [box])[0]

    def score_tensor(self, x: np.ndarray) -> ScoreResult:  # (N,1,S,S) float32
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


_concat = concat  # old name (engine.tensorrt)


# ----------------------------------------------------------------------------- ONNX Runtime


def default_ort_threads() -> int:
    """intra-op threads for ONNX Runtime: ``FUIQA_ORT_THREADS``, else 1 on a machine with ≤ 2 CPUs,
    else 2.

    Measured with ``fuiqa bench --threads 1,2`` on a 2-core machine (docs/engine.md): on an idle
    machine 2 threads are only ~7 % faster end to end at batch 1 (model ≈0.35 vs ≈0.5 ms, both far
    above 200 frames/s), but as soon as other work competes for the cores (the GUI draws, the
    capture thread decodes) 2 threads lose badly (p95 latency up 1.5–3×) while 1 thread holds up.
    More than 2 threads do not pay for a 0.03-GFLOP model.
    """
    env = os.environ.get("FUIQA_ORT_THREADS")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            pass
    return 1 if (os.cpu_count() or 1) <= 2 else 2


class OrtScorer(Scorer):
    """ONNX Runtime on the CPU: the default everywhere."""

    backend = "onnxruntime"

    def __init__(self, package, threads: int | None = None, spinning: bool = True):
        super().__init__(package)
        import onnxruntime as ort

        self.threads = threads or default_ort_threads()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.enable_cpu_mem_arena = True
        if not spinning:
            # no busy-waiting between runs: frees the CPU for the GUI at a small latency cost
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(package.onnx, opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001 - ORT raises its own types for bad graphs
            raise modelpack.ModelError(f"ONNX Runtime cannot load the model {package.path}: {e}") from None
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.reason = f"ONNX Runtime on the CPU ({self.threads} thread{'s' if self.threads > 1 else ''})"

    def score_tensor(self, x):
        outs = self.session.run(self.output_names, {self.input_name: np.ascontiguousarray(x, np.float32)})
        return result_from_outputs(dict(zip(self.output_names, outs)), self.package)


# ----------------------------------------------------------------------------- torch


class TorchScorer(Scorer):
    """torch eager; on CUDA it runs in FP16 (autocast)."""

    backend = "torch"

    def __init__(self, package, device: str | None = None, fp16: bool | None = None):
        super().__init__(package)
        import torch

        self.torch = torch
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.fp16 = self.device.startswith("cuda") if fp16 is None else bool(fp16)
        self.model = modelpack.torch_model(package, self.device)
        where = self.device
        if self.device.startswith("cuda"):
            where = f"{self.device} ({torch.cuda.get_device_name(self.device)})"
        self.reason = f"torch on {where}" + (", FP16 autocast" if self.fp16 else ", FP32")

    def score_tensor(self, x):
        torch = self.torch
        t = torch.from_numpy(np.ascontiguousarray(x, np.float32))
        if self.device != "cpu":
            t = t.pin_memory().to(self.device, non_blocking=True)
        with torch.inference_mode(), torch.autocast(self.device.split(":")[0], dtype=torch.float16, enabled=self.fp16):
            outs = self.model.outputs(t)
        return result_from_outputs({k: v.float().cpu().numpy() for k, v in outs.items()}, self.package)


# ----------------------------------------------------------------------------- choice


def __getattr__(name: str):
    # ``make_scorer`` lives in engine.choose_backend (it imports engine.tensorrt, which imports this
    # module); kept importable from here, looked up only when asked for, so no import circle
    if name == "make_scorer":
        from .choose_backend import make_scorer

        return make_scorer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
