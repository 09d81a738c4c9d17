"""The engine's ``fuiqa`` subcommands: score, roi, export, bench."""
import csv
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from pydicom import examples

from app.cli import main
from engine import modelpack
from engine.result import CSV_COLUMNS
from engine_helpers import package_varied

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory):
    # "trained" only in its metadata: lets the tests check the output for a model without the warning
    return package_varied(tmp_path_factory.mktemp("cli") / "m.fuiqa", trained=True).path


@pytest.fixture(scope="module")
def untrained_model(tmp_path_factory):
    return package_varied(tmp_path_factory.mktemp("cli") / "u.fuiqa", trained=False).path


def read_csv(p):
    with open(p, newline="") as f:
        return list(csv.DictReader(f))


def make_mp4(path, n=23, fps=10.0, size=(320, 240)):
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    assert w.isOpened()
    rng = np.random.default_rng(0)
    for i in range(n):
        img = np.zeros((size[1], size[0], 3), np.uint8)
        cv2.ellipse(img, (size[0] // 2, 10), (200, 200), 0, 50, 130, (90, 90, 90), -1)
        img = cv2.add(img, rng.integers(0, 60, img.shape, dtype=np.uint8))
        cv2.putText(img, f"{i}", (5, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1)
        w.write(img)
    w.release()
    return path


def test_score_multiframe_dicom_untrained_warns_loudly(tmp_path, capsys, untrained_model):
    dcm = examples.get_path("ybr_color")  # SonoSite, 30 frames
    out = tmp_path / "s.csv"
    rc = main(["score", str(dcm), "--out", str(out), "--model", str(untrained_model), "--backend", "ort"])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    rows = read_csv(out)
    assert len(rows) == 30 and [int(r["frame"]) for r in rows] == list(range(30))
    assert list(rows[0]) == ["source", "frame", "time_s", "score", "status", *CSV_COLUMNS, "warning"]
    assert all(r["warning"].startswith("UNTRAINED MODEL") for r in rows)
    t = [float(r["time_s"]) for r in rows]
    assert t[0] == 0 and all(b > a for a, b in zip(t, t[1:]))
    s = np.array([float(r["score"]) for r in rows])
    assert np.all((s >= 0) & (s <= 100))
    # the warning is loud at the start and again at the end, and the summary does not call it quality
    assert cap.err.count("UNTRAINED MODEL") >= 2
    assert cap.err.index("UNTRAINED MODEL") < cap.err.index("backend:")
    assert cap.err.rstrip().splitlines()[-2].startswith("!! UNTRAINED MODEL")
    assert "30 frames" in cap.out and "NOT quality" in cap.out and "best frame" not in cap.out


def test_score_mp4_with_heatmaps_and_trained_model(tmp_path, capsys, trained_model):
    mp4 = make_mp4(tmp_path / "clip.mp4")
    out, hdir = tmp_path / "clip.csv", tmp_path / "heat"
    rc = main(["score", str(mp4), "--out", str(out), "--heatmaps", str(hdir), "--model", str(trained_model),
               "--batch", "4", "--roi", "20,10,280,220"])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    rows = read_csv(out)
    assert len(rows) == 23 and list(rows[0]) == ["source", "frame", "time_s", "score", "status", *CSV_COLUMNS]
    # the file name (often the patient's) stays out: the source is named by the GUI's short id
    sid = "src_" + hashlib.sha1(str(mp4.resolve()).encode()).hexdigest()[:8]
    assert {r["source"] for r in rows} == {sid} and {r["status"] for r in rows} == {"ok"}
    assert [float(r["time_s"]) for r in rows[:3]] == pytest.approx([0.0, 0.1, 0.2])
    pngs = sorted(hdir.glob("*.png"))
    assert len(pngs) == 23 and pngs[0].name == f"{sid}_000000.png"
    assert not any("clip" in p.name for p in pngs)
    img = cv2.imread(str(pngs[5]))
    assert img.shape == (220, 280, 3)  # the imaging region (the --roi box) only, not the whole frame
    assert "UNTRAINED" not in cap.err
    best = max(rows, key=lambda r: float(r["score"]))
    assert f"best frame: frame {best['frame']}" in cap.out and "23 frames" in cap.out
    # auto chose ONNX Runtime here and said why
    assert "backend: onnxruntime: TensorRT not installed" in cap.err


def test_score_batch_size_does_not_change_scores(tmp_path, capsys, trained_model):
    mp4 = make_mp4(tmp_path / "c.mp4", n=9)
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert main(["score", str(mp4), "--out", str(a), "--model", str(trained_model), "--batch", "1"]) == 0
    assert main(["score", str(mp4), "--out", str(b), "--model", str(trained_model), "--batch", "16"]) == 0
    sa = [float(r["score"]) for r in read_csv(a)]
    sb = [float(r["score"]) for r in read_csv(b)]
    assert len(sa) == 9 and sa == pytest.approx(sb, abs=0.01)


def test_score_folder_names_each_file(tmp_path, capsys, trained_model):
    d = tmp_path / "imgs"
    d.mkdir()
    for i in (1, 2, 10):
        cv2.imwrite(str(d / f"img{i}.png"), np.full((100, 120), 40 * i % 255, np.uint8))
    out = tmp_path / "f.csv"
    assert main(["score", str(d), "--out", str(out), "--model", str(trained_model), "--roi", "full",
                 "--keep-names"]) == 0
    rows = read_csv(out)
    assert [Path(r["source"]).name for r in rows] == ["img1.png", "img2.png", "img10.png"]
    assert main(["score", str(d), "--out", str(out), "--model", str(trained_model), "--roi", "full"]) == 0
    rows = read_csv(out)
    want = ["src_" + hashlib.sha1(str((d / f"img{i}.png").resolve()).encode()).hexdigest()[:8] for i in (1, 2, 10)]
    assert [r["source"] for r in rows] == want


@pytest.mark.parametrize(
    "case,needle",
    [
        ("missing_input", "no such file"),
        ("empty_video", "empty.mp4"),
        ("empty_model", "empty.fuiqa"),
        ("garbage_model", "garbage.fuiqa"),
        ("truncated_model", "trunc.fuiqa"),
        ("bad_roi", "1,2,3"),
        ("tensorrt_missing", "TensorRT not installed"),
    ],
)
def test_score_errors_are_one_clear_line_exit_2(tmp_path, capsys, trained_model, case, needle):
    mp4 = make_mp4(tmp_path / "ok.mp4", n=3)
    args = ["score", str(mp4), "--out", str(tmp_path / "o.csv"), "--model", str(trained_model)]
    if case == "missing_input":
        args[1] = str(tmp_path / "nothere.mp4")
    elif case == "empty_video":
        (tmp_path / "empty.mp4").write_bytes(b"")
        args[1] = str(tmp_path / "empty.mp4")
    elif case == "empty_model":
        (tmp_path / "empty.fuiqa").write_bytes(b"")
        args[5] = str(tmp_path / "empty.fuiqa")
    elif case == "garbage_model":
        (tmp_path / "garbage.fuiqa").write_bytes(b"this is not a zip file at all" * 10)
        args[5] = str(tmp_path / "garbage.fuiqa")
    elif case == "truncated_model":
        data = Path(trained_model).read_bytes()
        (tmp_path / "trunc.fuiqa").write_bytes(data[: len(data) // 2])
        args[5] = str(tmp_path / "trunc.fuiqa")
    elif case == "bad_roi":
        args += ["--roi", "1,2,3"]
    elif case == "tensorrt_missing":
        args += ["--backend", "tensorrt"]
    rc = main(args)
    err = capsys.readouterr().err
    assert rc == 2
    lines = [l for l in err.strip().splitlines() if "error:" in l]
    assert len(lines) == 1 and needle in lines[0], err
    assert "Traceback" not in err
    assert not (tmp_path / "o.csv").exists()


def test_corrupt_model_in_a_real_process_exits_2_without_traceback(tmp_path):
    bad = tmp_path / "bad.fuiqa"
    bad.write_bytes(b"")
    p = subprocess.run([sys.executable, "-m", "app", "score", "demo", "--model", str(bad)],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 2
    assert "Traceback" not in p.stderr and "model file is empty" in p.stderr and str(bad) in p.stderr


def test_roi_prints_json_with_int_box(capsys):
    rc = main(["roi", str(examples.get_path("rgb_color"))])
    out = capsys.readouterr().out
    assert rc == 0
    d = json.loads(out)
    assert all(isinstance(d[k], int) for k in "xywh") and d["w"] > 0 and d["h"] > 0
    assert {"kind", "confidence"} <= set(d)


def test_roi_bad_image_exit_2(tmp_path, capsys):
    p = tmp_path / "x.png"
    p.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    assert main(["roi", str(p)]) == 2
    assert "x.png" in capsys.readouterr().err


def test_export_onnx_and_fp16_and_tensorrt_unavailable(tmp_path, capsys, trained_model):
    import onnx
    import onnxruntime as ort

    out, out16 = tmp_path / "m.onnx", tmp_path / "m16.onnx"
    assert main(["export", str(trained_model), "--onnx", str(out)]) == 0
    onnx.checker.check_model(onnx.load(str(out)))
    # FP16 export needs onnxconverter-common, a [dev] dependency: never skipped silently
    assert main(["export", str(trained_model), "--fp16-onnx", str(out16)]) == 0, capsys.readouterr().err
    S = modelpack.load(trained_model).input_size
    x = np.random.default_rng(0).normal(0, 1, (2, 1, S, S)).astype(np.float32)
    a = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"image": x})[0]
    b = ort.InferenceSession(str(out16), providers=["CPUExecutionProvider"]).run(None, {"image": x})[0]
    # measured FP16 vs FP32: at most 0.12 points over 24 random inputs of this model
    assert b.dtype == np.float32 and 0 < np.max(np.abs(a - b)) < 0.3
    capsys.readouterr()
    assert main(["export", str(trained_model), "--tensorrt", "--cache", str(tmp_path / "c")]) == 2
    assert "TensorRT not installed" in capsys.readouterr().err
    assert main(["export", str(trained_model)]) == 0
    assert "agrees with the torch weights" in capsys.readouterr().out


def test_bench_writes_json_and_table(tmp_path, capsys, trained_model):
    j = tmp_path / "b.json"
    rc = main(["bench", "--model", str(trained_model), "--backends", "ort,tensorrt", "--batches", "1,2",
               "--seconds", "0.02", "--json", str(j)])
    out = capsys.readouterr().out
    assert rc == 0
    d = json.loads(j.read_text())
    assert [(r["backend"], r["batch"]) for r in d["results"]] == [("onnxruntime", 1), ("onnxruntime", 2)]
    r = d["results"][0]
    assert r["end_to_end"]["frames_per_s"] > 0 and r["end_to_end"]["p95_ms"] >= r["end_to_end"]["p50_ms"]
    assert r["gflops_per_frame"] == pytest.approx(d["model"]["gflops"]) and r["achieved_gflop_per_s"] > 0
    assert d["preprocess"]["frames_per_s"] > 0 and "tensorrt" in d["skipped"]
    assert "| backend" in out and "target ≥ 200 frames/s" in out


def test_ctrl_c_keeps_the_frames_scored_so_far(tmp_path, capsys, trained_model, monkeypatch):
    from engine.scorers import OrtScorer

    real = OrtScorer.score_tensor
    calls = []

    def flaky(self, x):
        calls.append(len(x))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(self, x)

    monkeypatch.setattr(OrtScorer, "score_tensor", flaky)
    mp4 = make_mp4(tmp_path / "live.mp4", n=20)
    out = tmp_path / "live.csv"
    rc = main(["score", str(mp4), "--out", str(out), "--model", str(trained_model), "--batch", "4", "--backend", "ort"])
    assert rc == 130 and "interrupted" in capsys.readouterr().err
    assert len(read_csv(out)) == 8  # two batches of 4 were scored before Ctrl-C


def test_heatmap_overlay_colours_only_the_roi():
    from engine.cli import heatmap_overlay

    frame = np.full((100, 200, 3), 100, np.uint8)
    good = heatmap_overlay(frame, np.full((16, 16), 100.0, np.float32), (50, 20, 80, 60), 128)
    poor = heatmap_overlay(frame[:, :, 0], np.zeros((16, 16), np.float32), (50, 20, 80, 60), 128)
    assert good.shape == poor.shape == (100, 200, 3)
    np.testing.assert_array_equal(good[:10], frame[:10])  # outside the ROI untouched
    b, g, r = good[50, 60].astype(int)
    assert g > r + 50 and g > b + 50  # 100 points: green
    b, g, r = poor[50, 60].astype(int)
    assert r > g + 50 and r > b + 50  # 0 points: red
    mask = np.zeros((100, 200), bool)
    mask[20:50, 50:130] = True  # only the top half of the ROI is image
    m = heatmap_overlay(frame, np.zeros((16, 16), np.float32), (50, 20, 80, 60), 128, mask=mask)
    np.testing.assert_array_equal(m[60, 60], frame[60, 60])
    assert m[30, 60, 2] > m[30, 60, 1] + 50
