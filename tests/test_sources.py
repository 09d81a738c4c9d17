"""Frame sources: devices (through a fake cv2.VideoCapture), videos, DICOM, images, folders, pacing."""
from __future__ import annotations

import cv2
import numpy as np
import pydicom
import pytest
from pydicom import examples
from pydicom.data import get_testdata_file

from engine import sources
from engine.sources import (DeviceSource, DicomSource, FolderSource, ImageSource, LivePacer, SignalLost,
                            SourceError, VideoSource, list_devices, open_source)


# ------------------------------------------------------------------------------------------ devices
class FakeCap:
    """Stands in for cv2.VideoCapture: one camera at index 0 that gives at most 1280x720 @ 30 fps."""

    plugged = True
    deliver = True
    fail_next = 0  # number of reads that fail before delivering again
    calls: list = []

    def __init__(self, index, api=cv2.CAP_ANY):
        FakeCap.calls.append((index, api))
        self._open = FakeCap.plugged and index == 0
        self.props = {cv2.CAP_PROP_FRAME_WIDTH: 640.0, cv2.CAP_PROP_FRAME_HEIGHT: 480.0, cv2.CAP_PROP_FPS: 25.0}
        self.n = 0

    def isOpened(self):
        return self._open

    def set(self, prop, value):
        limit = {cv2.CAP_PROP_FRAME_WIDTH: 1280, cv2.CAP_PROP_FRAME_HEIGHT: 720, cv2.CAP_PROP_FPS: 30}
        if prop in limit:
            self.props[prop] = float(min(value, limit[prop]))
        return True

    def get(self, prop):
        return self.props.get(prop, 0.0)

    def read(self):
        if not (self._open and FakeCap.plugged and FakeCap.deliver):
            return False, None
        if FakeCap.fail_next > 0:
            FakeCap.fail_next -= 1
            return False, None
        w, h = int(self.props[cv2.CAP_PROP_FRAME_WIDTH]), int(self.props[cv2.CAP_PROP_FRAME_HEIGHT])
        self.n += 1
        return True, np.full((h, w, 3), self.n % 256, np.uint8)

    def release(self):
        self._open = False


@pytest.fixture
def fakecam(monkeypatch):
    FakeCap.plugged, FakeCap.deliver, FakeCap.fail_next, FakeCap.calls = True, True, 0, []
    monkeypatch.setattr(sources.cv2, "VideoCapture", FakeCap)
    return FakeCap


def test_device_opens_with_backend_and_reports_actual_format(fakecam):
    with open_source("device:0", backend="v4l2", width=1920, height=1080, fps=60) as s:
        assert fakecam.calls[-1] == (0, cv2.CAP_V4L2)
        assert (s.width, s.height, s.fps) == (1280, 720, 30.0)  # what the device gives, not what was asked
        assert s.live and s.frame_count is None
        f1, f2 = s.read(), s.read()
        assert (f1.index, f2.index) == (0, 1) and f1.image.shape == (720, 1280, 3)
        assert f2.time_s >= f1.time_s >= 0.0
        with pytest.raises(NotImplementedError):
            s.seek(0)
    for name, api in [("dshow", cv2.CAP_DSHOW), ("msmf", cv2.CAP_MSMF), ("any", cv2.CAP_ANY)]:
        DeviceSource(0, backend=name).close()
        assert fakecam.calls[-1] == (0, api)


def test_device_that_cannot_open_names_index_and_backend(fakecam):
    with pytest.raises(SourceError, match=r"device 3 \(backend dshow\)"):
        open_source("device:3", backend="dshow")
    with pytest.raises(SourceError, match="unknown capture backend"):
        open_source("device:0", backend="gstreamerx")
    with pytest.raises(SourceError, match="bad device spec"):
        open_source("device:one")


def test_signal_lost_after_repeated_failures_and_recovery(fakecam):
    s = DeviceSource(0, max_failures=5, lost_after_s=60, retry_sleep_s=0)
    assert [s.read().index for _ in range(3)] == [0, 1, 2]
    fakecam.fail_next = 3  # a short glitch (fewer than max_failures) is ridden out
    assert s.read().index == 3
    fakecam.deliver = False
    with pytest.raises(SignalLost, match="signal lost"):
        s.read()
    assert isinstance(SignalLost("x"), SourceError)
    # the cable is pulled: reopening fails with SignalLost (still recoverable) ...
    fakecam.plugged = False
    with pytest.raises(SignalLost):
        s.reopen()
    with pytest.raises(SignalLost):
        s.read()
    # ... and works once it is back; numbering continues
    fakecam.plugged, fakecam.deliver = True, True
    s.reopen()
    assert s.read().index == 4
    s.close()


def test_signal_lost_after_time_without_frames(fakecam):
    t = [0.0]

    def clock():
        t[0] += 0.3
        return t[0]

    s = DeviceSource(0, max_failures=1000, lost_after_s=1.0, retry_sleep_s=0, clock=clock)
    s.read()
    fakecam.deliver = False
    with pytest.raises(SignalLost, match=r"no frame for 1\.\d\d s"):
        s.read()
    fakecam.deliver = True  # the signal comes back by itself: reading simply continues
    assert s.read().index == 1


def test_list_devices_uses_sysfs_names(fakecam, monkeypatch):
    monkeypatch.setattr(sources.sys, "platform", "linux")
    monkeypatch.setattr(sources.devices, "_v4l2_names", lambda: {0: "Epiphan DVI2USB 3.0", 1: "Epiphan DVI2USB 3.0"})
    devs = list_devices()
    assert len(devs) == 1  # node 1 (metadata node) does not open
    d = devs[0]
    assert (d.index, d.name, d.backend, d.width, d.height) == (0, "Epiphan DVI2USB 3.0", "v4l2", 640, 480)
    assert [x.index for x in list_devices(probe=False)] == [0, 1]


# ------------------------------------------------------------------------------------------- videos
def _write_video(path, n=20, fps=10.0, fourcc="mp4v", size=(64, 48)):
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
    assert w.isOpened()
    for i in range(n):
        w.write(np.full((size[1], size[0], 3), i * 10, np.uint8))
    w.release()
    return path


def _truncate(src, dst, frac):
    data = open(src, "rb").read()
    with open(dst, "wb") as fh:
        fh.write(data[: int(len(data) * frac)])
    return dst


def test_video_counts_times_and_seek(tmp_path):
    p = _write_video(tmp_path / "clip.mp4")
    with open_source(p) as s:
        assert isinstance(s, VideoSource)
        assert s.fps == pytest.approx(10.0) and s.frame_count == 20 and not s.live and not s.synthetic
        frames = list(s)
        assert [f.index for f in frames] == list(range(20))
        assert frames[5].time_s == pytest.approx(0.5)
        assert frames[7].image.dtype == np.uint8 and frames[7].image.shape == (48, 64, 3)
        assert abs(float(frames[7].image.mean()) - 70) < 4
        assert s.read() is None
        s.seek(12)
        f = s.read()
        assert f.index == 12 and abs(float(f.image.mean()) - 120) < 4
        s.seek(0)
        assert s.read().index == 0
        with pytest.raises(IndexError):
            s.seek(20)


@pytest.mark.parametrize("kind", ["empty", "half", "random"])
@pytest.mark.parametrize("suffix,fourcc", [(".mp4", "mp4v"), (".avi", "MJPG")])
def test_bad_videos_give_clear_errors(tmp_path, kind, suffix, fourcc):
    good = _write_video(tmp_path / f"good{suffix}", fourcc=fourcc)
    bad = tmp_path / f"bad{suffix}"
    if kind == "empty":
        bad.write_bytes(b"")
        msg = "empty file"
    elif kind == "half":
        _truncate(good, bad, 0.5)
        msg = "corrupt|truncated"
    else:
        bad.write_bytes(np.random.default_rng(1).bytes(4000))
        msg = "corrupt|truncated|unsupported"
    with pytest.raises(SourceError, match=msg) as e:
        with open_source(bad) as s:
            list(s)
    assert str(bad) in str(e.value)


# -------------------------------------------------------------------------------------------- DICOM
def _path(name):
    if name in ("palette_color", "rgb_color", "ybr_color", "jpeg2k"):
        return str(examples.get_path(name))
    return get_testdata_file(name)


@pytest.mark.parametrize("name,shape,count,fps", [
    ("palette_color", (350, 800, 3), 1, None),
    ("rgb_color", (240, 320, 3), 1, None),
    ("ybr_color", (240, 320, 3), 30, 30.0),
    ("jpeg2k", (480, 640, 3), 1, None),
    ("OBXXXX1A.dcm", (600, 800, 3), 1, None),
    ("US1_UNCR.dcm", (480, 640, 3), 1, None),
    ("US1_J2KR.dcm", (480, 640, 3), 1, None),
    ("gdcm-US-ALOKA-16.dcm", (480, 640, 3), 1, None),
    ("color3d_jpeg_baseline.dcm", (480, 640, 3), 120, 30.0),
    ("JPGLosslessP14SV1_1s_1f_8b.dcm", (768, 1024), 1, None),
])
def test_dicom_examples_decode(name, shape, count, fps):
    with open_source(_path(name)) as s:
        assert isinstance(s, DicomSource)
        assert s.frame_count == count
        assert (s.fps is None) if fps is None else s.fps == pytest.approx(fps, rel=1e-3)
        f = s.read()
        assert f.image.dtype == np.uint8 and f.image.shape == shape
        assert f.image.max() > 150  # not black / not mis-scaled
        if len(shape) == 3:  # ultrasound screens are mostly gray: colour conversion got it right
            im = f.image.astype(int)
            gray = (np.abs(im[..., 0] - im[..., 1]) + np.abs(im[..., 1] - im[..., 2])) < 12
            assert gray.mean() > 0.8


def test_dicom_colour_and_lossless_decoders_agree():
    def first(name):
        with open_source(_path(name)) as s:
            return s.read().image

    unc = first("US1_UNCR.dcm")
    assert np.array_equal(first("US1_J2KR.dcm"), unc)  # lossless JPEG 2000 (YBR_RCT) == uncompressed RGB
    assert np.array_equal(first("jpeg2k"), unc)
    assert np.array_equal(first("palette_color"), first("OBXXXX1A.dcm")[:350])
    # power Doppler is orange/yellow: in BGR order red > blue
    im = unc.astype(int)
    colour = (im[..., 2] - im[..., 0]) > 80
    assert colour.sum() > 2000


def test_dicom_multiframe_lazy_and_seek():
    with open_source(_path("color3d_jpeg_baseline.dcm")) as s:
        assert s._ds._pixel_array is None  # nothing decoded wholesale
        s.seek(119)
        f = s.read()
        assert f.index == 119 and f.time_s == pytest.approx(119 / 30.0, rel=1e-3)
        assert s.read() is None
        s.seek(40)
        assert np.array_equal(s.read().image, s.frame(40))
    with open_source(_path("ybr_color")) as s:
        frames = list(s)
        assert len(frames) == 30 and frames[-1].index == 29
        assert not np.array_equal(frames[0].image, frames[15].image)  # a real cine, not one frame repeated


def _save_dicom(path, arr, photometric, bits_stored, **extra):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.6.1"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality = "US"
    ds.Rows, ds.Columns = arr.shape[-2:]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = arr.dtype.itemsize * 8
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 0
    if arr.ndim == 3:
        ds.NumberOfFrames = arr.shape[0]
    for k, v in extra.items():
        setattr(ds, k, v)
    ds.PixelData = arr.tobytes()
    ds.save_as(str(path), enforce_file_format=True)
    return path


def test_dicom_monochrome1_and_12_bit(tmp_path):
    ramp = np.tile(np.linspace(0, 4095, 64).astype(np.uint16), (3, 16, 1))  # 3 frames, 12 bits in 16
    p = _save_dicom(tmp_path / "m1", ramp, "MONOCHROME1", 12, CineRate=12)
    with open_source(p) as s:  # no suffix: still found to be DICOM
        assert isinstance(s, DicomSource) and s.frame_count == 3 and s.fps == 12.0
        im = s.read().image
    assert im.dtype == np.uint8 and im.ndim == 2
    assert im[0, 0] == 255 and im[0, -1] == 0  # inverted, full range
    p2 = _save_dicom(tmp_path / "m2.dcm", ramp[0], "MONOCHROME2", 12)
    with open_source(p2) as s:
        im = s.read().image
    assert im[0, 0] == 0 and im[0, -1] == 255 and s.fps is None


def test_bad_dicoms_give_clear_errors(tmp_path):
    cases = {}
    (tmp_path / "empty.dcm").write_bytes(b"")
    cases["empty.dcm"] = "empty file"
    (tmp_path / "random.dcm").write_bytes(np.random.default_rng(0).bytes(5000))
    cases["random.dcm"] = "not a DICOM|not a readable DICOM"
    _truncate(get_testdata_file("US1_UNCR.dcm"), tmp_path / "unc_half.dcm", 0.5)
    cases["unc_half.dcm"] = "truncated"
    _truncate(get_testdata_file("color3d_jpeg_baseline.dcm"), tmp_path / "jpeg_half.dcm", 0.5)
    cases["jpeg_half.dcm"] = "truncated"
    _truncate(get_testdata_file("US1_J2KR.dcm"), tmp_path / "j2k_part.dcm", 0.7)
    cases["j2k_part.dcm"] = "truncated"
    ds = pydicom.dcmread(get_testdata_file("US1_UNCR.dcm"))
    del ds.PixelData
    ds.save_as(str(tmp_path / "nopixels.dcm"))
    cases["nopixels.dcm"] = "no pixel data"
    for name, msg in cases.items():
        with pytest.raises(SourceError, match=msg) as e:
            open_source(tmp_path / name)
        assert name in str(e.value)


# ---------------------------------------------------------------------------------- images, folders
def test_images_8_and_16_bit_and_alpha(tmp_path):
    g16 = np.zeros((20, 30), np.uint16)
    g16[:, 10:] = 257 * 100
    g16[:, 20:] = 65535
    cv2.imwrite(str(tmp_path / "g16.png"), g16)
    cv2.imwrite(str(tmp_path / "g16.tif"), g16)
    bgra = np.zeros((20, 30, 4), np.uint8)
    bgra[..., 2] = 200
    bgra[..., 3] = 255
    cv2.imwrite(str(tmp_path / "a.png"), bgra)
    for name in ("g16.png", "g16.tif"):
        with open_source(tmp_path / name) as s:
            assert isinstance(s, ImageSource) and s.frame_count == 1
            f = s.read()
            assert s.read() is None
        assert f.image.dtype == np.uint8 and f.image.shape == (20, 30)
        assert (f.image[0, 0], f.image[0, 15], f.image[0, 25]) == (0, 100, 255)
    with open_source(tmp_path / "a.png") as s:
        im = s.read().image
    assert im.shape == (20, 30, 3) and tuple(im[0, 0]) == (0, 0, 200)


def test_bad_images_give_clear_errors(tmp_path):
    rng = np.random.default_rng(0)
    cv2.imwrite(str(tmp_path / "ok.png"), rng.integers(0, 255, (50, 50), dtype=np.uint8))
    cv2.imwrite(str(tmp_path / "ok.jpg"), rng.integers(0, 255, (50, 50, 3), dtype=np.uint8))
    _truncate(tmp_path / "ok.png", tmp_path / "half.png", 0.5)
    _truncate(tmp_path / "ok.jpg", tmp_path / "half.jpg", 0.5)
    (tmp_path / "zero.png").write_bytes(b"")
    (tmp_path / "junk.bmp").write_bytes(rng.bytes(300))
    for name, msg in [("half.png", "truncated"), ("half.jpg", "truncated"), ("zero.png", "empty"),
                      ("junk.bmp", "not a readable BMP")]:
        with pytest.raises(SourceError, match=msg) as e:
            open_source(tmp_path / name)
        assert name in str(e.value)
    with pytest.raises(SourceError, match="no such file"):
        open_source(tmp_path / "missing.png")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(SourceError, match="unsupported file type"):
        open_source(tmp_path / "notes.txt")


def test_folder_natural_order_skips_other_files(tmp_path):
    for i in (1, 2, 10):
        cv2.imwrite(str(tmp_path / f"img{i}.png"), np.full((8, 8), i, np.uint8))
    (tmp_path / "labels.csv").write_text("name,mos\n")
    (tmp_path / "sub").mkdir()
    with open_source(tmp_path, fps=5) as s:
        assert isinstance(s, FolderSource) and s.frame_count == 3
        frames = list(s)
        assert [int(f.image[0, 0]) for f in frames] == [1, 2, 10]
        assert frames[2].time_s == pytest.approx(0.4)
        s.seek(1)
        assert int(s.read().image[0, 0]) == 2
        assert s.file_of(2).name == "img10.png"
    (tmp_path / "img5.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    with pytest.raises(SourceError, match="img5.png"):
        list(open_source(tmp_path))
    with open_source(tmp_path, skip_bad=True) as s:
        assert len(list(s)) == 3 and "img5.png" in s.skipped[0]
    empty = tmp_path / "sub"
    (empty / "readme.txt").write_text("x")
    with pytest.raises(SourceError, match="holds no images"):
        open_source(empty)


# ------------------------------------------------------------------------------------ demo, pacing
def test_demo_missing_and_present(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "demo_path", lambda: tmp_path / "assets" / "demo_sweep.mp4")
    with pytest.raises(SourceError, match="demo asset is missing"):
        open_source("demo")
    (tmp_path / "assets").mkdir()
    _write_video(tmp_path / "assets" / "demo_sweep.mp4")
    with open_source("demo") as s:
        assert s.synthetic and s.frame_count == 20


class FakeClock:
    def __init__(self):
        self.t = 100.0
        self.slept = 0.0

    def __call__(self):
        return self.t

    def sleep(self, dt):
        self.slept += dt
        self.t += dt


def test_live_pacer_paces_loops_and_drops(tmp_path):
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"f{i}.png"), np.full((4, 4), 10 * (i + 1), np.uint8))
    clk = FakeClock()
    s = LivePacer(FolderSource(tmp_path, fps=10), clock=clk, sleep=clk.sleep)
    assert s.live and s.fps == 10
    frames = [s.read() for _ in range(7)]
    assert [f.index for f in frames] == list(range(7))
    assert [int(f.image[0, 0]) for f in frames] == [10, 20, 30, 10, 20, 30, 10]  # loops
    assert clk.slept == pytest.approx(0.6)  # real time: 7 frames at 10 fps
    assert frames[6].time_s == pytest.approx(0.6)
    clk.t += 0.55  # the caller was busy: frames due meanwhile are dropped, as a live feed would
    f = s.read()
    assert f.index == 11 and int(f.image[0, 0]) == 10 * (11 % 3 + 1)  # 1.15 s in: frame 11
    s.close()
    assert s.inner.closed

    p = _write_video(tmp_path / "v.mp4", n=4)
    s = open_source(p, play_as_live=True, loop=False)
    assert isinstance(s, LivePacer)
    s._clock, s._sleep = clk, clk.sleep
    assert len(list(s)) == 4  # loop=False: ends with the file
