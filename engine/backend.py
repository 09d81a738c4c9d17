"""Names shared by the scorers and the TensorRT backend (a leaf module: imports nothing of engine's).

Kept apart so that :mod:`engine.tensorrt` and :mod:`engine.scorers` need not import each other in a
circle: ``tensorrt -> scorers`` (the Scorer base) is the only direction left, and the choice of a
backend (:func:`engine.choose_backend.make_scorer`) sits above both. Every name here is still
importable from :mod:`engine.scorers`.
"""
from __future__ import annotations

#: backend names accepted by :func:`make_scorer` (aliases map to the canonical name)
BACKENDS = {"auto": "auto", "ort": "onnxruntime", "onnxruntime": "onnxruntime", "torch": "torch",
            "tensorrt": "tensorrt", "trt": "tensorrt"}


class BackendUnavailable(RuntimeError):
    """The requested backend cannot run here (not installed, no GPU, engine build failed)."""
