"""Shared helpers for the engine tests (scorers, TensorRT fakes, CLI)."""
from __future__ import annotations

import numpy as np


def make_varied_model(seed: int = 0):
    """A random-weight rt MQFNet whose scores vary with the input (BN statistics calibrated on noise),
    so that backend comparisons are not trivially equal."""
    import torch

    from engine.model import build_model

    torch.manual_seed(seed)
    m = build_model("rt")
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.momentum = None
            mod.reset_running_stats()
    m.train()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _ in range(3):
            m(torch.rand(16, 1, 128, 128, generator=g) * 3 - 1)
        m.quality_head[-1].weight.mul_(3)
    return m.eval()


def package_varied(path, trained: bool = False, seed: int = 0):
    from engine.export import package_model

    return package_model(make_varied_model(seed), path, name="test-varied", trained=trained)


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
