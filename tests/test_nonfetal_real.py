"""train/nonfetal_real.py: pydicom-data's real non-fetal scans as plane-"none" training rows."""
from __future__ import annotations

import csv

import numpy as np
import pytest

pytest.importorskip("pydicom")


def _have_data() -> bool:
    try:
        from pydicom.data import get_testdata_file

        from train.nonfetal_real import FILES

        return all(get_testdata_file(f) for f in FILES)
    except Exception:  # noqa: BLE001 - no pydicom-data: the tests skip
        return False


needs_data = pytest.mark.skipif(not _have_data(), reason="pydicom-data not installed")


@needs_data
def test_rows_and_images(tmp_path):
    import cv2

    from train.data import load_labelled
    from train.nonfetal_real import FILES, KIND, write_real_nonfetal

    rows = write_real_nonfetal(tmp_path, 9, seed=3)
    assert len(rows) == 9
    assert {r["group"] for r in rows} == {f"nfr_{f[:-4]}" for f in FILES}  # the sources in turn
    assert all(r["plane"] == "none" and r["kind"] == KIND and r["split"] == "train" for r in rows)
    assert all(1.0 <= float(r["mos"]) <= 10.0 for r in rows)
    with open(tmp_path / "labels.csv", newline="") as f:
        assert [r["name"] for r in csv.DictReader(f)] == [r["name"] for r in rows]
    shapes = set()
    for r in rows:
        im = cv2.imread(str(tmp_path / r["name"]))
        assert im is not None and im.ndim == 3 and min(im.shape[:2]) >= 16
        shapes.add(im.shape)
    assert len(shapes) > 3  # crops, sizes and canvases vary
    ds = load_labelled(tmp_path)  # the trainer reads them; every row in train
    assert {it.split for it in ds.items} == {"train"}


@needs_data
def test_deterministic_in_seed_and_index(tmp_path):
    import cv2

    from train.nonfetal_real import write_real_nonfetal

    a = write_real_nonfetal(tmp_path / "a", 4, seed=5)
    b = write_real_nonfetal(tmp_path / "b", 4, seed=5)
    c = write_real_nonfetal(tmp_path / "c", 4, seed=6)
    same = [np.array_equal(cv2.imread(str(tmp_path / "a" / x["name"])), cv2.imread(str(tmp_path / "b" / y["name"])))
            for x, y in zip(a, b)]
    assert all(same) and [r["mos"] for r in a] == [r["mos"] for r in b]
    assert [r["mos"] for r in a] != [r["mos"] for r in c]


def _have(files) -> bool:
    try:
        from pydicom.data import get_testdata_file

        return all(get_testdata_file(f, download=False) for f in files)
    except Exception:  # noqa: BLE001 - no pydicom-data: the test skips
        return False


def test_round8_sources_are_not_the_benchmarks_adult_echo():
    """Round 8's extra scans must leave bench_real's adult echo (pydicom's ybr_color) and its pydicom-data
    twin untouched: they are the check that the training data would otherwise empty."""
    from train.nonfetal_real import FILES, FILES8

    held = {"examples_ybr_color.dcm", "color3d_jpeg_baseline.dcm"}
    assert not held & (set(FILES) | set(FILES8))
    assert not set(FILES) & set(FILES8)


def test_round8_files_in_turn(tmp_path):
    from train.nonfetal_real import FILES8, write_real_nonfetal

    if not _have(FILES8):
        pytest.skip("pydicom-data not installed")
    rows = write_real_nonfetal(tmp_path, 4, seed=1, files=FILES8)
    assert [r["group"] for r in rows] == [f"nfr_{f[:-4]}" for f in FILES8] * 2
    assert all(r["plane"] == "none" for r in rows)


def test_real_non_fetal_rows_count_as_scans():
    """Real non-fetal ultrasound is still ultrasound for the density check (like the generator's)."""
    from train.data import Item
    from train.nonfetal_real import KIND
    from train.prepared import head_targets, scan_rows

    items = [Item("a.png", None, 5.0, None, "train", "none", None, {"kind": KIND}),
             Item("b.png", None, 2.0, None, "train", "none", None, {"kind": "leaves"})]
    plane, _ = head_targets(items)
    assert list(scan_rows(items, plane)) == [True, False]
