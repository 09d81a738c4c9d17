"""train/teacher.py: the SonoNet-16 port (layout, BN folding, input), the class -> plane mapping;
the real weights (../shared) are only needed by the tests that say so, which skip without them."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from train import teacher as T
from train.real import hc18_root, hc18_split, read_item

torch = pytest.importorskip("torch")
F = torch.nn.functional


def fake_npz(path, seed=0):
    """75 arrays in SonoNet-16's layout (conv w, beta, gamma, mean, INVERSE std per layer)."""
    rng = np.random.default_rng(seed)
    arrs, cin = {}, 1
    shapes = [(c, 3) for g in T.GROUPS for c in g] + [(64, 1), (14, 1)]
    for i, (cout, k) in enumerate(shapes):
        arrs[f"arr_{5 * i}"] = rng.normal(0, (2 / (cin * k * k)) ** 0.5, (cout, cin, k, k)).astype(np.float32)
        arrs[f"arr_{5 * i + 1}"] = rng.normal(0, 0.1, cout).astype(np.float32)
        arrs[f"arr_{5 * i + 2}"] = rng.uniform(0.5, 1.5, cout).astype(np.float32)
        arrs[f"arr_{5 * i + 3}"] = rng.normal(0, 0.1, cout).astype(np.float32)
        arrs[f"arr_{5 * i + 4}"] = rng.uniform(0.5, 2.0, cout).astype(np.float32)
        cin = cout
    np.savez(path, **arrs)
    return arrs


def reference_forward(arrs, x):
    """SonoNet-16 as its README describes it, unfused: conv (no bias) -> (x-mean)*gamma*inv_std+beta."""
    t = torch.from_numpy(x)
    i = 0
    for g, group in enumerate(T.GROUPS):
        if g:
            t = F.max_pool2d(t, 2)
        for _ in group:
            t = F.relu(_bn(F.conv2d(t, torch.from_numpy(arrs[f"arr_{5 * i}"]), padding=1), arrs, i))
            i += 1
    t = F.relu(_bn(F.conv2d(t, torch.from_numpy(arrs[f"arr_{5 * i}"])), arrs, i))
    t = _bn(F.conv2d(t, torch.from_numpy(arrs[f"arr_{5 * (i + 1)}"])), arrs, i + 1)
    return torch.softmax(t.mean(dim=(2, 3)), 1).numpy()


def _bn(t, arrs, i):
    beta, gamma, mean, inv = (torch.from_numpy(arrs[f"arr_{5 * i + k}"])[None, :, None, None] for k in (1, 2, 3, 4))
    return (t - mean) * gamma * inv + beta


def test_mapping_to_our_planes():
    assert len(T.CLASSES) == 14 and T.CLASSES[3] == "Background"
    want = {"Brain (Tv.)": "head", "Brain (Cb.)": "head", "Abdominal": "abdomen", "Femur": "femur",
            "4CH": "4CH", "Background": "none", "3VV": "other", "Lips": "other", "Spine (sag.)": "other"}
    for c, p in want.items():
        assert T.PLANE_OF_CLASS[c] == p
    probs = np.eye(14, dtype=np.float32)
    op = T.our_planes(probs)
    assert op.shape == (14, 6) and np.allclose(op.sum(1), 1)
    assert [T.OUR_PLANES[k] for k in op.argmax(1)] == [T.PLANE_OF_CLASS[c] for c in T.CLASSES]
    mixed = np.zeros((1, 14), np.float32)
    mixed[0, T.CLASSES.index("Brain (Tv.)")] = mixed[0, T.CLASSES.index("Brain (Cb.)")] = 0.3
    mixed[0, T.CLASSES.index("Background")] = 0.4
    assert T.OUR_PLANES[int(T.our_planes(mixed).argmax())] == "head"  # 0.6 head beats 0.4 none
    assert T.plane_names(mixed) == ["none"]  # the single most probable class


def test_import_needs_no_torch_and_absent_weights_give_none(tmp_path):
    code = "import sys, train.teacher; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
    assert T.load_sononet(tmp_path / "absent.npz") is None


def test_port_matches_the_described_network(tmp_path):
    arrs = fake_npz(tmp_path / "s.npz")
    net = T.load_sononet(tmp_path / "s.npz")
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, (300, 400), dtype=np.uint8), rng.integers(0, 256, (540, 800, 3), dtype=np.uint8)]
    x = T.sononet_input(frames)
    assert x.shape == (2, 1, 224, 288)
    for k in range(2):  # 255 * (x - mean) / std
        assert abs(x[k].mean()) < 1e-2 and x[k].std() == pytest.approx(255, rel=1e-3)
    probs, names, maps = T.teacher_planes(frames, model=net, maps=True)
    assert names == T.CLASSES and probs.shape == (2, 14) and maps.shape == (2, 14, 14, 18)
    assert np.allclose(probs.sum(1), 1, atol=1e-5)
    assert np.allclose(probs, reference_forward(arrs, x), atol=1e-4)


def test_rois_crop_before_resizing():
    img = np.zeros((200, 300), np.uint8)
    img[50:150, 100:250] = np.random.default_rng(0).integers(0, 256, (100, 150), dtype=np.uint8)
    crop = T.sononet_input([img[50:150, 100:250]])
    assert np.allclose(T.sononet_input([img], [(100, 50, 150, 100)]), crop)


def test_wrong_file_is_a_clear_error(tmp_path):
    np.savez(tmp_path / "bad.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="75 arrays"):
        T.load_sononet(tmp_path / "bad.npz")


@pytest.mark.skipif(T.sononet_path() is None or hc18_root() is None, reason="SonoNet-16 weights or HC18 absent")
def test_real_weights_call_hc18_heads_brain():
    _, dev = hc18_split()
    frames = [read_item(it)[0] for it in [it for it in dev if it.hc_mm >= 150][:24]]
    probs, names = T.teacher_planes(frames)
    top = [names[k] for k in probs.argmax(1)]
    brain = np.mean([t.startswith("Brain") for t in top])
    assert brain >= 0.75, top  # its README: 86 % of all HC18 called a brain plane (95 % from HC 150 mm on)
    assert np.mean([p == "head" for p in T.plane_names(probs)]) == brain
