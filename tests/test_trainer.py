"""Trainer: learns on a small labelled folder, handles bad data, stops cleanly and resumes."""
import csv
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from train import trainer as T
from train.trainer import Prepared, Split, TrainConfig, TrainError, fit

ROOT = Path(__file__).resolve().parents[1]


def fake_images(n, size=128, seed=0):
    """Speckle images with an elliptic structure; the label (0–100) is the structure's sharpness and
    the speckle contrast, at equal mean brightness — learnable, but not by the mean gray level."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for _ in range(n):
        q = rng.uniform(0, 1)
        speckle = cv2.GaussianBlur(rng.gamma(1.0, 1.0, (size, size)).astype(np.float32), (0, 0), 1.0)
        speckle = 1 + (0.3 + 0.7 * q) * (speckle - speckle.mean())
        img = np.zeros((size, size), np.float32)
        c = (size // 2 + int(rng.integers(-10, 10)), size // 2 + int(rng.integers(-8, 8)))
        cv2.ellipse(img, c, (int(size * 0.3), int(size * 0.2)), float(rng.uniform(0, 180)), 0, 360, 1.0, 3)
        img = cv2.GaussianBlur(img, (0, 0), 1.0 + 6 * (1 - q))
        img = img / (img.max() + 1e-6)
        out = (0.35 + 0.5 * img) * speckle
        out = out / out.mean() * 0.45
        xs.append(np.clip(out * 255, 0, 255).astype(np.uint8))
        ys.append(100 * q)
    return np.stack(xs), np.array(ys, np.float32)


def _prepared(n_train=48, n_val=16, n_test=16, seed=0):
    x, y = fake_images(n_train + n_val + n_test, seed=seed)
    S = lambda a, b: Split(x[a:b], y[a:b], [f"i{i}" for i in range(a, b)])  # noqa: E731
    return Prepared(S(0, n_train), S(n_train, n_train + n_val), S(n_train + n_val, len(y)), 128, "hash0")


def write_folder(root: Path, n: int, seed=0) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    x, y = fake_images(n, seed=seed)
    (root / "images").mkdir(exist_ok=True)
    with open(root / "labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["name", "mos"])
        for i, (im, q) in enumerate(zip(x, y)):
            # not square, with a dark border: exercises ROI + letterbox
            frame = np.zeros((150, 170), np.uint8)
            frame[11:139, 21:149] = im
            cv2.imwrite(str(root / "images" / f"img_{i:03d}.png"), frame)
            w.writerow([f"images/img_{i:03d}.png", f"{q:.2f}"])
    return root


#: the product default is no mixing (docs/ablation.md); these small runs keep exercising CMX
SMALL = dict(epochs=2, batch_size=16, eval_boot=50, k=3, patience=5, mixing="cmx")


def test_config_json_roundtrip_and_errors(tmp_path):
    p = tmp_path / "c.json"
    p.write_text(json.dumps({"epochs": 3, "loss": "mse", "fractions": [0.6, 0.2, 0.2]}))
    c = TrainConfig.from_json(p)
    assert c.epochs == 3 and c.loss == "mse" and c.fractions == (0.6, 0.2, 0.2) and c.mixing == "none"
    p.write_text(json.dumps({"epoch": 3}))
    with pytest.raises(TrainError, match="unknown option.*epoch"):
        TrainConfig.from_json(p)
    p.write_text("{not json")
    with pytest.raises(TrainError, match="c.json.*not valid JSON"):
        TrainConfig.from_json(p)
    with pytest.raises(TrainError, match="loss must be"):
        TrainConfig(loss="huber")
    for f in sorted((ROOT / "train" / "configs").glob("*.json")):
        TrainConfig.from_json(f)  # shipped configs are valid


def test_augment_is_mild_and_keeps_shape():
    g = torch.rand(4, 1, 32, 32) * 0.5 + 0.25
    a = T.augment(g, TrainConfig(), torch.Generator().manual_seed(0))
    assert a.shape == g.shape and a.min() >= 0 and a.max() <= 1
    # mean brightness (a quality factor) changes by only a few per cent
    assert torch.allclose(a.mean((1, 2, 3)), g.mean((1, 2, 3)), rtol=0.12)


def test_u8_cache_is_exact_preprocess():
    from engine.preprocess import preprocess

    img = (np.random.default_rng(0).random((90, 120)) * 255).astype(np.uint8)
    x = preprocess(img, None, 128)
    back = T.to_model_input(T.u8_to_gray01(T.input_to_u8(x[0])))
    np.testing.assert_allclose(back, x[0], atol=1e-5)


def test_stop_then_resume_matches_uninterrupted(tmp_path):
    data = _prepared()
    cfg = TrainConfig(**{**SMALL, "epochs": 3})
    full = fit(data, tmp_path / "a", cfg, resume=False, write_model=False)
    calls = {"n": 0}

    def stop():  # stop in the middle of the second epoch (3 steps per epoch)
        calls["n"] += 1
        return calls["n"] == 5

    events = []
    r1 = fit(data, tmp_path / "b", cfg, progress=events.append, should_stop=stop, write_model=False)
    assert r1.stopped and r1.model_path is None and r1.epochs_run == 1
    assert events[-1]["event"] == "stopped" and (tmp_path / "b" / "checkpoint.pt").exists()
    assert not (tmp_path / "b" / "model.fuiqa").exists()
    events = []
    r2 = fit(data, tmp_path / "b", cfg, progress=events.append, write_model=False)
    assert any(e["event"] == "resume" and e["epoch"] == 1 for e in events)
    assert not r2.stopped and len(r2.history) == 3
    for h1, h2 in zip(full.history, r2.history):
        assert h1["train_loss"] == pytest.approx(h2["train_loss"], rel=1e-5)
        assert h1["val_srcc"] == pytest.approx(h2["val_srcc"], abs=1e-6)
    assert full.metrics["srcc"] == pytest.approx(r2.metrics["srcc"], abs=1e-6)
    # a checkpoint from another config is not silently resumed
    with pytest.raises(TrainError, match="another config"):
        fit(data, tmp_path / "b", TrainConfig(**{**SMALL, "epochs": 4}), resume=True, write_model=False)


def test_exception_in_progress_callback_leaves_checkpoint(tmp_path):
    data = _prepared()
    cfg = TrainConfig(**SMALL)

    def boom(ev):
        if ev["event"] == "step" and ev["epoch"] == 2:
            raise KeyboardInterrupt  # a kill mid-epoch

    with pytest.raises(KeyboardInterrupt):
        fit(data, tmp_path, cfg, progress=boom, write_model=False)
    ck = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert ck["epoch"] == 0
    r = fit(data, tmp_path, cfg, write_model=False)
    assert len(r.history) == 2 and not r.stopped


@pytest.mark.parametrize("loss,mixing", [("mse", "mixup"), ("nin", "cmixup"), ("l1", "none")])
def test_other_losses_and_mixings_run(tmp_path, loss, mixing):
    r = fit(_prepared(32, 8, 8), tmp_path, TrainConfig(**{**SMALL, "epochs": 1, "mixing": mixing}, loss=loss), write_model=False)
    assert np.isfinite(r.history[0]["train_loss"])


def test_too_small_and_corrupt_sets(tmp_path):
    from train.data import DataError

    small = write_folder(tmp_path / "small", 6)
    with pytest.raises((TrainError, DataError), match="too few|need at least"):
        T.train(small, tmp_path / "o1", TrainConfig(**SMALL))
    bad = write_folder(tmp_path / "bad", 30)
    with pytest.raises(TrainError, match="too few labelled images to train: train 2"):
        T.train(bad, tmp_path / "o1", TrainConfig(**SMALL, min_train=30))
    assert not (tmp_path / "o1").exists()
    with open(bad / "labels.csv", "a") as f:
        f.write("images/img_000.png,not-a-number\nmissing.png,50\n")
    with pytest.raises(DataError) as e:
        T.train(bad, tmp_path / "o2", TrainConfig(**SMALL))
    assert "labels.csv" in str(e.value) or "not-a-number" in str(e.value) or "missing.png" in str(e.value)
    # the CLI reports it and exits non-zero, writing no model
    p = subprocess.run([sys.executable, "-m", "app.cli", "train", str(bad), "--out", str(tmp_path / "o3"), "--epochs", "1"],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert p.returncode == 2 and "error" in p.stderr
    assert not (tmp_path / "o3" / "model.fuiqa").exists()


@pytest.mark.slow
def test_cli_train_beats_untrained_and_eval(tmp_path):
    from engine.model import build_model
    from engine import modelpack

    data = write_folder(tmp_path / "data", 120, seed=1)
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({**SMALL, "epochs": 4, "eval_boot": 100}))
    p = subprocess.run([sys.executable, "-m", "app.cli", "train", str(data), "--out", str(tmp_path / "m"), "--config", str(cfg),
                        "--progress-jsonl"], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    events = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    kinds = [e["event"] for e in events]
    assert kinds[0] in ("prepare", "start") and "epoch" in kinds and kinds[-1] == "done"
    pkg = modelpack.load(tmp_path / "m" / "model.fuiqa")
    assert pkg.trained and pkg.meta["data_hash"] and pkg.meta["train_config"]["epochs"] == 4
    trained_srcc = pkg.meta["metrics"]["srcc"]
    # the same test split through the packaged model (ONNX Runtime, same preprocessing + ROI)
    e = subprocess.run([sys.executable, "-m", "app.cli", "eval", str(tmp_path / "m" / "model.fuiqa"), str(data), "--json", "--boot", "50"],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert e.returncode == 0, e.stderr
    m = json.loads(e.stdout)
    assert m["srcc"] == pytest.approx(trained_srcc, abs=0.02) and m["n"] == pkg.meta["metrics"]["n"]
    assert m["ci95"]["srcc"][0] <= m["srcc"] <= m["ci95"]["srcc"][1]
    # an untrained model on the same split
    untrained = tmp_path / "u.fuiqa"
    torch.manual_seed(0)
    from engine.export import package_model

    package_model(build_model("rt", "mqf"), untrained, trained=False,
                  train_config={"split_seed": 3, "fractions": [0.5, 0.25, 0.25]})
    u = T.evaluate_package(untrained, data, "test", n_boot=0, split_seed=0, fractions=(0.7, 0.15, 0.15))
    # `eval --split-from`: another model's split, so two models are compared on the same images
    own = T.evaluate_package(untrained, data, "test", n_boot=0)
    e2 = subprocess.run([sys.executable, "-m", "app.cli", "eval", str(untrained), str(data), "--json", "--boot", "0",
                         "--split-from", str(tmp_path / "m" / "model.fuiqa")], capture_output=True, text=True, cwd=ROOT,
                         timeout=300)
    assert e2.returncode == 0, e2.stderr
    shared = json.loads(e2.stdout)
    assert own["n"] != pkg.meta["metrics"]["n"] and shared["n"] == pkg.meta["metrics"]["n"]
    assert shared["srcc"] == pytest.approx(u["srcc"], abs=1e-6)
    assert trained_srcc > 0.7
    assert trained_srcc > abs(u["srcc"]) + 0.3
    assert json.loads((tmp_path / "m" / "metrics.json").read_text())["test"]["srcc"] == pytest.approx(trained_srcc)


def test_input_size_option_trains_and_packages_at_that_size(tmp_path):
    """`input_size` trains the rt layers at another resolution; the package, its heatmap and the ONNX
    scorer follow it (scores agree with torch)."""
    from engine import modelpack
    from engine.scorers import make_scorer

    with pytest.raises(TrainError, match="input_size"):
        TrainConfig(input_size=100)
    x, y = fake_images(40, size=96, seed=2)
    S = lambda a, b: Split(x[a:b], y[a:b], [f"i{i}" for i in range(a, b)])  # noqa: E731
    data = Prepared(S(0, 24), S(24, 32), S(32, 40), 96, "hash96")
    cfg = TrainConfig(**{**SMALL, "epochs": 1, "mixing": "none"}, input_size=96)
    assert cfg.key() != TrainConfig(**{**SMALL, "epochs": 1, "mixing": "none"}).key()
    r = fit(data, tmp_path, cfg)
    pkg = modelpack.load(r.model_path)
    assert pkg.input_size == 96 and pkg.meta["heatmap_size"] == 12 and pkg.meta["arch"]["input_size"] == 96
    inp = T.to_model_input(T.u8_to_gray01(torch.from_numpy(x[35:36]))[:, None]).numpy().astype(np.float32)
    res = make_scorer("ort", pkg).score_tensor(inp)
    assert res.heatmaps[0].shape == (12, 12)
    # the packaged (ONNX) score is the trained model's score for the same input
    torch_score = float(T.predict(_torch_model(pkg), x[35:36], torch.device("cpu"))[0])
    assert float(res.scores[0]) == pytest.approx(torch_score, abs=0.5)


def _torch_model(pkg):
    from engine.model import ArchConfig, MQFNet

    m = MQFNet(ArchConfig.from_dict(pkg.meta["arch"]))
    m.load_state_dict(torch.load(__import__("io").BytesIO(pkg.weights), map_location="cpu"))
    return m.eval()
