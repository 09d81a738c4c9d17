"""Choose and build a scorer backend: :func:`make_scorer` (also importable from engine.scorers).

Sits above :mod:`engine.scorers` and :mod:`engine.tensorrt` so that neither imports the other in a
circle (``tensorrt -> scorers`` is the only edge between them).
"""
from __future__ import annotations

from . import modelpack
from .backend import BACKENDS, BackendUnavailable
from .scorers import OrtScorer, Scorer, TorchScorer


def make_scorer(backend: str = "auto", model=None, **kw) -> Scorer:
    """Build a scorer.

    ``model``: a path, a :class:`ModelPackage`, or None for the default model (raises
    :class:`~engine.modelpack.ModelError` if it cannot be loaded). ``backend``: ``auto`` (TensorRT
    where a usable GPU and TensorRT are present, else ONNX Runtime; ``scorer.reason`` says which and
    why), ``ort``, ``torch`` or ``tensorrt`` (raises :class:`BackendUnavailable` if it cannot run).
    Keyword arguments go to the backend (``threads``; ``device``/``fp16``; ``cache_dir``/``precision``).
    """
    name = BACKENDS.get(str(backend).lower())
    if name is None:
        raise ValueError(f"unknown backend {backend!r}; choose one of auto, ort, torch, tensorrt")
    pkg = model if isinstance(model, modelpack.ModelPackage) else modelpack.load(model or modelpack.default_model_path())
    if name == "onnxruntime":
        s = OrtScorer(pkg, **kw)
        s.reason += " (asked for)"
        return s
    if name == "torch":
        s = TorchScorer(pkg, **kw)
        s.reason += " (asked for)"
        return s
    from . import tensorrt as trt_mod  # only when TensorRT may be used (it pulls in engine.export)

    if name == "tensorrt":
        return trt_mod.TensorRTScorer(pkg, **kw)
    # auto
    try:
        s = trt_mod.TensorRTScorer(pkg, **{k: v for k, v in kw.items() if k in ("cache_dir", "precision", "rebuild")})
        s.reason = f"{s.reason} (auto: usable GPU and TensorRT found)"
        return s
    except BackendUnavailable as e:
        why = str(e)
    except Exception as e:  # noqa: BLE001 - any GPU-side failure must still leave a working scorer
        why = f"TensorRT failed ({type(e).__name__}: {e})"
    s = OrtScorer(pkg, **{k: v for k, v in kw.items() if k in ("threads", "spinning")})
    s.reason = f"{why}; using {s.reason}"
    return s
