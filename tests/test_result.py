"""The one result type (engine/result.py) and the model outputs behind it: plane, criteria, OOD,
attention kept inside the imaging region; the CSV columns of `fuiqa score`."""
import csv

import numpy as np
import pytest
import torch

from app.cli import main
from engine import result as R
from engine.model import build_model
from engine.preprocess import preprocess
from engine.scorers import make_scorer
from engine_helpers import package_varied


def test_band_follows_the_number_shown():
    # 59.6 is shown as "60": acceptable, never red; 79.5 shows "80" (round half to even gives 80)
    assert R.band_of(59.6) == "acceptable" and R.band_of(59.4) == "non-standard"
    assert R.band_of(79.6) == "standard" and R.band_of(79.4) == "acceptable"


def _frame(plane, crit=None, **kw):
    h = np.full((4, 4), 70.0, np.float32)
    a = np.full((4, 4), 1 / 16, np.float32)
    return R.FrameResult(score=70.0, heatmap=h, attention=a, plane=plane, criteria_prob=crit, **kw)


def test_checklist_is_the_planes_own_criteria_only():
    probs = {c: 0.9 for c in R.CRITERIA}
    probs["csp"] = 0.2
    f = _frame("head", probs)
    assert list(f.criteria) == ["skull", "midline", "thalami", "csp", "third_ventricle",
                                "structures", "plane", "zoom", "settings", "artefacts"]
    assert f.criteria["csp"] is False and f.criteria["thalami"] is True
    assert "stomach" not in f.criteria
    assert f.plane_label == "Head — transthalamic" and f.assessed
    # a plane the product does not assess says so and has no checklist
    g = _frame("4CH", probs)
    assert not g.assessed and g.criteria is None and "not assessed" in g.plane_label
    # a model without a plane head
    assert _frame(None).plane_label == R.NOT_ASSESSED and _frame(None).criteria is None


def test_an_unsure_plane_says_so_and_keeps_its_plane():
    """Under PLANE_UNSURE the label carries the confidence; the plane (CSV, exam strip) does not change."""
    sure, unsure = _frame("head", plane_confidence=0.93), _frame("head", plane_confidence=0.44)
    assert sure.plane_label == "Head — transthalamic"
    assert unsure.plane_label == "Head — transthalamic (uncertain: 44 %)" and unsure.plane == "head" and unsure.assessed
    assert _frame("none", plane_confidence=0.3).plane_label == "No plane recognised"  # nothing to doubt
    assert _frame("head", plane_confidence=R.PLANE_UNSURE).plane_label == "Head — transthalamic"
    # from a batch result: the top probability is the confidence
    res = R.ScoreResult(np.array([60.0, 60.0], np.float32), np.full((2, 4, 4), 60.0, np.float32),
                        plane_probs=np.array([[0.05, 0.45, 0.40, 0.05, 0.05], [0.0, 0.9, 0.1, 0.0, 0.0]], np.float32))
    assert res[0].plane_label.endswith("(uncertain: 45 %)") and res[1].plane_label == "Head — transthalamic"


def test_deficit_sums_to_points_lost():
    rng = np.random.default_rng(0)
    q = rng.uniform(0, 100, (5, 5)).astype(np.float32)
    a = rng.uniform(0, 1, (5, 5)).astype(np.float32)
    a /= a.sum()
    f = R.FrameResult(score=float((a * q).sum()), heatmap=q, attention=a)
    assert f.deficit.sum() == pytest.approx(100 - f.score, abs=1e-3)
    assert np.all(f.deficit >= 0)


def test_batch_result_indexes_concat_and_ood_flag():
    n = 3
    r = R.ScoreResult(np.array([10, 50, 90], np.float32), np.zeros((n, 2, 2), np.float32),
                      np.full((n, 2, 2), 0.25, np.float32),
                      plane_probs=np.eye(len(R.PLANES), dtype=np.float32)[[1, 2, 0]],
                      criteria=np.full((n, len(R.CRITERIA)), 0.7, np.float32),
                      ood_score=np.array([1.0, 5.0, 9.0], np.float32), ood_threshold=4.0)
    assert r.planes == ["head", "abdomen", "none"]
    assert list(r.ood) == [False, True, True]
    both = R.concat([r, r])
    assert len(both) == 6 and both[4].plane == "abdomen" and both[-1].ood is True
    assert [f.index for f in r] == [0, 1, 2]
    with pytest.raises(IndexError):
        r[3]
    cells = R.csv_cells(r[0])
    assert len(cells) == len(R.CSV_COLUMNS) and cells[:2] == ["non-standard", "head"]
    crit = dict(zip(R.CSV_COLUMNS, cells))
    assert crit["crit_thalami"] == 1 and crit["crit_stomach"] == "" and crit["ood"] == 0
    assert crit["ood_reason"] == "" and dict(zip(R.CSV_COLUMNS, R.csv_cells(r[1])))["ood_reason"] == \
        "unlike the training data"


def test_model_heads_shapes_and_attention_stays_inside_the_image():
    torch.manual_seed(0)
    m = build_model("rt").eval()
    S, H = m.cfg.input_size, m.cfg.input_size // m.cfg.grid_stride
    # a frame whose left half is black (outside the fan) and right half speckle
    img = np.zeros((S, S), np.uint8)
    img[:, S // 2:] = np.random.default_rng(0).integers(30, 200, (S, S // 2))
    x = torch.from_numpy(preprocess(img, None, S))[None]
    o = m.outputs(x)
    assert o["plane"].shape == (1, len(R.PLANES)) and o["criteria"].shape == (1, len(R.CRITERIA))
    assert torch.allclose(o["plane"].sum(1), torch.ones(1), atol=1e-5)
    assert torch.all((o["criteria"] >= 0) & (o["criteria"] <= 1))
    att = o["attention"][0]
    assert float(att[:, : H // 2].sum()) < 1e-3  # black cells carry no attention
    assert float(att[:, H // 2 :].sum()) == pytest.approx(1.0, abs=1e-3)
    # the score is still exactly the attention-weighted quality map
    assert float(o["score"][0]) == pytest.approx(float((att * o["heatmap"][0]).sum()), abs=1e-3)


def test_density_output_is_the_mahalanobis_distance():
    """ood_features="embedding" (models before the speckle statistics): the heads' embedding."""
    from dataclasses import replace

    from engine.model import MQFNet, arch

    torch.manual_seed(0)
    m = MQFNet(replace(arch("rt"), ood_features="embedding", ood_ratio=False)).eval()
    assert m.ood_dim == m.embed_dim
    d = m.embed_dim
    mean = torch.randn(d)
    prec = torch.diag(torch.rand(d) + 0.5)
    m.set_density(mean, prec)
    x = torch.randn(2, 1, m.cfg.input_size, m.cfg.input_size)
    o = m.outputs(x)
    e = o["embedding"] - mean
    ref = ((e @ prec) * e).sum(1)
    assert torch.allclose(o["ood"], ref, rtol=1e-4)


def test_ratio_density_fires_far_from_the_scans_or_nearer_the_non_ultrasound_gaussian():
    """ood_ratio (new models): output = max(d_scans − cut_far, d_scans − d_none − cut_ratio), a margin
    (fires above 0); the two Gaussians and the cut-offs are buffers of the graph."""
    from engine.model import MQFNet, arch

    torch.manual_seed(2)
    m = MQFNet(arch("rt")).eval()
    assert m.cfg.ood_ratio and m.density_cut.shape == (2,)
    D = m.ood_dim
    mean, prec = torch.randn(D), torch.diag(torch.rand(D) + 0.5)
    mean0, prec0 = torch.randn(D), torch.diag(torch.rand(D) + 0.1)
    with pytest.raises(ValueError, match="non-ultrasound"):
        m.set_density(mean, prec)  # this model needs both Gaussians
    m.set_density(mean, prec, mean0, prec0, (300.0, -50.0))
    x = torch.randn(3, 1, m.cfg.input_size, m.cfg.input_size)
    with torch.no_grad():
        o = m.outputs(x)
    v = o["ood_features"]
    d1 = (((v - mean) @ prec) * (v - mean)).sum(1)
    d0 = (((v - mean0) @ prec0) * (v - mean0)).sum(1)
    ref = torch.maximum(d1 - 300.0, d1 - d0 + 50.0)
    assert torch.allclose(o["ood"], ref, rtol=1e-4, atol=1e-2)
    # a feature vector at the scans' mean is in distribution unless it is nearer the other Gaussian
    assert "density_mean0" in m.state_dict() and "density_mean0" not in MQFNet(
        __import__("dataclasses").replace(arch("rt"), ood_ratio=False)).state_dict()


def test_speckle_density_sees_the_embedding_and_the_input_s_speckle_statistics():
    """ood_features="embedding+speckle": the density vector is the embedding plus engine.speckle's
    statistics of the gray input; the ood output is the Mahalanobis distance of that vector."""
    from dataclasses import replace

    from engine.model import MQFNet, arch
    from engine.preprocess import MEAN, STD
    from engine.speckle import N_FEATURES, speckle_stats

    torch.manual_seed(1)
    m = MQFNet(replace(arch("rt"), ood_features="embedding+speckle", ood_ratio=False)).eval()
    assert m.ood_dim == m.embed_dim + N_FEATURES == m.density_mean.shape[0]
    S = m.cfg.input_size
    x = torch.randn(3, 1, S, S)
    with torch.no_grad():
        o = m.outputs(x)
    v = o["ood_features"]
    assert torch.allclose(v[:, : m.embed_dim], o["embedding"], atol=1e-5)
    assert torch.allclose(v[:, m.embed_dim :], speckle_stats(x * STD + MEAN), atol=1e-5)
    mean, prec = torch.randn(m.ood_dim), torch.diag(torch.rand(m.ood_dim) + 0.5)
    m.set_density(mean, prec)
    with torch.no_grad():
        o = m.outputs(x)
    d = o["ood_features"] - mean
    assert torch.allclose(o["ood"], ((d @ prec) * d).sum(1), rtol=1e-4)
    with pytest.raises(ValueError, match="ood_features"):
        MQFNet(replace(arch("rt"), ood_features="pixels"))


def test_speckle_statistics_tell_speckle_from_a_smooth_image():
    """Fully developed speckle (Rayleigh amplitude: local std/mean ≈ 0.52) puts its coefficient-of-
    variation mass near 0.45–0.6; a smooth gradient puts it in the first bin; black is no image."""
    from engine.speckle import CENTRES, speckle_stats

    rng = np.random.default_rng(0)
    S = 128
    ray = np.sqrt(rng.normal(0, 1, (S, S)) ** 2 + rng.normal(0, 1, (S, S)) ** 2)
    speck = torch.tensor(np.clip(0.3 * ray / ray.mean(), 0, 1), dtype=torch.float32)[None, None]
    smooth = torch.linspace(0.2, 0.8, S).repeat(S, 1)[None, None]
    black = torch.zeros(1, 1, S, S)
    f = speckle_stats(torch.cat([speck, smooth, black]))
    h5 = f[:, 9:18]  # the 5x5 coefficient-of-variation histogram
    peak = [CENTRES[int(i)] for i in h5.argmax(1)]
    assert 0.3 <= peak[0] <= 0.6 and peak[1] == 0.0
    assert float(f[0, 36]) > 0.95 and float(f[1, 36]) > 0.95 and float(f[2, 36]) == 0.0  # share that is image
    assert float(f[2].abs().sum()) == 0.0
    assert float(f[0, 37]) > 3 * float(f[1, 37])  # fine grain: speckle, not a gradient


def test_scorers_carry_plane_criteria_and_ood_end_to_end(tmp_path):
    pkg = package_varied(tmp_path / "h.fuiqa", trained=True, heads=True)
    assert pkg.meta["heads"]["planes"] == list(R.PLANES)
    frames = [np.random.default_rng(i).integers(0, 255, (120, 160), dtype=np.uint8) for i in range(3)]
    ort = make_scorer("ort", pkg).score(frames)
    tch = make_scorer("torch", pkg).score(frames)
    assert ort.plane_probs.shape == (3, len(R.PLANES)) and ort.criteria.shape == (3, len(R.CRITERIA))
    np.testing.assert_allclose(ort.plane_probs, tch.plane_probs, atol=1e-4)
    np.testing.assert_allclose(ort.criteria, tch.criteria, atol=1e-4)
    np.testing.assert_allclose(ort.scores, tch.scores, atol=1e-3)
    # no density fitted in this package: no OOD verdict, never a made-up one
    assert ort[0].ood is None and ort[0].plane in R.PLANES
    old = make_scorer("ort", package_varied(tmp_path / "o.fuiqa", trained=True, heads=False)).score(frames)
    assert old.plane_probs is None and old[0].plane is None and old[0].criteria is None


def test_score_csv_has_plane_criteria_and_ood_columns(tmp_path):
    import cv2

    pkg = package_varied(tmp_path / "h.fuiqa", trained=True, heads=True)
    img = np.zeros((240, 320), np.uint8)
    cv2.ellipse(img, (160, 0), (230, 230), 0, 50, 130, 120, -1)
    src = tmp_path / "f.png"
    cv2.imwrite(str(src), img)
    out = tmp_path / "s.csv"
    assert main(["score", str(src), "--out", str(out), "--model", str(pkg.path), "--backend", "ort", "--no-progress"]) == 0
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[:4] == ["source", "frame", "time_s", "score"]
    assert {"plane", "ood", "crit_thalami", "crit_structures"} <= set(rows[0])
    assert rows[0]["plane"] in R.PLANES and rows[0]["band"] == R.band_of(float(rows[0]["score"]))


def test_model_file_says_what_it_was_trained_on(tmp_path):
    """Banners and reports take the training data from the model file: synthetic-only says so, a model
    with real frames says which (never 'synthetic only' once real frames are in)."""
    from engine import modelpack

    syn = package_varied(tmp_path / "s.fuiqa", trained=True)
    meta = dict(syn.meta, synthetic_training_data=True)
    assert modelpack.save(tmp_path / "s2.fuiqa", meta, syn.onnx, syn.weights).training_note == "SYNTHETIC DATA"
    meta = dict(syn.meta, synthetic_training_data=False,
                training_data={"short": "SYNTHETIC + 468 REAL HC18 HEAD FRAMES", "long": "…"})
    real = modelpack.save(tmp_path / "r.fuiqa", meta, syn.onnx, syn.weights)
    assert real.training_note == "SYNTHETIC + 468 REAL HC18 HEAD FRAMES" and not real.synthetic
    assert "trained on SYNTHETIC + 468 REAL HC18 HEAD FRAMES" in real.describe()  # one phrase, no comma inside
    # one wording for the live banner, the exam report and the cine report
    assert real.training_warning() == "MODEL TRAINED ON SYNTHETIC + 468 REAL HC18 HEAD FRAMES — not yet validated for clinical use"
    assert modelpack.load(tmp_path / "s2.fuiqa").training_warning().startswith("MODEL TRAINED ON SYNTHETIC DATA — ")
    meta = dict(syn.meta, synthetic_training_data=False)
    meta.pop("training_data", None)
    assert modelpack.save(tmp_path / "n.fuiqa", meta, syn.onnx, syn.weights).training_warning() is None


def test_ratio_density_still_fires_when_fp16_overflows():
    """A frame far from both Gaussians: in FP16 both distances overflow; capped, the check still fires
    (inf − inf would be NaN, and NaN > 0 is False)."""
    from engine.model import OOD_CAP, MQFNet, arch

    torch.manual_seed(3)
    m = MQFNet(arch("rt")).eval()
    D = m.ood_dim
    # distances ~8e4: above FP16's largest number (65504), fine in FP32
    m.set_density(torch.zeros(D), torch.eye(D) * 3e4, torch.zeros(D), torch.eye(D) * 3e4, (300.0, 0.0))
    x = torch.rand(2, 1, m.cfg.input_size, m.cfg.input_size)
    with torch.no_grad():
        o = m.outputs(x)
    assert torch.all(o["ood"] > 0) and torch.all(o["ood"] <= OOD_CAP)  # cut-off 300: the cap is 6e4
    h = m.half()  # FP16 as on a GPU: both distances overflow to inf before the cap
    with torch.no_grad():
        oh = h.outputs(x.half())["ood"].float()
    assert not torch.any(torch.isnan(oh)) and torch.all(oh > 0)
