"""CLI options whose effect no other test checked: ``score --roi x,y,w,h`` / ``full`` / ``--backend
torch``, ``roi`` (the box, not only its types) and ``roi --frame``, the SYNTHETIC model notice,
``FUIQA_DEBUG``.

Expectations come from the scorer API on the same pixels (the CLI is under test, not the scorer)
or from the drawing of the test image (where the fan is).
"""
import csv
import json

import cv2
import numpy as np
import pytest

from app.cli import main
from engine import modelpack
from engine.scorers import OrtScorer
from engine_helpers import package_varied, real_frames

BOX = (40, 20, 240, 200)
#: the CSV holds scores rounded to 3 decimals; ORT is deterministic for the same input
CSV_TOL = 1e-3


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return package_varied(tmp_path_factory.mktemp("holes") / "m.fuiqa", trained=True)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Four real scanner captures (320×240 BGR) as lossless PNGs: the CLI reads the same pixels."""
    d = tmp_path_factory.mktemp("frames")
    frames = real_frames()[:4]
    for i, f in enumerate(frames):
        assert cv2.imwrite(str(d / f"f{i}.png"), f)
    return d, frames


def scores_of(path):
    with open(path, newline="") as f:
        return np.array([float(r["score"]) for r in csv.DictReader(f)])


def test_score_roi_box_is_the_box_scored(tmp_path, capsys, model, folder):
    d, frames = folder
    out = tmp_path / "box.csv"
    rc = main(["score", str(d), "--out", str(out), "--model", str(model.path), "--backend", "ort",
               "--roi", ",".join(map(str, BOX))])
    assert rc == 0, capsys.readouterr().err
    got = scores_of(out)
    with OrtScorer(model) as s:
        want_box = s.score(frames, BOX).scores
        want_full = s.score(frames, None).scores
    # the check can tell the two apart: the box changes the scores by far more than the tolerance
    assert np.max(np.abs(want_box - want_full)) > 100 * CSV_TOL
    np.testing.assert_allclose(got, want_box, atol=CSV_TOL)


def test_score_roi_full_is_the_whole_frame(tmp_path, capsys, model, folder):
    d, frames = folder
    out = tmp_path / "full.csv"
    assert main(["score", str(d), "--out", str(out), "--model", str(model.path), "--backend", "ort",
                 "--roi", "full"]) == 0
    err = capsys.readouterr().err
    assert "roi: whole frame" in err and "confidence" not in err  # said so; no auto-detection was run
    with OrtScorer(model) as s:
        np.testing.assert_allclose(scores_of(out), s.score(frames, None).scores, atol=CSV_TOL)


def test_score_backend_torch_matches_ort(tmp_path, capsys, model, folder):
    d, _ = folder
    a, b = tmp_path / "ort.csv", tmp_path / "torch.csv"
    assert main(["score", str(d), "--out", str(a), "--model", str(model.path), "--backend", "ort", "--roi", "full"]) == 0
    capsys.readouterr()
    assert main(["score", str(d), "--out", str(b), "--model", str(model.path), "--backend", "torch", "--roi", "full"]) == 0
    assert "backend: torch: torch on cpu" in capsys.readouterr().err
    # measured: ORT and torch differ by < 3e-5 points; each CSV value is rounded to 1e-3
    np.testing.assert_allclose(scores_of(b), scores_of(a), atol=1e-3 + 1e-9)


def test_default_model_says_what_it_was_trained_on(tmp_path, capsys, folder):
    """The CLI report names the shipped model's training data, from the file's own metadata
    ("SYNTHETIC" for a synthetic-only model; the real frames once they are in)."""
    d, _ = folder
    pkg = modelpack.load(modelpack.default_model_path())
    want = "SYNTHETIC" if pkg.synthetic else pkg.meta["training_data"]["short"]
    assert main(["score", str(d), "--out", str(tmp_path / "s.csv"), "--roi", "full", "--backend", "ort"]) == 0
    err = capsys.readouterr().err
    model_line = [l for l in err.splitlines() if l.startswith("model:")]
    assert model_line and want in model_line[0]


def test_fuiqa_debug_shows_the_traceback(tmp_path, monkeypatch, capsys):
    """FUIQA_DEBUG=1 lets the error through (for a developer); without it: one line, exit 2."""
    bad = tmp_path / "bad.fuiqa"
    bad.write_bytes(b"")
    args = ["score", "demo", "--model", str(bad), "--out", str(tmp_path / "o.csv")]
    assert main(args) == 2
    monkeypatch.setenv("FUIQA_DEBUG", "1")
    with pytest.raises(modelpack.ModelError, match="empty"):
        main(args)


# ------------------------------------------------------------------ fuiqa roi


def screen(cx: int, seed: int = 0, H: int = 480, W: int = 800):
    """A speckled sector fan with apex at (cx, 40) on a black screen, text in the top band.
    -> (BGR image, fan bounding box from the drawing)."""
    rng = np.random.default_rng(seed)
    fan = np.zeros((H, W), np.uint8)
    cv2.ellipse(fan, (cx, 40), (400, 400), 0, 55, 125, 1, -1)
    img = np.where(fan > 0, rng.rayleigh(45, (H, W)).clip(0, 255), 0).astype(np.uint8)
    cv2.putText(img, "FUIQA  C5-1  OB  FR 30", (10, 25), cv2.FONT_HERSHEY_SIMPLEX, 0.7, 255, 2)
    cv2.putText(img, "MI 1.1", (W - 90, H - 15), cv2.FONT_HERSHEY_SIMPLEX, 0.5, 255, 1)
    ys, xs = np.nonzero(fan)
    box = (int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1))
    return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR), box


def iou(a, b):
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    return inter / (aw * ah + bw * bh - inter)


def test_roi_box_is_the_fan_not_the_frame(tmp_path, capsys):
    img, fan_box = screen(cx=400)
    p = tmp_path / "screen.png"
    cv2.imwrite(str(p), img)
    assert main(["roi", str(p)]) == 0
    d = json.loads(capsys.readouterr().out)
    box = (d["x"], d["y"], d["w"], d["h"])
    assert iou(box, fan_box) > 0.9, (box, fan_box)
    assert d["y"] > 30  # the text band at the top is left out
    assert d["kind"] == "sector" and 0 < d["confidence"] <= 1


def test_roi_frame_option_reads_that_frame(tmp_path, capsys):
    """A folder of two screens whose fans sit at different places: --frame 1 gives the second."""
    d = tmp_path / "clip"
    d.mkdir()
    img0, box0 = screen(cx=300, seed=1)
    img1, box1 = screen(cx=500, seed=2)
    cv2.imwrite(str(d / "a0.png"), img0)
    cv2.imwrite(str(d / "a1.png"), img1)
    assert main(["roi", str(d), "--frame", "1"]) == 0
    r = json.loads(capsys.readouterr().out)
    box = (r["x"], r["y"], r["w"], r["h"])
    assert iou(box, box1) > 0.9 and iou(box, box0) < 0.7, (box, box0, box1)
    assert main(["roi", str(d)]) == 0
    r = json.loads(capsys.readouterr().out)
    assert iou((r["x"], r["y"], r["w"], r["h"]), box0) > 0.9
    assert main(["roi", str(d), "--frame", "5"]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "clip" in err
