"""Non-fetal ultrasound scenes (train/synth/nonfetal.py): tissue fills the fan (no amniotic fluid),
the chambers / vessels show as dark structures, and a data set labels them plane "none" with a low
score, deterministically; the fetal planes' images are untouched."""
from __future__ import annotations

import csv

import numpy as np
import pytest

from train.synth import ALL_PLANES, PLANES, render_sample
from train.synth.nonfetal import MOS_RANGE, NONFETAL

SIZE = 160


def test_registered_as_scenes_not_as_assessed_planes():
    assert set(NONFETAL) <= set(ALL_PLANES) and not set(NONFETAL) & set(PLANES)


@pytest.mark.parametrize("plane", NONFETAL)
def test_tissue_fills_the_fan_and_the_structures_are_dark(plane):
    for i in range(3):
        s = render_sample(plane, 5, i, size=SIZE, severity={}, maps=True)
        g = s.image.astype(float)
        fan = s.mask
        # no fluid all round: most of the fan is tissue (a fetal scene has amniotic fluid around the fetus)
        assert np.mean(g[fan] > 25) > 0.6, (plane, i)
        names = [c for c in s.maps if c not in ("shadow", "liftoff", "fan")]
        dark = [n for n in names if n in ("four_chambers", "gallbladder")][0]
        m = s.maps[dark] & fan
        assert m.sum() > 30 and g[m].mean() < 0.5 * g[fan & ~m].mean(), (plane, i)


def test_more_of_the_fan_is_tissue_than_in_a_fetal_scene():
    def tissue(plane):
        shares = []
        for i in range(4):
            s = render_sample(plane, 5, i, size=SIZE, severity={})
            shares.append(np.mean(s.image[s.mask] > 25))
        return np.mean(shares)

    fetal = max(tissue("abdomen"), tissue("head"))  # amniotic fluid around the fetus
    assert tissue("adult_abdomen") > fetal + 0.15 and tissue("adult_heart") > fetal + 0.1


def test_data_set_labels_them_plane_none_with_a_low_score(tmp_path):
    from train.synth.dataset import generate, render_item

    generate(tmp_path / "set", 6, planes=("adult_heart", "adult_abdomen", "head"), seed=4, size=128, progress=False)
    rows = list(csv.DictReader(open(tmp_path / "set" / "labels.csv")))
    nf = [r for r in rows if r["kind"] in NONFETAL]
    assert len(nf) == 4 and all(r["plane"] == "none" and r["scored"] == "1" for r in nf)
    assert all(MOS_RANGE[0] <= float(r["mos"]) <= MOS_RANGE[1] for r in nf)
    assert all(r["f_structures"] == "" and r["missing"] == "" for r in nf)  # no checklist for "no plane"
    head = [r for r in rows if r["plane"] == "head"]
    assert len(head) == 2 and all(r["kind"] == "" and r["f_structures"] in ("0", "1") for r in head)
    a, ra = render_item("adult_heart", 4, 0, 128)
    b, rb = render_item("adult_heart", 4, 0, 128)
    assert np.array_equal(a, b) and ra == rb  # deterministic in (seed, index)


def test_non_fetal_rows_count_as_scans_for_the_density_check():
    """The density check's two Gaussians: ultrasound scans (fetal or not) and frames that are not
    ultrasound at all; a non-fetal scene is plane "none" but still a scan."""
    from engine.result import PLANES
    from train.data import Item
    from train.prepared import head_targets, scan_rows

    items = [Item("a.png", None, 5.0, None, "train", "none", None, {"kind": "adult_heart"}),
             Item("b.png", None, 2.0, None, "train", "none", None, {"kind": "phantom"}),
             Item("c.png", None, 70.0, None, "train", "head", None, {}),
             Item("d.png", None, 1.0, None, "train", "none", None, {})]
    plane, _ = head_targets(items)
    assert list(plane) == [PLANES.index("none"), PLANES.index("none"), PLANES.index("head"), PLANES.index("none")]
    assert list(scan_rows(items, plane)) == [True, False, True, False]
