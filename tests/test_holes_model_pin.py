"""The preprocessing the shipped model was trained with is the one that runs: its metadata records
the normalisation and the scores it gave on fixed frames when it was built (tools/train_default.py),
and today's path must reproduce them. A changed MEAN/STD, gray conversion or letterbox fails here
even where every other test compares the code with itself."""
import numpy as np
import pytest

from engine import modelpack
from engine import preprocess as P
from engine.scorers import make_scorer


@pytest.fixture(scope="module")
def shipped():
    return modelpack.load(modelpack.default_model_path())


def test_normalisation_is_the_one_the_model_was_trained_with(shipped):
    pre = shipped.meta["preprocess"]
    assert (P.MEAN, P.STD) == (pre["mean"], pre["std"])
    assert pre["color"] == "gray" and pre["letterbox"] is True


def test_shipped_model_reproduces_its_recorded_scores(shipped):
    """`real_frames` in the metadata: scores (rounded to 0.1) of a black frame and of seeded snow,
    both whole-frame (the ROI finder falls back to the full frame on them)."""
    rec = shipped.meta["real_frames"]
    frames = {"black": np.zeros((480, 640, 3), np.uint8),
              "noise": np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)}
    with make_scorer("ort", shipped) as s:
        for name, img in frames.items():
            got = float(s.score([img], None).scores[0])
            assert got == pytest.approx(rec[name], abs=0.05 + 1e-3), (name, got, rec[name])
