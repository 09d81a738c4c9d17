"""The heatmap's per-cell supervision: artefact maps from the generator, their cells through the
preprocessing geometry, the loss, the augmentation, and the attention mask that keeps a shadow in the
imaging region."""
import csv

import cv2
import numpy as np
import pytest
import torch

from engine.model import ArchConfig, build_model
from engine.preprocess import grid_coverage, preprocess
from train.cells import CellLoss
from train.data import DataError, load_labelled
from train.prepared import prepare_items
from train.synth.dataset import MAP_ARTEFACT, MAP_FAN, MAP_STRUCTURE, generate
from train.trainer import Split, TrainConfig, augment


def test_grid_coverage_follows_crop_and_letterbox():
    # a 200x100 frame, box = its right half (100x100), letterboxed to 40 px (no padding): 4x4 cells
    m = np.zeros((100, 200), bool)
    m[:, 150:] = True  # the right half of the box
    c = grid_coverage(m, (100, 0, 100, 100), 40, 4)
    np.testing.assert_allclose(c[:, :2], 0, atol=1e-6)
    np.testing.assert_allclose(c[:, 2:], 1, atol=1e-6)
    # a wide box is letterboxed: top and bottom quarter are padding (never covered)
    c = grid_coverage(np.ones((100, 200), bool), (0, 0, 200, 100), 40, 4)
    np.testing.assert_allclose(c[0], 0, atol=1e-6)
    np.testing.assert_allclose(c[1:3], 1, atol=1e-6)


def test_synth_maps_written_and_prepared_into_cells(tmp_path):
    generate(tmp_path, 6, seed=3, maps=True, artefact_share=1.0, progress=False)
    rows = list(csv.DictReader(open(tmp_path / "labels.csv")))
    assert all(r["artefact_map"] == "maps/" + r["name"] for r in rows)
    n_struct = 0
    for r in rows:
        m = cv2.imread(str(tmp_path / r["artefact_map"]), cv2.IMREAD_GRAYSCALE)
        img = cv2.imread(str(tmp_path / "images" / r["name"]))
        assert m.shape == img.shape[:2]
        assert set(np.unique(m)) <= {0, MAP_STRUCTURE, MAP_FAN, MAP_ARTEFACT}
        n_struct += int((m == MAP_STRUCTURE).any())
        assert (m == MAP_ARTEFACT).any()  # every image got a shadow or a lift-off (share 1.0)
        s_shadow, s_lift = float(r["s_shadow"]), float(r["s_liftoff"])
        assert max(s_shadow, s_lift) >= 0.3
    assert n_struct >= 3  # the plane's required structures are marked (unless cut off or shadowed)
    ds = load_labelled(tmp_path, fractions=(0.5, 0.25, 0.25), min_split=1)
    items = ds.split("train") + ds.split("val") + ds.split("test")
    sp = prepare_items(items, 64, grid=8)
    assert sp.cells.shape == (len(items), 3, 8, 8) and sp.has_cells.all()
    art, fan = sp.cells[:, 0] / 255.0, sp.cells[:, 1] / 255.0
    struct = sp.cells[:, 2] / 255.0
    assert np.all(art <= fan + 1e-2) and np.all(struct <= fan + 1e-2)  # both inside the imaging region
    assert (art > 0.5).any(axis=(1, 2)).all()


def test_missing_or_wrong_sized_artefact_map_is_a_clear_error(tmp_path):
    generate(tmp_path, 2, seed=4, maps=True, progress=False)
    ds = load_labelled(tmp_path, fractions=(0.5, 0.25, 0.25), min_split=0)
    items = ds.items
    first = tmp_path / "maps" / items[0].name.split("/")[-1]
    cv2.imwrite(str(first), np.zeros((10, 10), np.uint8))
    with pytest.raises(DataError, match="artefact_map .* is 10x10"):
        prepare_items(items[:1], 64)
    first.unlink()
    with pytest.raises(DataError, match="artefact_map"):
        prepare_items(items[:1], 64)


def _out(q, a):
    return (None, torch.as_tensor(q, dtype=torch.float32)[None], torch.as_tensor(a, dtype=torch.float32)[None])


def test_cell_loss_wants_artefact_cells_low_and_attended():
    g = 4
    cells = torch.zeros(1, 2, g, g)
    cells[0, 1] = 1.0  # all imaging region
    cells[0, 0, :, :2] = 1.0  # the left half is a shadow
    tr = Split(np.zeros((1, 8, 8), np.uint8), np.zeros(1, np.float32), ["a"],
               cells=np.zeros((1, 2, g, g), np.uint8), has_cells=np.array([True]))
    loss = CellLoss(tr, TrainConfig(w_cells=1.0, cell_margin=30.0))
    uni = np.full((g, g), 1.0 / g**2)
    q_good = np.where(np.arange(g)[None, :] < 2, 20.0, 90.0) * np.ones((g, g))
    q_bad = np.where(np.arange(g)[None, :] < 2, 90.0, 20.0) * np.ones((g, g))
    assert float(loss(_out(q_good, uni), cells, [0])) == pytest.approx(0.0, abs=1e-6)
    # q 90 in the shadow, 20 outside: (90 − 20 + 30) / 100 = 1.0, plus the points-lost term
    assert float(loss(_out(q_bad, uni), cells, [0])) > 1.0
    # attention that looks away from the shadow (points lost outside it) is penalised too
    away = np.where(np.arange(g)[None, :] < 2, 1e-4, 1.0) * np.ones((g, g))
    away /= away.sum()
    q_mid = np.full((g, g), 50.0)
    q_mid[:, :2] = 10.0
    assert float(loss(_out(q_mid, away), cells, [0])) > 0.3
    # no artefact cell: no loss
    cells2 = cells.clone()
    cells2[0, 0] = 0
    assert float(loss(_out(q_bad, uni), cells2, [0])) == 0.0


def test_augment_moves_the_cell_maps_with_the_image():
    torch.manual_seed(0)
    img = torch.zeros(2, 1, 64, 64)
    img[:, :, 8:40, 30:60] = 1.0
    maps = torch.nn.functional.avg_pool2d(img, 8)  # 8x8 cells of the same picture
    cfg = TrainConfig(aug_rotate=30.0, aug_scale=0.2, aug_gain=0.0, aug_speckle=0.0)
    g2, m2 = augment(img, cfg, torch.Generator().manual_seed(1), maps)
    back = torch.nn.functional.avg_pool2d(g2, 8)
    assert float((back - maps).abs().mean()) > 0.02  # the picture did move
    assert float((back - m2).abs().mean()) < 0.05  # and the maps moved with it


def _cfg(fill: bool) -> ArchConfig:
    from engine.model import arch

    return ArchConfig.from_dict({**arch("rt", "mqf", 128).to_dict(), "fill_dark": fill})


def test_attention_mask_keeps_a_dark_shadow_inside_the_image():
    from engine.model import MQFNet

    frame = np.full((128, 256), 120, np.uint8)  # a wide image: letterboxed, padding above and below
    frame[:, 96:160] = 0  # an acoustic shadow: black, with image on both sides
    x = torch.from_numpy(preprocess(frame, None, 128)[None])
    old, new = MQFNet(_cfg(False)).eval(), MQFNet(_cfg(True)).eval()
    s_old, s_new = old._image_cells(x)[0].numpy(), new._image_cells(x)[0].numpy()
    rows = np.flatnonzero(s_old.max(1) > 0.5)  # the image's rows
    dark_cols = [6, 7, 8, 9]  # cells wholly inside the black band (frame cols 96–160 -> input 48–80)
    assert np.all(s_old[np.ix_(rows, dark_cols)] < 0.15)  # only bright cells counted: the shadow was cut out
    assert np.all(s_new[np.ix_(rows, dark_cols)] >= 0.15)  # now it is imaging region
    pad = np.flatnonzero(s_old.max(1) == 0)  # letterbox padding rows stay out
    assert len(pad) >= 4 and np.all(s_new[pad] == 0)
    # black beside the image (one side only) stays out
    side = np.full((128, 128), 0, np.uint8)
    side[:, 64:] = 120
    xs = torch.from_numpy(preprocess(side, None, 128)[None])
    assert np.all(new._image_cells(xs)[0].numpy()[:, :7] < 0.15)


def test_fill_dark_is_part_of_the_exported_graph():
    from engine.export import export_onnx
    from engine.model import MQFNet
    import onnxruntime as ort

    model = MQFNet(_cfg(True)).eval()
    onnx_bytes = export_onnx(model)  # also checks ORT against torch
    frame = np.full((128, 256), 120, np.uint8)
    frame[:, 100:140] = 0
    x = preprocess(frame, None, 128)[None]
    sess = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: x})
    with torch.no_grad():
        ref = model(torch.from_numpy(x))
    np.testing.assert_allclose(got[2], ref[2].numpy(), rtol=1e-3, atol=1e-6)  # attention


def test_fit_with_artefact_maps_runs_the_cell_loss(tmp_path, monkeypatch):
    """A short fit on a synthetic set with maps: the cell loss is computed on every step and is not
    zero on a fresh model (it has something to teach)."""
    import train.trainer as T
    from train.prepared import Prepared

    generate(tmp_path / "d", 24, seed=5, maps=True, artefact_share=1.0, progress=False)
    ds = load_labelled(tmp_path / "d", fractions=(0.5, 0.25, 0.25), min_split=1)
    sp = [prepare_items(ds.split(k), 64, grid=8) for k in ("train", "val", "test")]
    data = Prepared(*sp, 64, "hash-cells")
    seen = []
    orig = T.CellLoss.__call__

    def spy(self, out, cells, bidx, rank=0, world=1):
        v = orig(self, out, cells, bidx, rank, world)
        seen.append(float(v.detach()) if hasattr(v, 'detach') else float(v))
        return v

    monkeypatch.setattr(T.CellLoss, "__call__", spy)
    cfg = TrainConfig(epochs=1, batch_size=6, mixing="none", eval_boot=0, bn_recal=0, input_size=64, w_cells=1.0)
    T.fit(data, tmp_path / "m", cfg, write_model=False)
    assert len(seen) >= 2 and max(seen) > 0  # called every step, and it had something to say


def test_structure_term_wants_the_attention_on_the_anatomy():
    g = 4
    cells = torch.zeros(1, 3, g, g)
    cells[0, 1] = 1.0
    cells[0, 2, 1:3, 1:3] = 1.0  # the structures: the middle 2x2 cells
    tr = Split(np.zeros((1, 8, 8), np.uint8), np.zeros(1, np.float32), ["a"],
               cells=np.zeros((1, 3, g, g), np.uint8), has_cells=np.array([True]))
    loss = CellLoss(tr, TrainConfig(w_cells=0.0, w_struct=1.0))
    assert loss.on
    q = np.full((g, g), 80.0)
    on = np.full((g, g), 0.01)
    on[1:3, 1:3] = 0.22
    on /= on.sum()
    uni = np.full((g, g), 1.0 / g**2)  # a quarter on the structures: below the half wanted
    assert float(loss(_out(q, on), cells, [0])) == pytest.approx(0.0, abs=1e-6)
    assert float(loss(_out(q, uni), cells, [0])) == pytest.approx(np.log(0.5) - np.log(0.25 + 1e-4), rel=1e-3)
