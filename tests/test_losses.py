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
    loss = GCCLoss(w_plcc=0, w_srcc=1, w_mae=0, tau=1e-3, tau_rel=0, gather=False)(p, y)
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


def _srcc_term(p, **kw):
    return GCCLoss(w_plcc=0, w_srcc=1, w_mae=0, gather=False, **kw)


@pytest.mark.parametrize("scale", [0.01, 0.3, 10.0, 100.0])
def test_soft_srcc_is_scale_free(scale):
    """The same ordering at another spread gives the same soft-SRCC, and a gradient that scales as
    1/spread (loss(a·p) = loss(p)): no collapse to PLCC when predictions are bunched, no vanishing
    gradient when they are spread out."""
    p, y = _xy(32, seed=4)
    p = (p - p.mean()) / p.std()  # unit spread
    p1 = p.clone().requires_grad_(True)
    l1 = _srcc_term(p)(p1 + 50, y)
    l1.backward()
    ps = (p * scale).clone().requires_grad_(True)
    ls = _srcc_term(p)(ps + 50, y)
    ls.backward()
    assert float(ls.detach()) == pytest.approx(float(l1.detach()), abs=1e-9)
    torch.testing.assert_close(ps.grad * scale, p1.grad, rtol=1e-6, atol=1e-9)


def test_soft_srcc_tracks_srcc_not_plcc_when_predictions_are_bunched():
    """Early in training every prediction lies within a point or two of 50: a fixed τ of 2 points puts
    every sigmoid in its linear part and soft-SRCC becomes PLCC; the relative τ keeps it a rank
    correlation."""
    g = torch.Generator().manual_seed(1)
    y = torch.rand(32, generator=g, dtype=torch.float64) * 100
    q = y / 100 + 3.0 * (y > 97)  # monotone in y, within 1 point of 50 but for a few outliers
    p = 50 + q / (q.max() - q.min())
    rho = stats.spearmanr(p.numpy(), y.numpy()).statistic
    r = stats.pearsonr(p.numpy(), y.numpy()).statistic
    assert rho - r > 0.2  # the case where the two differ
    soft = 1 - float(_srcc_term(p)(p, y))
    assert soft == pytest.approx(rho, abs=0.03)
    fixed = 1 - float(_srcc_term(p, tau=2.0, tau_rel=0)(p, y))
    assert abs(fixed - r) < abs(fixed - rho)  # the old behaviour this replaces


def test_queue_state_roundtrip():
    loss = GCCLoss(queue_size=8, gather=False)
    p, y = _xy(8)
    loss(p, y)
    state = loss.queue_state()
    other = GCCLoss(queue_size=8, gather=False)
    other.load_queue_state(state)
    p2, y2 = _xy(8, seed=9)
    assert float(other(p2, y2)) == pytest.approx(float(loss(p2, y2)), abs=1e-12)
    other.load_queue_state(None)
    assert other.q_pred is None
