"""A generator of bad inputs for the fuzz test (tests/test_fuzz.py) and for manual runs.

``build(root, model) -> list[Case]`` writes the corpus under ``root`` and returns one :class:`Case`
per run: the ``fuiqa`` arguments, the file the message must name, and how many frames a successful
run must score. Kinds: truncations and bit flips of images, videos and DICOMs; decompression bombs
(headers that declare huge images); odd file names (not UTF-8, newline, unicode, leading dash, very
long); bad DICOM attributes; bad model-file members; bad labels.csv files; folders with a bad image
in the middle (with and without ``--skip-bad``).

Run ``python tests/fuzz_corpus.py OUT_DIR`` to write the corpus and print the cases.
"""
from __future__ import annotations

import json
import os
import struct
import sys
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np


@dataclass
class Case:
    name: str  # what the case is
    kind: str  # image | video | dicom | name | bomb | model | labels | folder
    argv: list  # fuiqa arguments (str or bytes paths)
    names: str  # text the error line must contain (the file's name, as printed)
    frames: int | None = None  # frames a successful run must write (None: any, but not zero)
    ok_exit: tuple = (0, 2)  # allowed exit codes
    out: str | None = None  # CSV path of a score run
    extra: dict = field(default_factory=dict)


def _fan(h=120, w=160, seed=0):
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w), np.uint8)
    m = np.zeros((h, w), np.uint8)
    cv2.ellipse(m, (w // 2, 5), (int(h * 0.9), int(h * 0.9)), 0, 50, 130, 255, -1)
    img[m > 0] = rng.integers(30, 220, int((m > 0).sum()), dtype=np.uint8)
    return img


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_declaring(w: int, h: int, idat: bytes | None = None) -> bytes:
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    idat = idat if idat is not None else zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def png_zlib_bomb(w: int, h: int) -> bytes:
    """A real PNG of w x h black pixels: small on disk (deflate), huge decoded."""
    c = zlib.compressobj(9)
    row = b"\0" * (w + 1)
    parts = [c.compress(row) for _ in range(h)]
    return png_declaring(w, h, b"".join(parts) + c.flush())


def jpeg_declaring(w: int, h: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", _fan(64, 64))
    raw = bytearray(buf.tobytes())
    i = raw.index(b"\xff\xc0")
    raw[i + 5 : i + 9] = struct.pack(">HH", h, w)
    return bytes(raw)


def bmp_declaring(w: int, h: int) -> bytes:
    return (b"BM" + struct.pack("<IHHI", 70, 0, 0, 54)
            + struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, 16, 0, 0, 0, 0) + b"\0" * 16)


def tiff_declaring(w: int, h: int) -> bytes:
    entries = [(256, 4, 1, w), (257, 4, 1, h), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
               (273, 4, 1, 8), (277, 3, 1, 1), (278, 4, 1, h), (279, 4, 1, 16)]
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", *e) for e in entries) + b"\0\0\0\0"
    return b"II*\0" + struct.pack("<I", 8 + 16) + b"\0" * 16 + ifd


def flip_bits(data: bytes, seed: int, n: int = 8, start: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    b = bytearray(data)
    for off in rng.integers(start, len(b), n):
        b[int(off)] ^= 1 << int(rng.integers(0, 8))
    return bytes(b)


def make_mp4(path: Path, n=8, size=(160, 120)) -> Path:
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, size)
    for i in range(n):
        w.write(cv2.cvtColor(_fan(size[1], size[0], i), cv2.COLOR_GRAY2BGR))
    w.release()
    return path


def make_dicom(path: Path, frames: int = 4, rows: int = 64, cols: int = 80, **attrs) -> Path:
    import pydicom
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.3.1"  # US multi-frame
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "US"
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.NumberOfFrames = frames
    ds.FrameTime = 40.0
    ds.PixelData = np.stack([_fan(rows, cols, i) for i in range(frames)]).tobytes()
    for k, v in attrs.items():
        if v is None:
            if k in ds:
                delattr(ds, k)
        else:
            setattr(ds, k, v)
    pydicom.dcmwrite(str(path), ds, enforce_file_format=False)
    return path


def _rezip(src: Path, dst: Path, edit=None, drop=(), raw_members: dict | None = None) -> Path:
    with zipfile.ZipFile(src) as zi, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zo:
        for n in zi.namelist():
            if n in drop:
                continue
            data = zi.read(n)
            if edit:
                data = edit(n, data)
            zo.writestr(n, data)
        for n, data in (raw_members or {}).items():
            zo.writestr(n, data)
    return dst


def _meta_edit(fn):
    def edit(n, data):
        if n != "meta.json":
            return data
        m = json.loads(data)
        fn(m)
        return json.dumps(m).encode()

    return edit


def _declared_size(src: Path, dst: Path, member: str, size: int) -> Path:
    """Copy of a zip whose central directory says ``member`` is ``size`` bytes when decompressed."""
    raw = bytearray(src.read_bytes())
    with zipfile.ZipFile(src) as z:
        info = z.getinfo(member)
    name = member.encode()
    i = 0
    while True:  # find this member's central-directory entry
        i = raw.index(b"PK\x01\x02", i)
        nlen = struct.unpack("<H", raw[i + 28 : i + 30])[0]
        if raw[i + 46 : i + 46 + nlen] == name:
            break
        i += 4
    raw[i + 24 : i + 28] = struct.pack("<I", size)
    raw[info.header_offset + 22 : info.header_offset + 26] = struct.pack("<I", size)
    dst.write_bytes(bytes(raw))
    return dst


def build(root, model_path) -> list[Case]:
    """Write the corpus under ``root``; ``model_path``: a valid model to score with and to damage."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    d = {k: root / k for k in ("img", "vid", "dcm", "names", "bomb", "model", "labels", "folder", "out")}
    for p in d.values():
        p.mkdir(exist_ok=True)
    model = str(model_path)
    cases: list[Case] = []
    k = {"n": 0}

    def score(kind, name, path, frames=None, ok=(0, 2), extra_args=(), names=None):
        k["n"] += 1
        out = d["out"] / f"c{k['n']:03d}.csv"
        argv = ["score", path, "--out", str(out), "--model", model, "--no-progress", *extra_args]
        nm = names if names is not None else (os.fsdecode(Path(os.fsdecode(path)).name) if not isinstance(path, bytes)
                                              else os.path.basename(path).decode("utf-8", "backslashreplace"))
        cases.append(Case(name, kind, argv, nm, frames, ok, str(out)))

    # ---- images: good, truncated, flipped, empty, wrong content
    good = cv2.imencode(".png", _fan())[1].tobytes()
    goodj = cv2.imencode(".jpg", _fan())[1].tobytes()
    (d["img"] / "good.png").write_bytes(good)
    score("image", "a good PNG", str(d["img"] / "good.png"), frames=1, ok=(0,))
    for frac in (0.1, 0.5, 0.9):
        for ext, data in ((".png", good), (".jpg", goodj)):
            p = d["img"] / f"trunc{int(frac * 100)}{ext}"
            p.write_bytes(data[: int(len(data) * frac)])
            score("image", f"{ext} truncated at {frac:.0%}", str(p))
    for s in range(6):
        for ext, data in ((".png", good), (".jpg", goodj)):
            p = d["img"] / f"flip{s}{ext}"
            p.write_bytes(flip_bits(data, s, n=4, start=8))
            score("image", f"{ext} with bit flips (seed {s})", str(p))
    for nm, data in (("empty.png", b""), ("text.png", b"hello, I am not an image\n"), ("zeros.jpg", b"\0" * 4096),
                     ("html.bmp", b"<html></html>"), ("header.tif", b"II*\0\x08\0\0\0")):
        (d["img"] / nm).write_bytes(data)
        score("image", f"not an image ({nm})", str(d["img"] / nm), ok=(2,))

    # ---- decompression bombs (refused from the header, before decoding)
    bombs = {"png50000.png": png_declaring(50000, 50000), "bmp2e9.bmp": bmp_declaring(2_000_000_000, 2_000_000_000),
             "jpeg20000.jpg": jpeg_declaring(20000, 20000), "tiff60000.tif": tiff_declaring(60000, 60000),
             "zlib12000.png": png_zlib_bomb(12000, 12000), "neg.bmp": bmp_declaring(-5, -2_000_000_000),
             "png0x0.png": png_declaring(0, 0)}
    for nm, data in bombs.items():
        (d["bomb"] / nm).write_bytes(data)
        score("bomb", f"header declares a huge image ({nm}, {len(data)} bytes)", str(d["bomb"] / nm), ok=(2,))

    # ---- videos
    mp4 = make_mp4(d["vid"] / "good.mp4")
    score("video", "a good MP4", str(mp4), frames=8, ok=(0,))
    data = mp4.read_bytes()
    for frac in (0.05, 0.5, 0.95):
        p = d["vid"] / f"trunc{int(frac * 100)}.mp4"
        p.write_bytes(data[: int(len(data) * frac)])
        score("video", f"MP4 truncated at {frac:.0%}", str(p))
    for s in range(4):
        p = d["vid"] / f"flip{s}.mp4"
        p.write_bytes(flip_bits(data, s, n=16, start=32))
        score("video", f"MP4 with bit flips (seed {s})", str(p))
    (d["vid"] / "garbage.avi").write_bytes(os.urandom(3000))
    score("video", "random bytes named .avi", str(d["vid"] / "garbage.avi"), ok=(2,))
    (d["vid"] / "empty.mov").write_bytes(b"")
    score("video", "empty .mov", str(d["vid"] / "empty.mov"), ok=(2,))

    # ---- DICOM attributes and damage
    dgood = make_dicom(d["dcm"] / "good.dcm")
    score("dicom", "a good DICOM cine", str(dgood), frames=4, ok=(0,))
    raw = dgood.read_bytes()
    for frac in (0.2, 0.6, 0.99):
        p = d["dcm"] / f"trunc{int(frac * 100)}.dcm"
        p.write_bytes(raw[: int(len(raw) * frac)])
        score("dicom", f"DICOM truncated at {frac:.0%}", str(p))
    for s in range(3):
        p = d["dcm"] / f"flip{s}.dcm"
        p.write_bytes(flip_bits(raw, s, n=6, start=132))
        score("dicom", f"DICOM with bit flips (seed {s})", str(p))
    bad_attrs = {
        "rows0": dict(Rows=0), "rows_huge": dict(Rows=65535, Columns=65535), "bits7": dict(BitsAllocated=7),
        "spp2": dict(SamplesPerPixel=2), "frames_text": dict(NumberOfFrames="abc"),
        "frames_million": dict(NumberOfFrames=1_000_000), "photometric_foo": dict(PhotometricInterpretation="FOO"),
        "no_pixels": dict(PixelData=None), "no_rows": dict(Rows=None), "bits_stored_40": dict(BitsStored=40),
        "rows_half": dict(Rows=32), "frames_fewer": dict(NumberOfFrames=2), "frametime_neg": dict(FrameTime=-5.0),
        "palette_no_lut": dict(PhotometricInterpretation="PALETTE COLOR"),
    }
    for nm, attrs in bad_attrs.items():
        try:
            p = make_dicom(d["dcm"] / f"{nm}.dcm", **attrs)
        except Exception:  # noqa: BLE001 - pydicom refused to write this one; not an input then
            continue
        score("dicom", f"DICOM with bad attributes ({nm})", str(p))
    (d["dcm"] / "preamble.dcm").write_bytes(b"\0" * 128 + b"DICM")
    score("dicom", "DICOM preamble only", str(d["dcm"] / "preamble.dcm"), ok=(2,))
    (d["dcm"] / "nosuffix").write_bytes(os.urandom(1000))
    score("dicom", "random bytes without a suffix", str(d["dcm"] / "nosuffix"), ok=(2,))

    # ---- odd names (the file itself is fine)
    odd = ["фото УЗИ 1.png", "a b  c.png", "x" * 200 + ".png", "new\nline.png", "-dash.png", "semi;colon'quote\".png"]
    for nm in odd:
        (d["names"] / nm).write_bytes(good)
        shown = nm.replace("\n", "\\n")
        score("name", f"odd file name {shown[:40]!r}", str(d["names"] / nm), frames=1, ok=(0,), names=shown)
    if sys.platform.startswith("linux"):
        for bname, data in ((b"bad\xff\xfename.png", good), (b"clip\xff.mp4", mp4.read_bytes())):
            p = os.path.join(os.fsencode(d["names"]), bname)
            with open(p, "wb") as f:
                f.write(data)
            score("name", f"file name not UTF-8 ({bname!r})", p, frames=1 if bname.endswith(b".png") else 8, ok=(0,),
                  names=bname.decode("utf-8", "backslashreplace"))
    score("name", "missing file", str(d["names"] / "does-not-exist.png"), ok=(2,), names="does-not-exist.png")

    # ---- model files (scored on one good image)
    img = str(d["img"] / "good.png")
    mp = Path(model)
    mraw = mp.read_bytes()

    def mcase(name, path, extra=()):
        k["n"] += 1
        out = d["out"] / f"c{k['n']:03d}.csv"
        cases.append(Case(name, "model", ["score", img, "--out", str(out), "--model", str(path), "--no-progress",
                                          *extra], Path(path).name, None, (2,), str(out)))

    for nm, data in (("empty.fuiqa", b""), ("text.fuiqa", b"not a model"), ("trunc.fuiqa", mraw[: len(mraw) // 2]),
                     ("trunc_end.fuiqa", mraw[:-30])):
        (d["model"] / nm).write_bytes(data)
        mcase(f"model file {nm}", d["model"] / nm)
    with zipfile.ZipFile(mp) as z:
        info = z.getinfo("meta.json")
    start = info.header_offset + 30 + len("meta.json")
    for s in range(4):
        b = bytearray(mraw)
        off = start + 2 + (s * 97) % max(1, info.compress_size - 4)
        b[off] ^= 0x10 << (s % 4)
        (d["model"] / f"metaflip{s}.fuiqa").write_bytes(bytes(b))
        k["n"] += 1
        out = d["out"] / f"c{k['n']:03d}.csv"
        cases.append(Case(f"bit flip in compressed metadata ({s})", "model",
                          ["score", img, "--out", str(out), "--model", str(d["model"] / f"metaflip{s}.fuiqa"),
                           "--no-progress"], f"metaflip{s}.fuiqa", 1, (0, 2), str(out)))
    edits = {
        "meta_not_json.fuiqa": lambda n, b: b"{not json" if n == "meta.json" else b,
        "meta_list.fuiqa": lambda n, b: b"[1, 2, 3]" if n == "meta.json" else b,
        "no_format.fuiqa": _meta_edit(lambda m: m.pop("format")),
        "arch_list.fuiqa": _meta_edit(lambda m: m.update(arch=[1])),
        "size_text.fuiqa": _meta_edit(lambda m: m.update(input_size="big")),
        "size_huge.fuiqa": _meta_edit(lambda m: m.update(input_size=10 ** 9)),
        "shape_mismatch.fuiqa": _meta_edit(lambda m: (m.update(input_size=m["input_size"] // 2),
                                                      m["arch"].update(input_size=m["input_size"]))),
        "sha_text.fuiqa": _meta_edit(lambda m: m.update(sha256="x")),
        "onnx_changed.fuiqa": lambda n, b: (b[:-10] + b"0123456789") if n == "model.onnx" else b,
        "deep_json.fuiqa": lambda n, b: (b"[" * 100000 + b"]" * 100000) if n == "meta.json" else b,
    }
    for nm, fn in edits.items():
        mcase(f"model member edited ({nm})", _rezip(mp, d["model"] / nm, fn))
    mcase("model without model.onnx", _rezip(mp, d["model"] / "no_onnx.fuiqa", drop=("model.onnx",)))
    mcase("model without meta.json", _rezip(mp, d["model"] / "no_meta.fuiqa", drop=("meta.json",)))

    def onnx_garbage(n, b):
        return b"\x08\x07garbage-protobuf" if n == "model.onnx" else b

    g = _rezip(mp, d["model"] / "onnx_garbage_sum.fuiqa", onnx_garbage)
    # recompute the checksum so only the graph parser can tell
    import hashlib
    meta = json.loads(zipfile.ZipFile(g).read("meta.json"))
    meta["sha256"]["model.onnx"] = hashlib.sha256(b"\x08\x07garbage-protobuf").hexdigest()
    _rezip(mp, d["model"] / "onnx_garbage.fuiqa",
           lambda n, b: json.dumps(meta).encode() if n == "meta.json" else onnx_garbage(n, b))
    mcase("ONNX graph garbage with a matching checksum", d["model"] / "onnx_garbage.fuiqa")

    def weights_garbage(n, b):
        return b"garbage weights" if n == "weights.pt" else b

    meta2 = json.loads(zipfile.ZipFile(mp).read("meta.json"))
    meta2["sha256"]["weights.pt"] = hashlib.sha256(b"garbage weights").hexdigest()
    _rezip(mp, d["model"] / "weights_garbage.fuiqa",
           lambda n, b: json.dumps(meta2).encode() if n == "meta.json" else weights_garbage(n, b))
    mcase("torch weights garbage (backend torch)", d["model"] / "weights_garbage.fuiqa", ("--backend", "torch"))
    mcase("member declaring 3 GB", _declared_size(mp, d["model"] / "declared_3gb.fuiqa", "model.onnx", 3_000_000_000))
    mcase("model path is a folder", d["model"])

    # ---- labels.csv (eval MODEL DATA)
    def labels(nm, header, rows, size=32, csv_bytes=None):
        r = d["labels"] / nm
        (r / "images").mkdir(parents=True, exist_ok=True)
        for i in range(6):
            cv2.imwrite(str(r / "images" / f"i{i}.png"), np.full((size, size), 30 + 30 * i, np.uint8))
        if csv_bytes is not None:
            (r / "labels.csv").write_bytes(csv_bytes)
        else:
            (r / "labels.csv").write_text(header + "\n" + "\n".join(rows) + "\n")
        cases.append(Case(f"labels.csv: {nm}", "labels", ["eval", model, str(r)], "labels.csv", None, (2,)))

    base = [f"images/i{i}.png,{10 + 10 * i}" for i in range(6)]
    labels("dup_columns", "name,mos,mos", [r + ",5" for r in base])
    labels("dotdot", "name,mos", base + ["../../etc/passwd,50"])
    labels("absolute", "name,mos", base + [f"{(d['img'] / 'good.png').resolve()},50"])
    labels("huge_name", "name,mos", base + ["a" * 131073 + ",50"])
    labels("long_name", "name,mos", base + ["b" * 5000 + ",50"])
    labels("one_pixel", "name,mos", base, size=1)
    labels("nan_mos", "name,mos", base + ["images/i0.png,nan"])
    labels("not_utf8", "", [], csv_bytes=b"name,mos\n\xff\xfe\xfa,50\n")
    labels("binary", "", [], csv_bytes=os.urandom(400))
    labels("empty", "", [], csv_bytes=b"")
    labels("no_mos", "name,score", base)
    labels("nul_name", "name,mos", base + ["ima\0ge.png,5"])

    # ---- folders: a bad image in the middle
    f = d["folder"] / "mixed"
    f.mkdir(exist_ok=True)
    for i in range(5):
        cv2.imwrite(str(f / f"f{i}.png"), _fan(100 + 20 * i, 140, i))
    (f / "f2.png").write_bytes(good[: len(good) // 3])
    score("folder", "folder with a truncated image in the middle", str(f), names="f2.png",
          extra_args=("--batch", "2"))
    k["n"] += 1
    out = d["out"] / f"c{k['n']:03d}.csv"
    cases.append(Case("folder with a bad image, --skip-bad", "folder",
                      ["score", str(f), "--out", str(out), "--model", model, "--no-progress", "--skip-bad"],
                      "f2.png", 4, (0,), str(out)))
    return cases


if __name__ == "__main__":  # pragma: no cover - manual use
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from engine_helpers import package_varied

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "fuzz_corpus")
    m = package_varied(out / "model.fuiqa", trained=True).path
    for c in build(out, m):
        print(f"{c.kind:7s} {c.name}")
