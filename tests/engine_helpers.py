"""Shared helpers for the engine tests (scorers, TensorRT fakes, CLI)."""
from __future__ import annotations

import numpy as np


def make_varied_model(seed: int = 0, heads: bool = True):
    """A random-weight rt MQFNet whose scores vary with the input (BN statistics calibrated on noise),
    so that backend comparisons are not trivially equal."""
    import torch

    from engine.model import build_model

    torch.manual_seed(seed)
    m = build_model("rt", heads=heads)
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.momentum = None
            mod.reset_running_stats()
    m.train()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _ in range(3):
            S = m.cfg.input_size
            m(torch.rand(16, 1, S, S, generator=g) * 3 - 1)
        m.quality_head[-1].weight.mul_(3)
    return m.eval()


_CACHE: dict = {}


def package_varied(path, trained: bool = False, seed: int = 0, heads: bool = True):
    """A model package of :func:`make_varied_model` at ``path`` (built and export-checked once per
    process and seed; later calls re-save the same graph and weights with ``trained`` set)."""
    import tempfile
    from pathlib import Path

    from engine import modelpack
    from engine.export import package_model

    if (seed, heads) not in _CACHE:
        with tempfile.TemporaryDirectory() as d:
            pkg = package_model(make_varied_model(seed, heads), Path(d) / "m.fuiqa", name="test-varied")
        _CACHE[seed, heads] = (dict(pkg.meta), pkg.onnx, pkg.weights)
    meta, onnx_bytes, weights = _CACHE[seed, heads]
    meta = {k: v for k, v in meta.items() if k not in ("sha256",)}
    meta["trained"] = bool(trained)
    return modelpack.save(path, meta, onnx_bytes, weights)


def real_frames() -> list[np.ndarray]:
    """Real ultrasound screen captures from the pydicom wheel (BGR uint8)."""
    import cv2
    from pydicom import examples

    out = []
    ds = examples.ybr_color  # SonoSite, 30-frame cine, YBR_FULL_422
    arr = ds.pixel_array  # converted to RGB by pydicom
    for i in (0, 10, 20, 29):
        out.append(cv2.cvtColor(np.ascontiguousarray(arr[i]), cv2.COLOR_RGB2BGR))
    rgb = examples.rgb_color.pixel_array
    out.append(cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR))
    pal = examples.palette_color
    from pydicom.pixels import apply_color_lut

    p = apply_color_lut(pal.pixel_array, pal)
    p = (p >> 8).astype(np.uint8) if p.dtype == np.uint16 else p.astype(np.uint8)
    out.append(cv2.cvtColor(np.ascontiguousarray(p), cv2.COLOR_RGB2BGR))
    return out
