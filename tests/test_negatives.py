"""Non-ultrasound frames for training: every kind is made, deterministic, and labelled ~0."""
import csv

import cv2

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


def test_negatives_real_kinds_are_frames_labelled_no_plane(tmp_path):
    from train import negatives_real as NR

    rows = NR.write_negatives(tmp_path, 6, seed=3)
    kinds = [r["kind"] for r in rows]
    assert {"phantom", "leaves"} <= set(kinds) and all(k in NR.KINDS for k in kinds)
    for r in rows:
        img = cv2.imread(str(tmp_path / r["name"]))
        assert img is not None and img.ndim == 3 and min(img.shape[:2]) >= 64
        assert 0 <= r["mos"] <= 5 and r["plane"] == "none"
    # a phantom is a cross-section: a bright body on black, smooth inside (no speckle)
    ph = NR.phantom(np.random.default_rng(0), 256, 256).astype(np.float32)
    assert ph[0, 0] == 0 and ph[128, 128] > 30
    again = NR.write_negatives(tmp_path / "b", 6, seed=3)
    assert [r["mos"] for r in again] == [r["mos"] for r in rows]  # seeded


def test_negatives_real_medical_files_are_not_the_benches_material():
    from train import negatives_real as NR

    bench_real = {"CT_small.dcm", "MR_small.dcm", "examples_overlay.dcm", "examples_ybr_color.dcm",
                  "MR-SIEMENS-DICOM-WithOverlays.dcm"}
    design = {"693_UNCR.dcm", "MR2_UNCR.dcm", "emri_small.dcm", "RG1_UNCR.dcm", "RG3_UNCR.dcm"}
    stems = {n.split("_")[0] for n in design}  # and their other encodings (693_J2KR, MR2_J2KI, RG1_UNCI ...)
    for n in NR.MEDICAL_FILES:
        assert n not in bench_real | design and n.split("_")[0] not in stems
