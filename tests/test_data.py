"""Labelled-data loader: layout, every validation error, deterministic grouped splits, hash."""
from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from train.data import DataError, load_labelled, read_image


def _img(path: Path, value: int, size: int = 24) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    a = np.full((size, size), value, np.uint8)
    a[4:10, 4:10] = 255 - value
    cv2.imwrite(str(path), a)


def make_set(root: Path, n: int = 20, *, columns=("name", "mos", "std", "plane", "group"), groups: int | None = None,
             subdir: str = "images", rows_extra: list[list[str]] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        name = f"im_{i:03d}.png"
        _img(root / subdir / name, 10 + 10 * (i % 20))
        g = f"g{i % groups}" if groups else f"s{i}"
        full = {"name": name, "mos": f"{(i * 37) % 101:.1f}", "std": "3.0", "plane": "head", "group": g,
                "split": "", "flag_x": "1"}
        rows.append([full[c] for c in columns])
    with open(root / "labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(columns)
        w.writerows(rows + (rows_extra or []))
    return root


def test_loads_pyiqa_layout_with_extras(tmp_path):
    root = make_set(tmp_path / "d", 20, columns=("name", "mos", "std", "plane", "group", "flag_x"))
    ds = load_labelled(root)
    assert len(ds.items) == 20 and ds.skipped == [] and not ds.synthetic
    it = ds.items[0]
    assert it.path == root / "images" / "im_000.png" and it.mos == 0.0 and it.std == 3.0 and it.plane == "head"
    assert it.extra == {"flag_x": "1"}
    sizes = {s: len(ds.split(s)) for s in ("train", "val", "test")}
    assert sum(sizes.values()) == 20 and sizes["train"] == 14 and sizes["val"] == 3 and sizes["test"] == 3
    img = read_image(it.path)
    assert img.dtype == np.uint8 and img.shape[:2] == (24, 24)
    # names relative to the folder itself also work, and a path to the CSV file
    root2 = make_set(tmp_path / "flat", 12, columns=("name", "mos"), subdir=".")
    assert len(load_labelled(root2 / "labels.csv", fractions=(0.6, 0.2, 0.2)).items) == 12


def test_splits_deterministic_and_grouped(tmp_path):
    root = make_set(tmp_path / "d", 60, groups=12)
    a = load_labelled(root, seed=3)
    b = load_labelled(root, seed=3)
    c = load_labelled(root, seed=4)
    assert [i.split for i in a.items] == [i.split for i in b.items]
    assert [i.split for i in a.items] != [i.split for i in c.items]
    for ds in (a, c):
        where = {}
        for it in ds.items:
            where.setdefault(it.group, set()).add(it.split)
        assert all(len(s) == 1 for s in where.values())  # no group straddles splits
        assert all(len(ds.split(s)) >= 2 for s in ("train", "val", "test"))


def test_split_column_used_and_straddling_group_caught(tmp_path):
    root = make_set(tmp_path / "d", 12, columns=("name", "mos", "split", "group"), groups=4)
    rows = list(csv.reader(open(root / "labels.csv")))
    for i, r in enumerate(rows[1:]):
        r[2] = ["train", "val", "test"][int(r[3][1:]) % 3] if int(r[3][1:]) < 3 else "train"
    with open(root / "labels.csv", "w", newline="") as f:
        csv.writer(f).writerows(rows)
    ds = load_labelled(root)
    assert {it.split for it in ds.items if it.group == "g1"} == {"val"}
    rows[2][2] = "test"  # row 3 is in group g1 (val elsewhere)
    with open(root / "labels.csv", "w", newline="") as f:
        csv.writer(f).writerows(rows)
    with pytest.raises(DataError, match="straddle"):
        load_labelled(root)


@pytest.mark.parametrize("row,problem", [
    (["missing.png", "50"], "file not found"),
    (["im_000.png", "40"], "duplicate name"),
    (["im_001.png", "nan"], None),
    (["bad_mos.png", "abc"], "not a number"),
    (["bad_mos.png", "120"], "outside 0-100"),
    (["bad_mos.png", "-1"], "outside 0-100"),
    (["corrupt.png", "50"], "unreadable image"),
])
def test_each_bad_row_is_caught_and_listed(tmp_path, row, problem):
    root = make_set(tmp_path / "d", 20, columns=("name", "mos"))
    (root / "images" / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    _img(root / "images" / "bad_mos.png", 50)
    with open(root / "labels.csv", "a", newline="") as f:
        csv.writer(f).writerow(row)
    with pytest.raises(DataError) as e:
        load_labelled(root)
    msg = str(e.value)
    assert "row 22" in msg and row[0] in msg and "labels.csv" in msg
    if problem:
        assert problem in msg
    else:
        assert "nan" in msg.lower()
    # skip_bad drops it and reports it
    ds = load_labelled(root, skip_bad=True)
    assert len(ds.items) == 20 and len(ds.skipped) == 1 and "row 22" in ds.skipped[0]


def test_several_bad_rows_all_listed(tmp_path):
    root = make_set(tmp_path / "d", 20, columns=("name", "mos"),
                    rows_extra=[["gone_a.png", "10"], ["im_002.png", "x"], ["gone_b.png", "inf"]])
    with pytest.raises(DataError) as e:
        load_labelled(root)
    msg = str(e.value)
    assert "3 bad row(s)" in msg and "gone_a.png" in msg and "row 23" in msg and "gone_b.png" in msg


def test_missing_columns_file_and_empty(tmp_path):
    with pytest.raises(DataError, match="no labels.csv"):
        load_labelled(tmp_path)
    with pytest.raises(DataError, match="no such folder"):
        load_labelled(tmp_path / "nope")
    (tmp_path / "labels.csv").write_text("file,score\na.png,3\n")
    with pytest.raises(DataError, match="missing column"):
        load_labelled(tmp_path)
    (tmp_path / "labels.csv").write_text("")
    with pytest.raises(DataError, match="empty"):
        load_labelled(tmp_path)
    (tmp_path / "labels.csv").write_text("name,mos\n")
    with pytest.raises(DataError, match="no data rows"):
        load_labelled(tmp_path)


def test_too_few_images_in_a_split(tmp_path):
    root = make_set(tmp_path / "d", 8, columns=("name", "mos"))
    with pytest.raises(DataError, match="split 'val' has 1 image"):
        load_labelled(root)
    assert len(load_labelled(root, min_split=1).items) == 8
    bad = make_set(tmp_path / "e", 4, columns=("name", "mos", "split"))
    rows = list(csv.reader(open(bad / "labels.csv")))
    for r, s in zip(rows[1:], ["train", "train", "train", "val"]):
        r[2] = s
    rows.append(["im_003.png", "5", "bogus"])
    with open(bad / "labels.csv", "w", newline="") as f:
        csv.writer(f).writerows(rows)
    with pytest.raises(DataError, match="bogus"):
        load_labelled(bad)
    with pytest.raises(DataError, match="split 'val' has 1 image"):
        load_labelled(bad, skip_bad=True)


def test_hash_follows_labels_and_bytes(tmp_path):
    root = make_set(tmp_path / "d", 20)
    h1 = load_labelled(root).hash()
    assert h1 == load_labelled(root).hash() and len(h1) == 64
    _img(root / "images" / "im_004.png", 123)  # same name, other pixels
    h2 = load_labelled(root).hash()
    assert h2 != h1
    rows = list(csv.reader(open(root / "labels.csv")))
    rows[6][1] = str(float(rows[6][1]) + 1.0)  # one label changes
    with open(root / "labels.csv", "w", newline="") as f:
        csv.writer(f).writerows(rows)
    assert load_labelled(root).hash() != h2


def test_dicom_folder_and_synthetic_marker(tmp_path):
    from train.synth.sweep import write_dicom

    root = tmp_path / "dcm"
    root.mkdir()
    rows = []
    for i in range(10):
        frames = [np.full((32, 40), 20 * i + k, np.uint8) for k in range(3)]
        write_dicom(root / f"case_{i}.dcm", frames, uid_seed=f"t{i}")
        rows.append([f"case_{i}.dcm", str(10 * i)])
    with open(root / "labels.csv", "w", newline="") as f:
        csv.writer(f).writerows([["name", "mos"]] + rows)
    ds = load_labelled(root, fractions=(0.6, 0.2, 0.2))
    assert not ds.synthetic and len(ds.items) == 10
    img = read_image(ds.items[3].path)
    assert img.shape == (32, 40) and int(img[0, 0]) == 60  # the first frame
    (root / "SYNTHETIC.txt").write_text("synthetic")
    assert load_labelled(root, fractions=(0.6, 0.2, 0.2)).synthetic
    with pytest.raises(DataError, match="no such image"):
        read_image(root / "nothing.dcm")
