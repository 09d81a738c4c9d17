"""Non-ultrasound frames for training: every kind is made, deterministic, and labelled ~0."""
import csv

import numpy as np
import pytest

from train.negatives import KINDS, append_rows, make_negative, write_negatives


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_is_deterministic_bgr(kind):
    a = make_negative(kind, np.random.default_rng(3), 64)
    b = make_negative(kind, np.random.default_rng(3), 64)
    assert a.shape == (64, 64, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)


def test_kinds_differ_from_each_other():
    imgs = [make_negative(k, np.random.default_rng(0), 64).astype(float) for k in KINDS]
    means = [i.mean() for i in imgs]
    stds = [i.std() for i in imgs]
    assert means[0] < 10 and stds[1] == 0  # black is dark, flat is flat
    assert stds[2] > 40  # noise is noisy


def test_write_and_append(tmp_path):
    (tmp_path / "labels.csv").write_text("name,mos,plane\nimages/a.png,80,head\n")
    rows = write_negatives(tmp_path, 9, seed=1, size=32)
    assert len(rows) == 9 and all(0 <= r["mos"] <= 5 for r in rows)
    assert all((tmp_path / r["name"]).exists() for r in rows)
    append_rows(tmp_path / "labels.csv", rows)
    got = list(csv.DictReader(open(tmp_path / "labels.csv")))
    assert len(got) == 10 and got[0]["name"] == "images/a.png" and got[0]["kind"] == ""
    assert got[1]["plane"] == "none"
