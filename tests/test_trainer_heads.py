"""Trainer: plane and criteria targets from labels.csv, fine-tuning from a packaged model, and the
"unlike the training data" density stored in the model and calibrated on held-out data."""
import numpy as np
import pytest

from engine import modelpack
from engine.result import CRITERIA, PLANES
from engine.scorers import make_scorer
from train.data import Item
from train.trainer import Prepared, Split, TrainConfig, fit, head_targets
from test_trainer import fake_images


def _item(plane=None, **extra):
    return Item("a.png", None, 50.0, None, "train", plane, None, extra)


def test_head_targets_from_plane_flags_and_missing_structures():
    flags = {"f_structures": "0", "f_plane": "1", "f_zoom": "1", "f_settings": "0", "f_artefacts": "1",
             "missing": "csp;third_ventricle"}
    plane, crit = head_targets([_item("head", **flags), _item("negative"), _item(None), _item("4CH"), _item("lung")])
    assert list(plane) == [PLANES.index("head"), PLANES.index("none"), -1, PLANES.index("4CH"), -1]
    c = dict(zip(CRITERIA, crit[0]))
    assert c["structures"] == 0 and c["plane"] == 1 and c["settings"] == 0
    assert c["thalami"] == 1 and c["csp"] == 0 and c["third_ventricle"] == 0
    assert np.isnan(c["stomach"]) and np.isnan(c["diaphysis"])  # other planes' structures: not applicable
    assert np.all(np.isnan(crit[2]))  # a site's labels.csv with only mos: score only


def _prepared_with_planes(seed=0):
    x, y = fake_images(80, seed=seed)
    # plane: bright frames "head", the rest "abdomen" (learnable); every 5th a 4CH frame (no score label)
    plane = np.where(x.reshape(80, -1).mean(1) > np.median(x.reshape(80, -1).mean(1)), 1, 2)
    plane[::5] = PLANES.index("4CH")
    crit = np.full((80, len(CRITERIA)), np.nan, np.float32)
    crit[:, 0] = (y > 50).astype(np.float32)

    def S(a, b):
        return Split(x[a:b], y[a:b], [f"i{i}" for i in range(a, b)], plane=plane[a:b], crit=crit[a:b])

    return Prepared(S(0, 48), S(48, 64), S(64, 80), 128, "hash-heads")


def test_fit_trains_heads_fits_density_and_finetunes(tmp_path):
    data = _prepared_with_planes()
    cfg = TrainConfig(epochs=2, batch_size=16, mixing="none", eval_boot=0, bn_recal=0, patience=5)
    res = fit(data, tmp_path / "a", cfg)
    pkg = modelpack.load(res.model_path)
    ood = pkg.meta["ood"]
    # no "none" rows here: the distance alone (its cut-off in the graph, the output a margin over 0)
    assert ood["threshold"] == 0.0 and ood["cut_far"] > 0 and ood["n_calib"] == 16 - int(np.sum(data.val.plane == 0))
    assert {"plane_accuracy", "criteria_accuracy"} <= set(res.metrics)
    s = make_scorer("ort", pkg)
    r = s.score(list(data.val.x))
    # calibrated on these held-out frames at the 99 % quantile: at most one of 16 raises the density's
    # flag (the density alone: the result's ood also or's in engine/bmode.py's checks of the frame)
    assert int(np.sum(r.ood_score > r.ood_threshold)) <= 1
    # a checkerboard is nothing like speckle + ellipse: flagged by the density
    board = (np.indices((128, 128)).sum(0) // 8 % 2 * 255).astype(np.uint8)
    rb = s.score([board])
    assert rb.ood_score[0] > rb.ood_threshold and rb.ood[0]
    # fine-tuning starts from the packaged weights: a fresh model after init_weights scores as the package
    import torch

    from engine.model import build_model
    from train.trainer import init_weights

    torch.manual_seed(123)
    m = build_model("rt")
    init_weights(m, res.model_path)
    xin = torch.from_numpy((data.test.x[:, None] / 255.0 - 0.2) / 0.25).float()
    with torch.no_grad():
        got = m.eval()(xin)[0].numpy()
    np.testing.assert_allclose(got, s.score_tensor(xin.numpy()).scores, atol=1e-3)
    res2 = fit(data, tmp_path / "b", TrainConfig(epochs=1, batch_size=16, mixing="none", eval_boot=0,
                                                 init_from=str(res.model_path)))
    assert res2.model_path.exists() and modelpack.load(res2.model_path).meta["train_config"]["init_from"]


def test_init_from_refuses_a_model_of_another_shape(tmp_path):
    from engine.model import build_model
    from train.trainer import TrainError, init_weights
    from engine_helpers import package_varied

    pkg = package_varied(tmp_path / "rt.fuiqa")
    with pytest.raises(TrainError, match="does not fit"):
        init_weights(build_model("gpu"), pkg.path)


def test_density_with_non_ultrasound_rows_fits_the_ratio_and_keeps_scans_in():
    """Rows labelled "none" (noise frames here) get their own Gaussian: the check then fires on frames
    nearer them than the scans, while held-out scans stay in at about the calibrated rate."""
    import torch

    from engine.model import build_model
    from train.evaluation import fit_density

    x, y = fake_images(120, seed=3)
    rng = np.random.default_rng(4)
    noise = rng.integers(0, 256, (40,) + x.shape[1:], dtype=np.uint8)
    xs = np.concatenate([x, noise])
    plane = np.r_[np.full(120, PLANES.index("head")), np.full(40, PLANES.index("none"))]
    order = rng.permutation(160)
    xs, plane = xs[order], plane[order]
    ys = np.r_[y, np.zeros(40, np.float32)][order]

    def S(a, b):
        return Split(xs[a:b], ys[a:b], [f"i{i}" for i in range(a, b)], plane=plane[a:b])

    data = Prepared(S(0, 110), S(110, 150), S(150, 160), 128, "hash-ratio")
    torch.manual_seed(0)
    m = build_model("rt", input_size=128).eval()
    info = fit_density(m, data, torch.device("cpu"), n_fit=200)
    assert info["n_fit_none"] == int(np.sum(data.train.plane == 0)) > 20
    assert info["threshold"] == 0.0 and info["cut_ratio"] != info["cut_far"]
    assert info["quantile"] == 0.99 and info["ratio_quantile"] == pytest.approx(0.995)
    from train.evaluation import _outputs

    o = _outputs(m, data.val.x, torch.device("cpu"))["ood"]
    scans = data.val.plane != 0
    # calibrated on these (99 % far, 99.5 % ratio): each cut-off leaves out at most the top frame
    assert np.sum(o[scans] > 0) <= 2 and info["val_fired"] == pytest.approx(np.mean(o[scans] > 0), abs=1e-3)
    assert np.mean(o[~scans] > 0) == 1.0  # noise frames: nearer the non-ultrasound Gaussian
