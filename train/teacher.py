"""SonoNet-16 as a real-domain teacher (training and checking only; never shipped).

A torch port of SonoNet-16 (Baumgartner et al., IEEE TMI 2017; Apache-2.0) read from
``../shared/models/sononet16/SonoNet16.npz`` (env ``FUIQA_SONONET`` overrides): 13 3×3 conv layers
(16,16 | 32,32 | 64,64,64 | 128×3 | 128×3, max-pool 2 between the groups), each conv → batch norm →
ReLU, then an adaptation block (1×1 conv to 64, BN, ReLU; 1×1 conv to 14, BN), global average pooling,
softmax. The file holds 75 arrays, five per layer: conv weight, BN beta, gamma, running mean and the
*inverse* std; here each BN is folded into its conv (weight × gamma·inv_std, bias beta − mean·gamma·inv_std).

Input: one grey channel 224 × 288, each image standardised as ``255 * (x - mean) / std``.

* :func:`load_sononet` -> the eval-mode module, or None when the weights are absent;
* :func:`teacher_planes(frames, rois=None)` -> (probs (N, 14), :data:`CLASSES`);
* :data:`PLANE_OF_CLASS` / :func:`our_planes` map its classes to ours (Brain Tv./Cb. -> head,
  Abdominal -> abdomen, Femur -> femur, 4CH -> 4CH, Background -> none, the rest -> other).

``import train.teacher`` does not import torch; the functions do.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from .real import shared_path

CLASSES = ("3VV", "4CH", "Abdominal", "Background", "Brain (Cb.)", "Brain (Tv.)", "Femur", "Kidneys",
           "Lips", "LVOT", "Profile", "RVOT", "Spine (cor.)", "Spine (sag.)")
PLANE_OF_CLASS = {c: "other" for c in CLASSES} | {
    "Brain (Cb.)": "head", "Brain (Tv.)": "head", "Abdominal": "abdomen", "Femur": "femur",
    "4CH": "4CH", "Background": "none"}
#: our plane names in the order of :func:`our_planes`' columns
OUR_PLANES = ("none", "head", "abdomen", "femur", "4CH", "other")
INPUT_HW = (224, 288)
GROUPS = ((16, 16), (32, 32), (64, 64, 64), (128, 128, 128), (128, 128, 128))

_CACHE: dict = {}


def sononet_path() -> Path | None:
    p = shared_path("models/sononet16/SonoNet16.npz", "FUIQA_SONONET")
    return p if p is not None and p.is_file() else None


def _folded(arrs, i):
    w, beta, gamma, mean, inv_std = (np.asarray(arrs[f"arr_{5 * i + k}"], np.float32) for k in range(5))
    scale = gamma * inv_std
    return w * scale[:, None, None, None], beta - mean * scale


def build_sononet(path: Path):
    """The torch module with the file's weights (BN folded into the convs), eval mode."""
    import torch
    from torch import nn

    arrs = np.load(path)
    if len(arrs.files) != 75:
        raise ValueError(f"{path}: expected 75 arrays (SonoNet-16), found {len(arrs.files)}")
    layers, i, cin = [], 0, 1
    for g, group in enumerate(GROUPS):
        if g:
            layers.append(nn.MaxPool2d(2))
        for cout in group:
            layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True)]
            cin = cout
    layers += [nn.Conv2d(cin, 64, 1), nn.ReLU(inplace=True), nn.Conv2d(64, 14, 1)]
    net = nn.Sequential(*layers)
    convs = [m for m in net if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        for i, conv in enumerate(convs):
            w, b = _folded(arrs, i)
            if tuple(conv.weight.shape) != w.shape:
                raise ValueError(f"{path}: layer {i} weight {w.shape}, network wants {tuple(conv.weight.shape)}")
            conv.weight.copy_(torch.from_numpy(w))
            conv.bias.copy_(torch.from_numpy(b))
    return SonoNet(net).eval()


@functools.lru_cache(maxsize=1)
def _module():
    from torch import nn

    class _SonoNet(nn.Module):
        """features (stride-16 14-class saliency map) -> global average -> logits."""

        def __init__(self, net):
            super().__init__()
            self.net = net

        def maps(self, x):
            return self.net(x)

        def forward(self, x):
            return self.net(x).mean(dim=(2, 3))

    return _SonoNet


def SonoNet(net):  # noqa: N802 (a class made lazily, so that importing this module needs no torch)
    return _module()(net)


def load_sononet(path: Path | str | None = None):
    """The SonoNet-16 module (eval, CPU), or None when the weights file is absent."""
    path = Path(path) if path is not None else sononet_path()
    if path is None or not path.is_file():
        return None
    key = str(path.resolve())
    if key not in _CACHE:
        _CACHE[key] = build_sononet(path)
    return _CACHE[key]


def sononet_input(frames, rois=None) -> np.ndarray:
    """Frames (gray or BGR, any size; cropped to ``rois`` boxes when given) -> (N, 1, 224, 288) float32,
    each standardised as 255 * (x - mean) / std (how SonoNet was trained)."""
    import cv2

    from engine.preprocess import to_gray_u8

    out = np.empty((len(frames), 1, *INPUT_HW), np.float32)
    for k, f in enumerate(frames):
        g = to_gray_u8(np.asarray(f))
        if rois is not None and rois[k] is not None:
            x, y, w, h = (int(v) for v in rois[k])
            g = g[y:y + h, x:x + w]
        r = cv2.resize(g, INPUT_HW[::-1], interpolation=cv2.INTER_AREA).astype(np.float32)
        out[k, 0] = 255.0 * (r - r.mean()) / max(float(r.std()), 1e-6)
    return out


def teacher_planes(frames, rois=None, model=None, batch: int = 16, maps: bool = False):
    """-> (probs (N, 14), CLASSES) — or (probs, CLASSES, maps (N, 14, 14, 18)) with ``maps=True``.
    Raises FileNotFoundError when the weights are absent and no model is given."""
    import torch

    model = model if model is not None else load_sononet()
    if model is None:
        raise FileNotFoundError("SonoNet-16 weights not found (set FUIQA_SONONET or put them in "
                                "../shared/models/sononet16/SonoNet16.npz)")
    probs, sal = [], []
    with torch.inference_mode():
        for i in range(0, len(frames), batch):
            x = torch.from_numpy(sononet_input(frames[i:i + batch], None if rois is None else rois[i:i + batch]))
            m = model.maps(x)
            probs.append(torch.softmax(m.mean(dim=(2, 3)), 1).numpy())
            if maps:
                sal.append(m.numpy())
    p = np.concatenate(probs) if probs else np.zeros((0, 14), np.float32)
    if maps:
        return p, CLASSES, (np.concatenate(sal) if sal else np.zeros((0, 14, 14, 18), np.float32))
    return p, CLASSES


def our_planes(probs: np.ndarray) -> np.ndarray:
    """SonoNet class probabilities (N, 14) -> probabilities of :data:`OUR_PLANES` (N, 6), summed."""
    probs = np.asarray(probs, np.float32)
    out = np.zeros((len(probs), len(OUR_PLANES)), np.float32)
    for j, c in enumerate(CLASSES):
        out[:, OUR_PLANES.index(PLANE_OF_CLASS[c])] += probs[:, j]
    return out


def plane_names(probs: np.ndarray) -> list[str]:
    """Our plane for each frame: the plane of SonoNet's most probable class."""
    return [PLANE_OF_CLASS[CLASSES[int(k)]] for k in np.argmax(probs, axis=1)]
