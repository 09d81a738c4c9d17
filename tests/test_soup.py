"""tools/soup.py: the uniform mean of several models' weights (density buffers from the first)."""
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


def test_soup_is_the_mean_and_scores(tmp_path):
    import soup

    pk = [package_varied(tmp_path / f"m{i}.fuiqa", trained=True, seed=i, heads=True) for i in (1, 2, 3)]
    out = soup.soup([p.path for p in pk], tmp_path / "soup.fuiqa")
    states, s = [_state(p.path) for p in pk], _state(out.path)
    floats = [k for k in s if s[k].is_floating_point() and not k.startswith("density_")]
    assert floats
    for k in floats:
        np.testing.assert_allclose(s[k].numpy(), sum(st[k] for st in states).numpy() / 3, atol=1e-6)
    for k in (k for k in s if k.startswith("density_")):
        np.testing.assert_array_equal(s[k].numpy(), states[0][k].numpy())
    assert out.meta["soup"]["models"] == [str(p.path) for p in pk]
    frames = [np.random.default_rng(i).integers(0, 256, (120, 160), dtype=np.uint8) for i in range(3)]
    r = make_scorer("ort", out).score(frames)
    assert r.scores.shape == (3,) and np.isfinite(r.scores).all()
    assert not np.allclose(r.scores, make_scorer("ort", pk[0]).score(frames).scores, atol=1e-3)
    with pytest.raises(SystemExit, match="at least two"):
        soup.soup([pk[0].path], tmp_path / "one.fuiqa")
