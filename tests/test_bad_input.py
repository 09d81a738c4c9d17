"""Bad input gets one clear line and loses nothing (issue 14, part 1): file names that are not UTF-8,
images whose header declares a huge size, damaged model files, truncated checkpoints, bad labels.csv
files, metrics on constant labels."""
from __future__ import annotations

import csv
import io
import json
import os
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.cli import main
from engine import modelpack
from engine.sources import SourceError, open_source
from engine_helpers import package_varied

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return package_varied(tmp_path_factory.mktemp("bad") / "m.fuiqa", trained=True)


def make_mp4(path, n=6, size=(160, 120)):
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, size)
    rng = np.random.default_rng(0)
    for _ in range(n):
        w.write(rng.integers(0, 200, (size[1], size[0], 3), dtype=np.uint8))
    w.release()
    return path


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR declares width x height, with one tiny IDAT and an IEND: a decompression bomb
    as far as the header goes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def run_cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "app", *map(os.fsdecode, args)], capture_output=True, cwd=ROOT,
                          timeout=timeout)


# ------------------------------------------------------------------------------------ file names


@pytest.mark.skipif(sys.platform != "linux", reason="only Linux file names can be invalid UTF-8")
def test_video_with_non_utf8_name_is_scored_not_a_crash(tmp_path, model):
    good = make_mp4(tmp_path / "clip.mp4")
    bad = os.path.join(os.fsencode(tmp_path), b"clip\xff\xfe.mp4")
    os.rename(os.fsencode(good), bad)
    out = tmp_path / "s.csv"
    p = run_cli("score", bad, "--out", out, "--model", model.path, "--no-progress")
    assert p.returncode == 0, p.stderr.decode(errors="replace")  # was SIGSEGV (-11) inside OpenCV
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 6 and all(r["source"].startswith("src_") for r in rows)
    p = run_cli("roi", bad)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    assert set(json.loads(p.stdout)) >= {"x", "y", "w", "h"}


# ------------------------------------------------------------------------------------ pixel limit


def test_png_declaring_50000_squared_is_refused_before_decoding(tmp_path):
    p = tmp_path / "bomb.png"
    p.write_bytes(png_header_only(50000, 50000))
    with pytest.raises(SourceError, match=r"bomb\.png: image declares 50000 x 50000 = 2500 MP.*100 MP limit"):
        open_source(p)


def test_bmp_declaring_2e9_squared_is_refused(tmp_path):
    p = tmp_path / "bomb.bmp"
    hdr = b"BM" + struct.pack("<IHHI", 54 + 16, 0, 0, 54) + struct.pack("<IiiHHIIiiII", 40, 2_000_000_000,
                                                                        2_000_000_000, 1, 24, 0, 16, 0, 0, 0, 0)
    p.write_bytes(hdr + b"\0" * 16)
    with pytest.raises(SourceError, match=r"bomb\.bmp: .*(limit|declares)"):
        open_source(p)


def test_pixel_limit_is_configurable(tmp_path):
    from engine.sources import set_max_pixels

    p = tmp_path / "small.png"
    cv2.imwrite(str(p), np.full((100, 120), 90, np.uint8))
    assert open_source(p).read().image.shape == (100, 120)
    set_max_pixels(10_000)
    try:
        with pytest.raises(SourceError, match=r"120 x 100 .* limit"):
            open_source(p)
    finally:
        set_max_pixels(None)


def test_heatmaps_of_a_large_frame_are_downscaled_region_only(tmp_path, model, capsys):
    frame = np.zeros((3000, 4000), np.uint8)
    frame[:] = 25
    cv2.putText(frame, "BAPTIST MED CTR", (30, 120), cv2.FONT_HERSHEY_SIMPLEX, 3, 255, 6)  # burned-in text
    frame[400:2800, 600:3400] = np.random.default_rng(0).integers(40, 200, (2400, 2800), dtype=np.uint8)
    src = tmp_path / "big.png"
    cv2.imwrite(str(src), frame)
    hdir = tmp_path / "hm"
    rc = main(["score", str(src), "--out", str(tmp_path / "s.csv"), "--heatmaps", str(hdir), "--model",
               str(model.path), "--roi", "600,400,2800,2400", "--no-progress"])
    assert rc == 0, capsys.readouterr().err
    (png,) = hdir.glob("*.png")
    img = cv2.imread(str(png))
    assert max(img.shape[:2]) <= 1600 and img.shape[1] / img.shape[0] == pytest.approx(2800 / 2400, rel=0.01)
    assert "big" not in png.name


# ------------------------------------------------------------------------------------ model files


def _rezip(src: Path, dst: Path, edit) -> Path:
    """Copy a model zip, passing each (name, bytes) through ``edit`` (returns new bytes)."""
    with zipfile.ZipFile(src) as zi, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zo:
        for n in zi.namelist():
            zo.writestr(n, edit(n, zi.read(n)))
    return dst


def test_bit_flips_in_compressed_metadata_give_model_error(tmp_path, model):
    raw = bytearray(model.path.read_bytes())
    with zipfile.ZipFile(model.path) as z:
        info = z.getinfo("meta.json")
    # local header: 30 bytes + name + extra, then the deflated data
    name_len, extra_len = struct.unpack("<HH", raw[info.header_offset + 26 : info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len
    errors = 0
    for k, off in enumerate(np.linspace(start, start + info.compress_size - 1, 12).astype(int)):
        bad = bytearray(raw)
        bad[off] ^= 1 << (k % 8)
        p = tmp_path / f"flip{k}.fuiqa"
        p.write_bytes(bytes(bad))
        try:
            pkg = modelpack.load(p)
        except modelpack.ModelError as e:
            assert p.name in str(e)
            errors += 1
        else:  # a flip in a bit the decoder ignores (final-block flag, padding): same content, checked
            assert pkg.meta == model.meta
    assert errors >= 8  # was a zlib.error traceback


def test_graph_input_disagreeing_with_metadata_is_refused_at_load(tmp_path, model):
    size = model.input_size

    def edit(name, data):
        if name != "meta.json":
            return data
        meta = json.loads(data)
        meta["input_size"] = size // 2
        meta["arch"]["input_size"] = size // 2
        return json.dumps(meta).encode()

    p = _rezip(model.path, tmp_path / "shape.fuiqa", edit)
    with pytest.raises(modelpack.ModelError, match=rf"takes input \['N', 1, {size}, {size}\] but its metadata says"):
        modelpack.load(p)
    rc = main(["score", "demo", "--model", str(p), "--backend", "torch", "--out", str(tmp_path / "x.csv")])
    assert rc == 2 and not (tmp_path / "x.csv").exists()


def test_model_members_are_size_checked_before_reading(tmp_path, model, monkeypatch):
    monkeypatch.setitem(modelpack.MAX_MEMBER_BYTES, "model.onnx", 1000)
    with pytest.raises(modelpack.ModelError, match=r"member model.onnx declares \d+ bytes"):
        modelpack.load(model.path)


@pytest.mark.parametrize("meta_edit", [
    lambda m: m.update(arch=[1, 2]),
    lambda m: m.update(input_size="x" * 5),
    lambda m: m.update(input_size=10 ** 400),
    lambda m: m.update(sha256="nope"),
    lambda m: m.update(metrics={"srcc": "high"}),
])
def test_odd_metadata_values_give_model_error_or_load(tmp_path, model, meta_edit):
    def edit(name, data):
        if name != "meta.json":
            return data
        meta = json.loads(data)
        meta_edit(meta)
        return json.dumps(meta).encode()

    p = _rezip(model.path, tmp_path / "odd.fuiqa", edit)
    try:
        pkg = modelpack.load(p)
    except modelpack.ModelError as e:
        assert "odd.fuiqa" in str(e)
    else:
        assert isinstance(pkg.describe(), str)


# ------------------------------------------------------------------------------------ checkpoints


def test_truncated_checkpoint_is_set_aside_with_a_clear_error(tmp_path):
    from test_trainer import SMALL, _prepared
    from train.trainer import TrainConfig, TrainError, fit

    data = _prepared()
    cfg = TrainConfig(**{**SMALL, "epochs": 1})
    out = tmp_path / "run"
    fit(data, out, cfg, resume=False, write_model=False)
    ck = out / "checkpoint.pt"
    ck.write_bytes(ck.read_bytes()[: ck.stat().st_size // 2])
    with pytest.raises(TrainError, match=r"checkpoint.pt: checkpoint is damaged or truncated.*set aside as"):
        fit(data, out, TrainConfig(**{**SMALL, "epochs": 2}), write_model=False)
    assert not ck.exists() and len(list(out.glob("checkpoint.bad-*.pt"))) == 1
    r = fit(data, out, TrainConfig(**{**SMALL, "epochs": 1}), write_model=False)  # runs afresh
    assert not r.stopped and len(r.history) == 1


def test_stop_after_the_last_epoch_writes_no_model(tmp_path):
    from test_trainer import SMALL, _prepared
    from train.trainer import TrainConfig, fit

    data = _prepared()
    calls = {"n": 0}

    def stop():  # polled once per step (3 steps in the one epoch); the 4th poll is after the epoch
        calls["n"] += 1
        return calls["n"] > 3

    events = []
    r = fit(data, tmp_path / "r", TrainConfig(**{**SMALL, "epochs": 1}), progress=events.append, should_stop=stop)
    assert r.stopped and r.model_path is None and not (tmp_path / "r" / "model.fuiqa").exists()
    assert events[-1]["event"] == "stopped"


# ------------------------------------------------------------------------------------ labels.csv


def _labelled(root: Path, rows, header="name,mos", size=32):
    (root / "images").mkdir(parents=True, exist_ok=True)
    for i in range(6):
        a = np.full((size, size), 40 + 20 * i, np.uint8)
        a[4:12, 4:12] = 250
        cv2.imwrite(str(root / "images" / f"i{i}.png"), a)
    (root / "labels.csv").write_text(header + "\n" + "\n".join(rows) + "\n")
    return root


def test_duplicate_label_columns_are_refused(tmp_path):
    from train.data import DataError, load_labelled

    root = _labelled(tmp_path / "d", [f"images/i{i}.png,{10 * i},{90 - 10 * i}" for i in range(6)], "name,mos,mos")
    with pytest.raises(DataError, match=r"column\(s\) mos appear more than once"):
        load_labelled(root, fractions=(1, 0, 0))


def test_names_outside_the_data_folder_are_bad_rows(tmp_path):
    from train.data import DataError, load_labelled

    secret = tmp_path / "secret.png"
    cv2.imwrite(str(secret), np.full((32, 32), 99, np.uint8))
    rows = [f"images/i{i}.png,{10 * i}" for i in range(6)] + ["../secret.png,50", f"{secret},50"]
    root = _labelled(tmp_path / "d", rows)
    with pytest.raises(DataError) as ei:
        load_labelled(root, fractions=(1, 0, 0))
    msg = str(ei.value)
    assert "2 bad row(s)" in msg and "row 8 (../secret.png): name leaves the data folder" in msg
    assert "row 9" in msg and "absolute path" in msg
    ok = load_labelled(root, fractions=(1, 0, 0), skip_bad=True)
    assert len(ok.items) == 6 and all(it.path.resolve().is_relative_to(root.resolve()) for it in ok.items)


def test_huge_name_and_1x1_image_are_data_errors(tmp_path):
    from train.data import DataError, load_labelled

    root = _labelled(tmp_path / "d", [f"images/i{i}.png,{10 * i}" for i in range(6)] + ["a" * 131073 + ",50"])
    with pytest.raises(DataError, match="row 8 is not valid CSV|characters long"):
        load_labelled(root, fractions=(1, 0, 0))
    root = _labelled(tmp_path / "e", [f"images/i{i}.png,{10 * i}" for i in range(6)] + ["a" * 2000 + ",50"])
    with pytest.raises(DataError, match="2000 characters long"):
        load_labelled(root, fractions=(1, 0, 0))
    root = _labelled(tmp_path / "f", [f"images/i{i}.png,{10 * i}" for i in range(6)], size=1)
    with pytest.raises(DataError, match=r"image is 1x1 pixels"):
        load_labelled(root, fractions=(1, 0, 0))


def test_eval_on_constant_labels_writes_strict_json(tmp_path, model, capsys):
    size = 64
    rows = [f"images/i{i}.png,50,{'train' if i < 2 else 'test'}" for i in range(6)]
    root = _labelled(tmp_path / "c", rows, header="name,mos,split", size=size)
    rc = main(["eval", str(model.path), str(root), "--split", "test", "--json", "--boot", "20"])
    cap = capsys.readouterr()
    out = cap.out
    assert rc == 0, cap.err
    text = out[out.index("{"):]

    def no_nan(v):
        raise AssertionError(f"bare {v} in the JSON")

    m = json.loads(text, parse_constant=no_nan)
    assert m["n"] == 4
