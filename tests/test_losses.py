import numpy as np
import pytest
import torch
from scipy import stats

from train.losses import GCCLoss, L1Loss, MSELoss, NormInNormLoss, hard_rank, make_loss, soft_rank


def _xy(n=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.rand(n, generator=g, dtype=torch.float64) * 100
    p = y + torch.randn(n, generator=g, dtype=torch.float64) * 20
    return p, y


def test_plcc_term_equals_one_minus_plcc():
    p, y = _xy()
    loss = GCCLoss(w_plcc=1, w_srcc=0, w_mae=0, gather=False)(p, y)
    r = stats.pearsonr(p.numpy(), y.numpy()).statistic
    assert float(loss) == pytest.approx(1 - r, abs=1e-6)


def test_soft_srcc_approaches_srcc_for_small_tau():
    p, y = _xy(40, seed=2)
    loss = GCCLoss(w_plcc=0, w_srcc=1, w_mae=0, tau=1e-3, gather=False)(p, y)
    rho = stats.spearmanr(p.numpy(), y.numpy()).statistic
    assert float(loss) == pytest.approx(1 - rho, abs=1e-4)


def test_mae_term_and_hard_rank():
    p, y = _xy()
    loss = GCCLoss(w_plcc=0, w_srcc=0, w_mae=1, gather=False)(p, y)
    assert float(loss) == pytest.approx(float((p - y).abs().mean() / 100), abs=1e-9)
    x = torch.tensor([3.0, 1.0, 3.0, 2.0])
    assert hard_rank(x).tolist() == list(stats.rankdata(x.numpy()))
    r = soft_rank(torch.tensor([0.0, 100.0, 50.0]), tau=0.01)
    assert r.tolist() == pytest.approx([0.5, 2.5, 1.5], abs=1e-6)


@pytest.mark.parametrize("name", ["gcc", "nin", "mse", "l1"])
@pytest.mark.parametrize("case", ["ties", "pair", "random"])
def test_gradients_finite(name, case):
    if case == "ties":
        p, y = torch.full((8,), 50.0), torch.full((8,), 70.0)
    elif case == "pair":
        p, y = torch.tensor([40.0, 60.0]), torch.tensor([30.0, 80.0])
    else:
        p, y = _xy(16)
        p, y = p.float(), y.float()
    p = p.clone().requires_grad_(True)
    loss = make_loss(name)(p, y)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.all(torch.isfinite(p.grad))


def test_better_ranked_prediction_has_lower_loss():
    y = torch.tensor([10.0, 30.0, 50.0, 70.0, 90.0])
    good = torch.tensor([12.0, 28.0, 55.0, 66.0, 93.0])
    bad = torch.tensor([12.0, 55.0, 28.0, 93.0, 66.0])  # two swapped pairs, same values
    for loss in (GCCLoss(gather=False), NormInNormLoss(gather=False)):
        assert float(loss(good, y)) < float(loss(bad, y))


def test_nin_p2_equals_half_one_minus_plcc():
    p, y = _xy()
    loss = NormInNormLoss(p=2, q=2, w_mae=0, eps=0, gather=False)(p, y)
    r = stats.pearsonr(p.numpy(), y.numpy()).statistic
    assert float(loss) == pytest.approx((1 - r) / 2, abs=1e-9)


def test_queue_spans_batches_and_only_current_batch_has_grad():
    torch.manual_seed(0)
    loss = GCCLoss(queue_size=16, gather=False)
    y1, y2 = torch.linspace(0, 100, 8), torch.linspace(5, 95, 8)
    p1 = (y1 + torch.randn(8)).requires_grad_(True)
    loss(p1, y1)
    assert loss.q_pred.shape == (8,) and not loss.q_pred.requires_grad
    p2 = (y2 + torch.randn(8)).requires_grad_(True)
    l2 = loss(p2, y2)
    l2.backward()
    assert torch.all(torch.isfinite(p2.grad)) and loss.q_pred.shape == (16,)
    # equal to the loss computed on the concatenation (correlation over 16 samples)
    ref = GCCLoss(w_mae=0, gather=False)(torch.cat([p2.detach(), p1.detach()]), torch.cat([y2, y1]))
    mae = (p2.detach() - y2).abs().mean() / 100 * loss.w_mae
    assert float(l2.detach()) == pytest.approx(float(ref + mae), abs=1e-5)


def test_scales():
    p, y = _xy()
    assert float(MSELoss()(p, y)) == pytest.approx(float(((p - y) ** 2).mean() / 1e4))
    assert float(L1Loss()(p, y)) == pytest.approx(float((p - y).abs().mean() / 100))
    with pytest.raises(ValueError, match="unknown loss"):
        make_loss("huber")
