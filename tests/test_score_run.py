"""fuiqa score on folders of independent images, partial results, --skip-bad, damaged sources, and no
patient data out (issue 14, parts 2 and 3)."""
from __future__ import annotations

import csv
import hashlib

import cv2
import numpy as np
import pydicom
import pytest
from pydicom import examples

from app.cli import main
from engine_helpers import package_varied


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return package_varied(tmp_path_factory.mktemp("sr") / "m.fuiqa", trained=True)


def read_csv(p):
    with open(p, newline="") as f:
        return list(csv.DictReader(f))


def fan(h, w, seed=0, text=None):
    """A sector-scan-like frame: speckle inside a fan, dark outside, optional burned-in text."""
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w), np.uint8)
    mask = np.zeros((h, w), np.uint8)
    cv2.ellipse(mask, (w // 2, int(h * 0.05)), (int(h * 0.9), int(h * 0.9)), 0, 50, 130, 255, -1)
    sp = rng.integers(30, 220, (h, w), dtype=np.uint8)
    img[mask > 0] = sp[mask > 0]
    if text:
        cv2.putText(img, text, (4, h - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.5, 255, 1)
    return img


def sid(p) -> str:
    return "src_" + hashlib.sha1(str(p.resolve()).encode()).hexdigest()[:8]


def test_folder_of_different_sizes_gets_one_roi_per_image(tmp_path, model, capsys):
    d = tmp_path / "mixed"
    d.mkdir()
    for i, (h, w) in enumerate([(240, 320), (480, 640), (300, 300), (150, 200)]):
        cv2.imwrite(str(d / f"scan{i}.png"), fan(h, w, i))
    out = tmp_path / "s.csv"
    rc = main(["score", str(d), "--out", str(out), "--model", str(model.path), "--no-progress"])
    cap = capsys.readouterr()
    assert rc == 0, cap.err  # was: "find_roi_stack: frames differ in size"
    rows = read_csv(out)
    assert [r["source"] for r in rows] == [sid(d / f"scan{i}.png") for i in range(4)]
    assert "one ROI per image" in cap.err


def test_sweep_exported_frame_by_frame_shares_one_roi(tmp_path, model, capsys):
    d = tmp_path / "sweep"
    d.mkdir()
    for i in range(6):
        cv2.imwrite(str(d / f"f{i:02d}.png"), fan(240, 320, i))
    rc = main(["score", str(d), "--out", str(tmp_path / "s.csv"), "--model", str(model.path), "--no-progress",
               "--batch", "6"])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "shared: the first 6 images have one size and layout" in err


def _folder_with_bad_middle(tmp_path):
    d = tmp_path / "f"
    d.mkdir()
    for i in range(6):
        cv2.imwrite(str(d / f"img{i}.png"), fan(120, 160, i))
    (d / "img3.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20 + b"IEND\xaeB`\x82")
    return d


def test_a_bad_frame_in_the_middle_keeps_the_rows_before_it(tmp_path, model, capsys):
    d = _folder_with_bad_middle(tmp_path)
    out = tmp_path / "s.csv"
    rc = main(["score", str(d), "--out", str(out), "--model", str(model.path), "--no-progress", "--batch", "2",
               "--roi", "full"])
    err = capsys.readouterr().err
    assert rc == 2  # non-zero: the run is incomplete
    assert "img3.png" in err and "Traceback" not in err
    rows = read_csv(out)  # was: no CSV at all
    scored = [r for r in rows if r["score"]]
    assert [r["source"] for r in scored] == [sid(d / f"img{i}.png") for i in range(3)]
    assert rows[-1]["status"].startswith("INCOMPLETE: ") and "img3" not in rows[-1]["status"]
    assert sid(d / "img3.png") in rows[-1]["status"]
    _result_columns_line_up(out, scored, [rows[-1]])


def test_skip_bad_scores_the_rest_and_lists_what_it_skipped(tmp_path, model, capsys):
    d = _folder_with_bad_middle(tmp_path)
    out = tmp_path / "s.csv"
    rc = main(["score", str(d), "--out", str(out), "--model", str(model.path), "--no-progress", "--batch", "2",
               "--roi", "full", "--skip-bad"])
    err = capsys.readouterr().err
    assert rc == 0, err
    rows = read_csv(out)
    scored = [r for r in rows if r["score"]]
    assert [int(r["frame"]) for r in scored] == [0, 1, 2, 4, 5]
    skipped = [r for r in rows if r["status"].startswith("SKIPPED: ")]
    assert len(skipped) == 1 and sid(d / "img3.png") in skipped[0]["status"]
    assert "skipped:" in err and "img3.png" not in out.read_text()
    _result_columns_line_up(out, scored, skipped)


def _result_columns_line_up(out, scored, unscored):
    """The per-frame result columns (engine.result.CSV_COLUMNS) sit after status on every row: a scored
    row's band is the band of its score as shown (>= 80 standard, 60-79 acceptable, < 60 non-standard);
    a SKIPPED / INCOMPLETE row has the same number of cells, the result ones blank."""
    header = out.read_text().splitlines()[0].split(",")
    assert header[:6] == ["source", "frame", "time_s", "score", "status", "band"]
    assert "plane" in header and "ood" in header and any(h.startswith("crit_") for h in header)
    for r in scored + unscored:
        assert None not in r and all(v is not None for v in r.values())  # no short or long rows
    for r in scored:
        s = round(float(r["score"]))
        assert r["band"] == ("standard" if s >= 80 else "acceptable" if s >= 60 else "non-standard")
    for r in unscored:
        assert all(r[h] == "" for h in header[5:] if h != "warning")


def test_dicom_whose_header_disagrees_with_its_data_is_flagged(tmp_path, model, capsys):
    ds = pydicom.dcmread(examples.get_path("ybr_color"))
    ds.NumberOfFrames = 20  # the data holds 30
    p = tmp_path / "cine.dcm"
    ds.save_as(p)
    out = tmp_path / "s.csv"
    rc = main(["score", str(p), "--out", str(out), "--model", str(model.path), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 0, err
    rows = read_csv(out)
    assert len(rows) == 20 and {r["status"] for r in rows} == {"damaged source"}  # was: exit 0, nothing said
    assert "damaged source" in err and "NumberOfFrames" in err


def test_heatmaps_hold_the_imaging_region_only(tmp_path, model, capsys, monkeypatch):
    frame = cv2.cvtColor(fan(240, 320, 1), cv2.COLOR_GRAY2BGR)
    cv2.putText(frame, "BAPTIST MED CTR", (4, 230), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
    cv2.putText(frame, "JD", (290, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
    p = tmp_path / "Doe_Jane.png"
    cv2.imwrite(str(p), frame)
    hdir = tmp_path / "hm"
    rc = main(["score", str(p), "--heatmaps", str(hdir), "--model", str(model.path), "--no-progress",
               "--out", str(tmp_path / "s.csv")])
    err = capsys.readouterr().err
    assert rc == 0, err
    (png,) = hdir.glob("*.png")
    assert "Doe" not in png.name and png.name.startswith(sid(p))
    img = cv2.imread(str(png))
    assert img.shape[0] < 240 or img.shape[1] < 320  # cropped to the ROI, not the whole frame
    # the default CSV name is the short id too
    monkeypatch.chdir(tmp_path)
    rc = main(["score", str(p), "--model", str(model.path), "--no-progress"])
    assert rc == 0 and (tmp_path / f"{sid(p)}_scores.csv").is_file() and not list(tmp_path.glob("Doe*.csv"))


def test_truncated_video_is_flagged_and_a_label_names_it(tmp_path, model, capsys):
    w = cv2.VideoWriter(str(tmp_path / "full.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (160, 120))
    for i in range(20):
        w.write(cv2.cvtColor(fan(120, 160, i), cv2.COLOR_GRAY2BGR))
    w.release()
    raw = (tmp_path / "full.avi").read_bytes()
    p = tmp_path / "Doe_Jane.avi"
    p.write_bytes(raw[: int(len(raw) * 0.6)])
    out = tmp_path / "s.csv"
    hdir = tmp_path / "hm"
    rc = main(["score", str(p), "--out", str(out), "--model", str(model.path), "--no-progress", "--label", "case 7",
               "--heatmaps", str(hdir)])
    err = capsys.readouterr().err
    assert rc == 0, err
    rows = read_csv(out)
    assert 0 < len(rows) < 20 and {r["status"] for r in rows} == {"damaged source"}  # was: "ok", nothing said
    assert {r["source"] for r in rows} == {"case_7"} and "truncated" in err
    assert sorted(x.name for x in hdir.glob("*.png"))[0] == "case_7_000000.png"
