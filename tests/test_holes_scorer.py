"""Scorer input rules the other tests left open (engine/scorers.py docstring): an (N, 4) array holds
one ROI per frame, also when N is 4; each frame is scored with its own ROI, in order."""
import numpy as np
import pytest

from engine.scorers import OrtScorer
from engine_helpers import package_varied, real_frames


@pytest.fixture(scope="module")
def scorer(tmp_path_factory):
    return OrtScorer(package_varied(tmp_path_factory.mktemp("sc") / "m.fuiqa"))


def test_n_by_4_array_is_one_roi_per_frame_even_for_four_frames(scorer):
    f = real_frames()[0]
    boxes = [(0, 0, 320, 240), (40, 20, 240, 200), (100, 50, 200, 150), (10, 100, 300, 120)]
    alone = np.array([scorer.score([f], b).scores[0] for b in boxes])
    assert np.ptp(alone) > 0.5  # the boxes give clearly different scores
    got = scorer.score([f] * 4, np.array(boxes)).scores
    np.testing.assert_allclose(got, alone, atol=1e-4)
    np.testing.assert_allclose(scorer.score([f] * 4, boxes).scores, alone, atol=1e-4)


def test_score_one_uses_its_roi(scorer):
    f = real_frames()[0]
    box = (40, 20, 240, 200)
    s_box, hm = scorer.score_one(f, box)
    assert s_box == pytest.approx(float(scorer.score([f], box).scores[0]), abs=1e-4)
    assert abs(s_box - scorer.score_one(f)[0]) > 0.5 and hm.ndim == 2


@pytest.mark.parametrize("box", [(10, 10, 1, 50), (10, 10, 50, 1), (0, 0, 1, 1)])
def test_smallest_rois_are_accepted(scorer, box):
    """w, h > 0 is the rule (docs/INTERFACES.md): a 1-pixel side is a valid ROI, not an error."""
    f = real_frames()[0]
    s = scorer.score([f], box).scores
    assert s.shape == (1,) and 0 <= s[0] <= 100
    with pytest.raises(ValueError, match="no area"):
        scorer.score([f], (box[0], box[1], 0, box[3]))


def test_batch_buffer_is_reused_not_reallocated(scorer):
    """"into a reused batch buffer": a smaller batch after a larger one reuses its memory."""
    big = scorer._batch(4)
    small = scorer._batch(2)
    assert np.shares_memory(big, small) and small.shape[0] == 2
