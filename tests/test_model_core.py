"""The MQF network, the one preprocessing path and the model package format."""
import zipfile

import numpy as np
import pytest
import torch

from engine import modelpack
from engine.export import package_model
from engine.model import build_model, count_flops
from engine.preprocess import MEAN, STD, heatmap_to_frame, preprocess, preprocess_batch


def test_model_outputs_and_score_is_attention_pooled_heatmap():
    torch.manual_seed(0)
    m = build_model("rt").eval()
    S, H = m.cfg.input_size, m.cfg.input_size // m.cfg.grid_stride
    x = torch.randn(3, 1, S, S)
    s, q, a = m(x)[:3]
    assert s.shape == (3,) and q.shape == (3, H, H) and a.shape == (3, H, H)
    assert torch.all((q >= 0) & (q <= 100))
    assert torch.allclose(a.sum((1, 2)), torch.ones(3), atol=1e-5)
    # the score is exactly the attention-weighted heatmap: the heatmap shown is what made the score
    assert torch.allclose(s, (a * q).sum((1, 2)), atol=1e-4)


@pytest.mark.parametrize("name,limit", [("rt", 0.3), ("gpu", 3.0)])
def test_model_sizes(name, limit):
    mqf, last = count_flops(build_model(name, "mqf")), count_flops(build_model(name, "last"))
    assert 0 < last < mqf <= limit


def test_fusion_last_uses_only_deepest_scale():
    m = build_model("rt", "last")
    assert len(m.mqf.lateral) == 1
    m2 = build_model("rt", "mqf")
    assert len(m2.mqf.lateral) == 3
    S, H = m2.cfg.input_size, m2.cfg.input_size // m2.cfg.grid_stride
    m2.eval()(torch.randn(2, 1, S, S))
    w = m2.mqf.last_scale_weights
    assert w.shape == (2, 3, H, H) and torch.allclose(w.sum(1), torch.ones(2, H, H), atol=1e-5)


def test_unknown_arch_rejected():
    with pytest.raises(ValueError, match="unknown model size"):
        build_model("huge")
    with pytest.raises(ValueError, match="fusion"):
        build_model("rt", "sum")


@pytest.mark.parametrize(
    "frame",
    [
        np.full((480, 640), 128, np.uint8),
        np.full((480, 640, 3), 128, np.uint8),
        np.full((480, 640, 4), 128, np.uint8),
        np.full((480, 640), 128 * 257, np.uint16),
        np.full((480, 640, 1), 128 / 255, np.float32),
    ],
)
def test_preprocess_formats_agree(frame):
    x = preprocess(frame, (100, 40, 400, 400), 128)
    assert x.shape == (1, 128, 128) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, 64, 64], (128 / 255 - MEAN) / STD, atol=2e-3)


def test_preprocess_letterbox_keeps_aspect_and_pads():
    frame = np.full((100, 200), 255, np.uint8)
    x = preprocess(frame, None, 128)
    pad = -MEAN / STD
    # 200x100 -> 128x64, centred: rows 0..31 and 96..127 are padding
    assert np.allclose(x[0, :32], pad) and np.allclose(x[0, 96:], pad)
    assert np.allclose(x[0, 32:96], (1 - MEAN) / STD)


def test_preprocess_roi_is_clipped_and_batch_matches_single():
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 255, (300, 400, 3), np.uint8) for _ in range(3)]
    b = preprocess_batch(frames, (350, 250, 200, 200), 96)
    for i, f in enumerate(frames):
        np.testing.assert_array_equal(b[i], preprocess(f, (350, 250, 200, 200), 96))
    with pytest.raises(ValueError):
        preprocess(np.zeros((1, 5)), None)


def test_heatmap_maps_back_onto_roi():
    hm = np.zeros((16, 16), np.float32)
    hm[:, 8:] = 100  # right half good
    patch, roi = heatmap_to_frame(hm, (10, 20, 300, 150), (480, 640), 128)
    assert roi == (10, 20, 300, 150) and patch.shape == (150, 300)
    assert patch[:, :100].mean() < 10 and patch[:, 200:].mean() > 90


def test_package_roundtrip_and_corruption(tmp_path):
    torch.manual_seed(0)
    m = build_model("rt")
    p = tmp_path / "m.fuiqa"
    pkg = package_model(m, p, name="t", trained=False)
    assert pkg.warning() and "UNTRAINED" in pkg.warning()
    again = modelpack.load(p)
    S = m.cfg.input_size
    assert again.meta["arch"]["name"] == "rt" and again.input_size == S
    m2 = modelpack.torch_model(again)
    x = torch.randn(1, 1, S, S)
    assert torch.allclose(m.eval()(x)[0], m2(x)[0])

    # truncated file
    data = p.read_bytes()
    bad = tmp_path / "trunc.fuiqa"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(modelpack.ModelError, match="corrupt|truncated"):
        modelpack.load(bad)
    # empty, missing, a folder
    (tmp_path / "empty.fuiqa").write_bytes(b"")
    with pytest.raises(modelpack.ModelError, match="empty"):
        modelpack.load(tmp_path / "empty.fuiqa")
    with pytest.raises(modelpack.ModelError, match="not found"):
        modelpack.load(tmp_path / "nope.fuiqa")
    # a member altered inside a valid zip -> checksum mismatch
    alt = tmp_path / "alt.fuiqa"
    with zipfile.ZipFile(p) as zin, zipfile.ZipFile(alt, "w") as zout:
        for n in zin.namelist():
            b = zin.read(n)
            zout.writestr(n, b[:-10] + b"0123456789" if n == "model.onnx" else b)
    with pytest.raises(modelpack.ModelError, match="checksum"):
        modelpack.load(alt)
    # wrong format tag
    wrong = tmp_path / "wrong.fuiqa"
    with zipfile.ZipFile(wrong, "w") as z:
        z.writestr("meta.json", '{"format": "other/9", "arch": {}, "input_size": 1, "trained": false, "version": 1}')
        z.writestr("model.onnx", b"x")
    with pytest.raises(modelpack.ModelError, match="format"):
        modelpack.load(wrong)


def test_failed_save_keeps_old_model(tmp_path, monkeypatch):
    m = build_model("rt")
    p = tmp_path / "m.fuiqa"
    package_model(m, p, trained=False, name="old")
    before = p.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(modelpack.os, "fsync", boom)
    with pytest.raises(OSError):
        package_model(m, p, trained=True, name="new")
    assert p.read_bytes() == before
    assert [f.name for f in tmp_path.iterdir()] == ["m.fuiqa"]  # no temp file left behind
