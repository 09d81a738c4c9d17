"""tools/wise_ft.py: the straight line between two models' weights (shared layers), heads from the second."""
import io
import sys
from pathlib import Path

import numpy as np
import pytest

from engine import modelpack
from engine.scorers import make_scorer
from engine_helpers import package_varied

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))


def _state(path):
    import torch

    return torch.load(io.BytesIO(modelpack.load(path).weights), map_location="cpu", weights_only=True)


def test_interpolation_ends_and_middle(tmp_path):
    import wise_ft

    base = package_varied(tmp_path / "base.fuiqa", trained=True, seed=1, heads=False)
    ft = package_varied(tmp_path / "ft.fuiqa", trained=True, seed=2, heads=True)
    sb, sf = _state(base.path), _state(ft.path)
    one = wise_ft.interpolate(base.path, ft.path, 1.0, tmp_path / "w1.fuiqa")
    half = wise_ft.interpolate(base.path, ft.path, 0.5, tmp_path / "w05.fuiqa")
    s1, sh = _state(one.path), _state(half.path)
    shared = [k for k in sf if k in sb and sf[k].is_floating_point() and not k.startswith("density_")]
    own = [k for k in sf if k not in sb]
    assert shared and own  # heads only the fine-tuned model has
    for k in shared:
        np.testing.assert_allclose(s1[k].numpy(), sf[k].numpy(), atol=1e-6)
        np.testing.assert_allclose(sh[k].numpy(), 0.5 * (sb[k] + sf[k]).numpy(), atol=1e-6)
    for k in own:  # heads and density buffers: the fine-tuned model's
        np.testing.assert_array_equal(sh[k].numpy(), sf[k].numpy())
    assert half.meta["wise_ft"]["alpha"] == 0.5 and half.meta["wise_ft"]["shared_tensors"] == len(shared)
    frames = [np.random.default_rng(i).integers(0, 256, (120, 160), dtype=np.uint8) for i in range(3)]
    a, b = make_scorer("ort", ft).score(frames), make_scorer("ort", one).score(frames)
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-3)  # a = 1 is the fine-tuned model
    assert not np.allclose(make_scorer("ort", half).score(frames).scores, a.scores, atol=1e-3)
    with pytest.raises(ValueError, match="alpha"):
        wise_ft.interpolate(base.path, ft.path, 1.5, tmp_path / "bad.fuiqa")
