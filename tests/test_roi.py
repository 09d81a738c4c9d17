"""ROI finder: hand-marked boxes on real scanner captures, fallbacks, input types, the stack variant,
and parse_roi."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from engine.roi import RoiResult, find_roi, find_roi_stack, parse_roi
from engine.sources import open_source
from roi_cases import CASES, case_path, coverage, first_frame

IN_MIN = 0.97  # an "inside" box must be (almost) wholly inside the ROI
OUT_MAX = 0.02  # an "outside" box must be (almost) wholly outside it


def _check_case(name: str, r: RoiResult, frame_shape) -> None:
    case = CASES[name]
    H, W = frame_shape[:2]
    assert r.mask.shape == (H, W) and r.mask.dtype == np.bool_
    x, y, w, h = r.box
    for b in case["inside"]:
        assert coverage(r.mask, b) >= IN_MIN, f"{name}: inside box {b} not in the ROI {r.box}"
        assert x <= b[0] and y <= b[1] and b[0] + b[2] <= x + w and b[1] + b[3] <= y + h
    for b in case["outside"]:
        assert coverage(r.mask, b) <= OUT_MAX, f"{name}: outside box {b} (text/bar/logo) is in the ROI {r.box}"


@pytest.mark.parametrize("name", list(CASES))
def test_real_scanner_captures(name):
    frame = first_frame(CASES[name])
    r = find_roi(frame)
    _check_case(name, r, frame.shape)
    if CASES[name]["kind"]:
        assert r.kind == CASES[name]["kind"]
    assert r.kind != "full" and r.confidence >= 0.5
    # box is the mask's bounding rectangle
    ys, xs = np.nonzero(r.mask)
    assert r.box == (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
    assert r.as_dict() == dict(zip("xywh", r.box))


@pytest.mark.parametrize("name,n", [("ybr_color", 30), ("color3d_jpeg_baseline", 16)])
def test_stack_of_cine_frames(name, n):
    with open_source(case_path(CASES[name])) as s:
        frames = [f.image for f, _ in zip(s, range(n))]
    r = find_roi_stack(frames)
    _check_case(name, r, frames[0].shape)
    assert r.kind == "sector"


def test_blank_noise_and_flat_frames_fall_back_to_full():
    rng = np.random.default_rng(0)
    frames = {
        "black": np.zeros((480, 640, 3), np.uint8),
        "noise": rng.integers(0, 256, (480, 640, 3), dtype=np.uint8),
        "gaussian noise": np.clip(rng.normal(40, 8, (480, 640)), 0, 255).astype(np.uint8),
        "flat gray": np.full((480, 640), 128, np.uint8),
        "tiny": np.zeros((2, 3), np.uint8),
    }
    for name, f in frames.items():
        r = find_roi(f)
        H, W = f.shape[:2]
        assert r.kind == "full", name
        assert r.box == (0, 0, W, H) and r.mask.all(), name
        assert r.confidence < 0.3, name
    assert find_roi(frames["black"]).confidence < 0.1


def _synthetic_screen(seed=0, H=600, W=800, static_patch=False):
    """A speckled fan on a black screen with burned-in text, a grey bar and tick marks."""
    rng = np.random.default_rng(seed)
    fan = np.zeros((H, W), np.uint8)
    cv2.ellipse(fan, (400, 60), (480, 480), 0, 50, 130, 1, -1)
    img = np.where(fan > 0, rng.rayleigh(40, (H, W)).clip(0, 255), 0).astype(np.uint8)
    cv2.putText(img, "FUIQA  C5-1  12cm  FR 30", (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 255, 2)
    cv2.putText(img, "MI 1.2 TIS 0.4", (640, 300), cv2.FONT_HERSHEY_SIMPLEX, 0.5, 255, 1)
    cv2.rectangle(img, (770, 100), (785, 400), 200, -1)  # grey-scale bar
    for y in range(120, 500, 25):  # depth ticks
        cv2.line(img, (712, y), (722, y), 255, 1)
    if static_patch:  # a bright, textured but frozen thumbnail beside the fan (e.g. a reference image)
        patch = np.random.default_rng(99).rayleigh(60, (110, 110)).clip(0, 255).astype(np.uint8)
        img[180:290, 20:130] = patch
    return img, fan.astype(bool)


def test_synthetic_screen_text_and_bars_left_out():
    img, fan = _synthetic_screen()
    r = find_roi(img)
    iou = (r.mask & fan).sum() / (r.mask | fan).sum()
    assert iou > 0.95 and r.kind == "sector"
    for b in [(10, 8, 330, 28), (640, 285, 130, 20), (768, 100, 20, 300), (710, 118, 14, 380)]:
        assert coverage(r.mask, b) == 0.0, b


def test_faint_speckle_in_dark_flanks_counts_as_fan():
    """A fan whose outer parts are nearly black (sparse speckle of 1-3 grey levels, as a dim cardiac
    fan or the synthetic generator gives) on a flat black screen: the whole fan is found."""
    img, fan = _synthetic_screen(3)
    rng = np.random.default_rng(5)
    H, W = img.shape
    yy, xx = np.mgrid[:H, :W]
    ang = np.degrees(np.arctan2(yy - 60, xx - 400))  # 50..130 inside the fan
    dark = fan & ((ang < 72) | (ang > 108) | (yy > 420))
    sparse = (rng.random((H, W)) < 0.15) * rng.integers(1, 4, (H, W))
    img[dark] = sparse[dark].astype(np.uint8)
    r = find_roi(img)
    iou = (r.mask & fan).sum() / (r.mask | fan).sum()
    assert iou > 0.9 and r.kind == "sector"
    bright_only = fan & ~dark
    assert (r.mask & fan).sum() > 1.5 * bright_only.sum()


def test_stack_leaves_out_static_content_beside_the_fan():
    frames = [_synthetic_screen(seed, static_patch=True)[0] for seed in range(5)]
    fan = _synthetic_screen(0)[1]
    r = find_roi_stack(frames)
    assert coverage(r.mask, (20, 180, 110, 110)) == 0.0  # never changes: not ultrasound
    iou = (r.mask & fan).sum() / (r.mask | fan).sum()
    assert iou > 0.95
    # identical frames (a frozen image): no motion to go by, falls back to the one-frame method
    r1 = find_roi_stack([frames[0]] * 3)
    assert r1.box == find_roi(frames[0]).box
    with pytest.raises(ValueError, match="no frames"):
        find_roi_stack([])
    with pytest.raises(ValueError, match="differ in size"):
        find_roi_stack([frames[0], frames[0][:100]])


def test_input_types_agree_and_scale():
    img = first_frame(CASES["JPGLosslessP14SV1"])  # gray uint8
    ref = find_roi(img)
    variants = {
        "bgr": cv2.cvtColor(img, cv2.COLOR_GRAY2BGR),
        "bgra": cv2.cvtColor(img, cv2.COLOR_GRAY2BGRA),
        "uint16": img.astype(np.uint16) * 257,
        "float": img.astype(np.float32) / 255.0,
        "hxwx1": img[:, :, None],
    }
    for name, v in variants.items():
        assert find_roi(v).box == ref.box, name
    # a 1080p capture of the same screen (letterboxed as a capture card would): same region, scaled
    big = np.zeros((1080, 1920), np.uint8)
    big[:, 240:1680] = cv2.resize(img, (1440, 1080), interpolation=cv2.INTER_LINEAR)
    rb = find_roi(big)
    sx = 1440 / img.shape[1]
    x, y, w, h = ref.box
    expect = (240 + x * sx, y * sx, w * sx, h * sx)
    assert np.allclose(rb.box, expect, atol=0.03 * 1440), (rb.box, expect)
    with pytest.raises(ValueError, match="expected a gray"):
        find_roi(np.zeros((10, 10, 2), np.uint8))


def test_parse_roi():
    assert parse_roi("120,60,680,460") == (120, 60, 680, 460)
    assert parse_roi(" 0, 0 ,10 , 20 ") == (0, 0, 10, 20)
    assert parse_roi("5,6,7.0,8") == (5, 6, 7, 8)
    for bad, msg in [("1,2,3", "four integers"), ("a,2,3,4", "x='a' is not a number"),
                     ("1,2,0,4", "width and height must be > 0"), ("-1,2,3,4", "x and y"),
                     ("1,2,3.5,4", "not a whole number"), ("", "four integers"), ("1,2,,4", "four integers")]:
        with pytest.raises(ValueError, match=msg):
            parse_roi(bad)
    with pytest.raises(ValueError, match="must be text"):
        parse_roi(None)


def test_working_copy_of_a_big_frame_is_the_exact_4x4_block_mean():
    """roi_signal shrinks a big colour frame by halving (twice for a 4x shrink); each halving must be
    the exact 2x2 mean OpenCV's INTER_AREA gives ((a+b+c+d+2)>>2), whatever resize call produces it."""
    from engine.roi_signal import WORK_SIZE, roi_signal

    rng = np.random.default_rng(5)
    W, H = 4 * WORK_SIZE, 4 * WORK_SIZE * 9 // 16
    f = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    f[::7] = 255

    def half(a):
        a = a.astype(np.int32)
        return ((a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2] + 2) >> 2).astype(np.uint8)

    area, near, s = roi_signal(f)
    ref = half(half(f)).max(2)
    assert area.shape == ref.shape and s == pytest.approx(0.25)
    np.testing.assert_array_equal(area, ref)
