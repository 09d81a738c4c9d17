"""Scorers: ORT vs torch agreement on real frames, explicit input rules, chunking, auto choice."""
import sys

import numpy as np
import pytest

from engine import modelpack
from engine.scorers import BackendUnavailable, OrtScorer, TorchScorer, make_scorer, normalize_inputs
from engine_helpers import package_varied, real_frames


@pytest.fixture(scope="module")
def pkg(tmp_path_factory):
    return package_varied(tmp_path_factory.mktemp("m") / "varied.fuiqa")


@pytest.fixture(scope="module")
def frames():
    return real_frames()


@pytest.fixture(scope="module")
def ort_scorer(pkg):
    return OrtScorer(pkg)


def test_ort_and_torch_agree_on_real_frames(pkg, frames, ort_scorer):
    rois = [None, (40, 20, 240, 200), None, (0, 0, 320, 240), (100, 50, 400, 300), None]
    a = ort_scorer.score(frames, rois)
    b = TorchScorer(pkg, device="cpu").score(frames, rois)
    H = pkg.input_size // pkg.meta["arch"]["grid_stride"]
    assert a.scores.shape == (6,) and a.heatmaps.shape == (6, H, H) and a.attention.shape == (6, H, H)
    assert np.all((a.scores >= 0) & (a.scores <= 100))
    # the comparison means something: the frames get clearly different scores
    assert np.ptp(a.scores) > 1.0
    # measured: scores differ by ≤ 3e-5 points, heatmaps by ≤ 5e-4 (float32 op order)
    assert np.max(np.abs(a.scores - b.scores)) < 1e-3
    assert np.max(np.abs(a.heatmaps - b.heatmaps)) < 5e-3


def test_single_frame_list_and_batch_array_give_the_same_scores(ort_scorer, frames):
    f = frames[0]
    gray = f[:, :, 1].copy()
    one, _ = ort_scorer.score_one(f)
    assert ort_scorer.score([f]).scores[0] == pytest.approx(one, abs=1e-4)
    stack = np.stack([f, f[::-1].copy()])  # (N,H,W,C)
    r4 = ort_scorer.score(stack)
    rl = ort_scorer.score([f, f[::-1].copy()])
    np.testing.assert_allclose(r4.scores, rl.scores, atol=1e-4)
    assert ort_scorer.score(gray).scores.shape == (1,)  # a 2-D array is one gray frame
    s_gray, _ = ort_scorer.score_one(gray)
    assert ort_scorer.score(gray).scores[0] == pytest.approx(s_gray, abs=1e-4)


def test_three_d_array_is_refused_not_guessed(ort_scorer, frames):
    with pytest.raises(ValueError, match="ambiguous"):
        ort_scorer.score(frames[0])  # H×W×3: one colour frame or 240 gray frames? refuse
    with pytest.raises(ValueError, match="ambiguous"):
        ort_scorer.score(np.zeros((5, 64, 64), np.uint8))
    with pytest.raises(TypeError):
        ort_scorer.score("frame.png")


def test_roi_forms(ort_scorer, frames):
    f = frames[0]
    box = (40, 20, 240, 200)

    class RoiLike:
        def __init__(self, b):
            self.box = b

    a = ort_scorer.score([f, f], box).scores
    b = ort_scorer.score([f, f], [box, box]).scores
    c = ort_scorer.score([f, f], RoiLike(box)).scores
    d = ort_scorer.score([f, f], np.array(box)).scores
    e = ort_scorer.score([f, f], [list(box), RoiLike(box)]).scores
    for other in (b, c, d, e):
        np.testing.assert_allclose(a, other, atol=1e-4)
    full = ort_scorer.score([f], None).scores[0]
    mixed = ort_scorer.score([f, f], [None, box]).scores
    assert mixed[0] == pytest.approx(full, abs=1e-4) and mixed[1] == pytest.approx(a[0], abs=1e-4)
    with pytest.raises(ValueError, match="2 ROIs for 3 frames"):
        ort_scorer.score([f, f, f], [box, box])
    with pytest.raises(ValueError, match="no area"):
        ort_scorer.score([f], (0, 0, 0, 10))
    with pytest.raises(ValueError, match="not 4"):
        normalize_inputs([f], [(1, 2, 3)])


def test_large_inputs_are_chunked_with_identical_results(pkg, frames):
    s = OrtScorer(pkg)
    many = [frames[i % len(frames)] for i in range(11)]
    whole = s.score(many).scores
    s.max_batch = 4
    chunked = s.score(many)
    H = pkg.input_size // pkg.meta["arch"]["grid_stride"]
    assert chunked.scores.shape == (11,) and chunked.heatmaps.shape == (11, H, H)
    np.testing.assert_allclose(whole, chunked.scores, atol=1e-4)
    # results are not views of the reused batch buffer: scoring again does not change them
    keep = chunked.scores.copy()
    s.score([np.zeros((64, 64), np.uint8)] * 4)
    np.testing.assert_array_equal(keep, chunked.scores)


def test_empty_input_gives_empty_result(ort_scorer):
    r = ort_scorer.score([])
    assert r.scores.shape == (0,) and r.heatmaps.shape[0] == 0


def test_auto_falls_back_to_ort_and_says_why(pkg, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # import tensorrt -> ImportError
    s = make_scorer("auto", pkg)
    assert s.backend == "onnxruntime"
    assert s.reason.startswith("TensorRT not installed (")
    assert "ImportError" in s.reason or "ModuleNotFoundError" in s.reason
    assert "using ONNX Runtime on the CPU" in s.reason
    with pytest.raises(BackendUnavailable, match="TensorRT not installed"):
        make_scorer("tensorrt", pkg)
    assert "asked for" in make_scorer("ort", pkg).reason


def test_unknown_backend_and_bad_model(pkg, tmp_path):
    with pytest.raises(ValueError, match="unknown backend"):
        make_scorer("cuda", pkg)
    bad = tmp_path / "bad.fuiqa"
    bad.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(modelpack.ModelError, match="bad.fuiqa"):
        make_scorer("ort", str(bad))


def test_untrained_warning_and_trained_none(pkg, tmp_path):
    assert make_scorer("ort", pkg).warning.startswith("UNTRAINED MODEL")
    trained = package_varied(tmp_path / "t.fuiqa", trained=True)
    assert make_scorer("ort", trained).warning is None


def test_ort_thread_setting(pkg, monkeypatch):
    monkeypatch.setenv("FUIQA_ORT_THREADS", "1")
    s = OrtScorer(pkg)
    assert s.threads == 1 and "1 thread)" in s.reason
    assert OrtScorer(pkg, threads=2).threads == 2


def test_one_scorer_used_from_several_threads(pkg, frames):
    import threading

    s = OrtScorer(pkg)
    want = {i: s.score([frames[i]]).scores[0] for i in range(len(frames))}
    errors = []

    def work(i):
        for _ in range(30):
            got = s.score([frames[i], frames[i]]).scores
            if abs(got[0] - want[i]) > 1e-3 or abs(got[1] - want[i]) > 1e-3:
                errors.append((i, got, want[i]))

    ts = [threading.Thread(target=work, args=(i,)) for i in range(len(frames))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors
