"""Trainer: the LR schedule counts the batches the samplers make, no tiny tail batches reach the
correlation losses, CMX appends pseudo-samples, the GCC queue survives a resume, test intervals
resample groups."""
import numpy as np
import pytest
import torch

from train import trainer as T
from train.mixing import MixConfig, n_batches, plan_mix
from train.trainer import Prepared, Split, TrainConfig, fit

from test_trainer import SMALL, _prepared, fake_images


@pytest.mark.parametrize("mixing", ["none", "cmx"])
def test_schedule_counts_the_real_batches_and_ends_at_the_floor(tmp_path, mixing):
    """50 training images, batches of 16: 3 batches per epoch (16, 16, 18: the tail of 2 is merged),
    the same for random and stratified batches, and the cosine reaches its 2 % floor at the very
    last step, not before."""
    data = _prepared(50, 8, 8)
    cfg = TrainConfig(**{**SMALL, "epochs": 3, "mixing": mixing}, loss="gcc", lr=1e-3, augment=False)
    events = []
    fit(data, tmp_path, cfg, progress=events.append, resume=False, write_model=False)
    start = next(e for e in events if e["event"] == "start")
    steps = [e for e in events if e["event"] == "step"]
    assert start["steps_per_epoch"] == 3 == n_batches(50, 16)
    assert [sum(e["epoch"] == k for e in steps) for k in (1, 2, 3)] == [3, 3, 3]
    lrs = [e["lr"] for e in steps]
    assert lrs[-1] == pytest.approx(0.02 * cfg.lr, rel=1e-6)
    assert lrs[-2] > 0.05 * cfg.lr  # the floor is reached at the end, not steps before


@pytest.mark.parametrize("mixing", ["none", "cmx", "mixup"])
def test_epoch_batches_have_no_tiny_tail(mixing):
    x, y = fake_images(50, size=64, seed=0)
    tr = Split(x, y, [str(i) for i in range(50)])
    cfg = TrainConfig(**{**SMALL, "mixing": mixing})
    model = __import__("engine.model", fromlist=["build_model"]).build_model("rt", "mqf", 64)
    clusters = None
    for epoch in range(3):
        batches, clusters, ramp = T.epoch_batches(model, tr, cfg, epoch, clusters, np.random.default_rng(epoch), torch.device("cpu"))
        assert len(batches) == 3 and min(len(b) for b in batches) >= 3
        assert np.array_equal(np.sort(np.concatenate(batches)), np.arange(50))
        if mixing == "cmx":  # warm-up epoch: no clusters yet (random-init features), then stratified
            assert (clusters is None) == (epoch == 0)
        assert ramp == {0: 0.0, 1: 0.5, 2: 1.0}[epoch] if mixing != "none" else ramp == 0.0


@pytest.mark.parametrize("space", ["feature", "pixel"])
def test_batch_forward_appends_pseudo_samples(space):
    from engine.model import build_model

    torch.manual_seed(0)
    x, y = fake_images(40, size=64, seed=1)
    model = build_model("rt", "mqf", 64)
    clusters = np.arange(40) % 3
    rng = np.random.default_rng(0)
    bidx = np.arange(16)
    plan = plan_mix(bidx, y, clusters, rng, MixConfig(kind="cmx", mix_share=0.5))
    cfg = TrainConfig(**SMALL, mix_space=space, augment=False)
    out, yb = T.batch_forward(model, model, torch.from_numpy(x), y, bidx, plan, cfg, torch.Generator(), torch.device("cpu"))
    pred = out[0]
    assert pred.shape == (16 + len(plan),) and len(plan) >= 6
    # every head gives one row per real sample and per pseudo-sample
    assert all(o.shape[0] == 16 + len(plan) for o in out)
    np.testing.assert_allclose(yb.numpy(), np.concatenate([y[bidx], plan.target]).astype(np.float32))
    pred.sum().backward()  # gradients reach the model through the pseudo-samples too
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_resume_with_gcc_queue_matches_uninterrupted(tmp_path):
    data = _prepared()
    cfg = TrainConfig(**{**SMALL, "epochs": 3}, queue_size=24)
    full = fit(data, tmp_path / "a", cfg, resume=False, write_model=False)
    calls = {"n": 0}

    def stop():  # in the middle of the second epoch (3 steps per epoch)
        calls["n"] += 1
        return calls["n"] == 5

    r1 = fit(data, tmp_path / "b", cfg, should_stop=stop, write_model=False)
    assert r1.stopped
    r2 = fit(data, tmp_path / "b", cfg, write_model=False)
    assert len(r2.history) == 3
    for h1, h2 in zip(full.history, r2.history):
        assert h1["train_loss"] == pytest.approx(h2["train_loss"], rel=1e-6)
        assert h1["val_srcc"] == pytest.approx(h2["val_srcc"], abs=1e-6)


def test_test_intervals_resample_groups(tmp_path):
    data = _prepared(32, 8, 16)
    data.test.groups = [f"patient{i // 4}" for i in range(16)]
    r = fit(data, tmp_path, TrainConfig(**{**SMALL, "epochs": 1, "mixing": "none"}), write_model=False)
    assert r.metrics["ci_unit"] == "4 groups"
