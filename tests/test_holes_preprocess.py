"""The model input and the heatmap's way back, checked against the written spec (engine/preprocess.py
docstring, docs/INTERFACES.md) on inputs where a wrong implementation gives a different number.

Each test here was seen to fail on a deliberate breakage (listed in docs/testing.md): BGR read as
RGB, ``color="rgb"`` ignored, letterbox padding kept by heatmap_to_frame, ROI ignored, the
letterbox not centred, per-frame normalisation.
"""
import numpy as np
import pytest

from engine.preprocess import MEAN, STD, heatmap_to_frame, preprocess

#: ITU-R BT.601 luma weights, the gray conversion OpenCV documents for COLOR_BGR2GRAY / RGB2GRAY
W_R, W_G, W_B = 0.299, 0.587, 0.114
#: one gray level in model-input units
LEVEL = 1.0 / (255.0 * STD)


def model_value(gray):
    return (np.asarray(gray, np.float64) / 255.0 - MEAN) / STD


@pytest.mark.parametrize("channel,weight", [(0, W_B), (1, W_G), (2, W_R)])
def test_bgr_frame_is_read_as_bgr(channel, weight):
    """A frame lit in one channel only: the gray level is that channel's BT.601 weight (blue 29,
    green 150, red 76): reading BGR as RGB swaps 29 and 76."""
    f = np.zeros((64, 80, 3), np.uint8)
    f[:, :, channel] = 255
    x = preprocess(f, None, 32)
    centre = x[0, 16, 16]
    assert centre == pytest.approx(model_value(weight * 255), abs=1.01 * LEVEL)


@pytest.mark.parametrize("channel,weight", [(0, W_R), (1, W_G), (2, W_B)])
def test_rgb_frame_with_color_rgb(channel, weight):
    f = np.zeros((64, 80, 3), np.uint8)
    f[:, :, channel] = 255
    x = preprocess(f, None, 32, color="rgb")
    assert x[0, 16, 16] == pytest.approx(model_value(weight * 255), abs=1.01 * LEVEL)


def test_bgra_and_rgba_orders():
    f = np.zeros((40, 40, 4), np.uint8)
    f[:, :, 0] = 255  # blue in BGRA, red in RGBA
    f[:, :, 3] = 255
    assert preprocess(f, None, 16)[0, 8, 8] == pytest.approx(model_value(W_B * 255), abs=1.01 * LEVEL)
    assert preprocess(f, None, 16, color="rgb")[0, 8, 8] == pytest.approx(
        model_value(W_R * 255), abs=1.01 * LEVEL)


def test_random_colour_image_matches_bt601_luma():
    """Every pixel (no resize: the ROI is already size×size), against luma computed here."""
    rng = np.random.default_rng(3)
    f = rng.integers(0, 256, (48, 48, 3), np.uint8)
    b, g, r = (f[:, :, k].astype(np.float64) for k in range(3))
    y = W_R * r + W_G * g + W_B * b
    x = preprocess(f, None, 48)
    np.testing.assert_allclose(x[0], model_value(y), atol=1.01 * LEVEL)
    xr = preprocess(f[:, :, ::-1].copy(), None, 48, color="rgb")
    np.testing.assert_allclose(xr[0], x[0], atol=1e-6)


def test_normalisation_is_fixed_not_per_frame():
    """Gain is a quality factor: a dark frame must stay dark (no per-frame standardisation)."""
    dark = np.full((50, 50), 20, np.uint8)
    bright = np.full((50, 50), 200, np.uint8)
    assert preprocess(dark, None, 25)[0, 12, 12] == pytest.approx(model_value(20), abs=1e-5)
    assert preprocess(bright, None, 25)[0, 12, 12] == pytest.approx(model_value(200), abs=1e-5)


def test_roi_selects_the_pixels_and_is_letterboxed_centred():
    """ROI 60×30 at (10, 5): its left half is 50, right half 200, everything else 255. The model
    input is its 2:1 letterbox in 64×64: rows 16..47, columns 0..31 = 50, 32..63 = 200, padding
    elsewhere."""
    f = np.full((100, 120), 255, np.uint8)
    f[5:35, 10:40] = 50
    f[5:35, 40:70] = 200
    x = preprocess(f, (10, 5, 60, 30), 64)[0]
    pad = -MEAN / STD
    np.testing.assert_allclose(x[:16], pad, atol=1e-6)
    np.testing.assert_allclose(x[48:], pad, atol=1e-6)
    np.testing.assert_allclose(x[16:48, :31], model_value(50), atol=1e-5)
    np.testing.assert_allclose(x[16:48, 33:], model_value(200), atol=1e-5)


def test_roi_clipped_to_the_frame():
    f = np.zeros((40, 40), np.uint8)
    f[20:, 20:] = 100
    a = preprocess(f, (20, 20, 100, 100), 20)  # runs off the frame: clipped to 20×20
    np.testing.assert_allclose(a[0], model_value(100), atol=1e-5)


# ------------------------------------------------------------------ heatmap back onto the frame


def test_heatmap_to_frame_drops_the_letterbox_padding():
    """ROI 300×150 letterboxed into 128: the ROI fills input rows 32..95, i.e. heatmap rows 4..11 of
    16. A heatmap whose value is its row number must come back with row ≈4 at the ROI's top edge
    and ≈11 at its bottom (padding kept would give ≈0 and ≈15)."""
    hm = np.repeat(np.arange(16, dtype=np.float32)[:, None], 16, axis=1)
    patch, roi = heatmap_to_frame(hm, (10, 20, 300, 150), (480, 640), 128)
    assert roi == (10, 20, 300, 150) and patch.shape == (150, 300)
    col = patch.mean(axis=1)
    # input row r maps to heatmap coordinate (r + 0.5) / 8 - 0.5 (bilinear, half-pixel centres)
    top, bottom = (32 + 0.5) / 8 - 0.5, (95 + 0.5) / 8 - 0.5
    assert col[0] == pytest.approx(top, abs=0.15)
    assert col[-1] == pytest.approx(bottom, abs=0.15)
    assert np.all(np.diff(col) >= -1e-4)  # rows keep their order (not flipped)
    # columns: the ROI spans the whole input width, so left edge ≈ 0 and right edge ≈ 15 in x
    hx = hm.T.copy()
    px, _ = heatmap_to_frame(hx, (10, 20, 300, 150), (480, 640), 128)
    assert px[:, 0].mean() == pytest.approx(0.0, abs=0.15) and px[:, -1].mean() == pytest.approx(15.0, abs=0.15)


def test_heatmap_to_frame_tall_roi_and_clipping():
    """A tall ROI (padding left and right) running off the frame: the patch covers the clipped ROI."""
    hm = np.repeat(np.arange(16, dtype=np.float32)[None, :], 16, axis=0)  # value = column
    patch, roi = heatmap_to_frame(hm, (600, 0, 100, 400), (480, 640), 128)
    assert roi == (600, 0, 40, 400) and patch.shape == (400, 40)
    # clipped ROI 40×400 -> 13×128 centred: input columns 57..69 -> heatmap x ≈ 6.6 .. 8.2
    row = patch.mean(axis=0)
    assert row[0] == pytest.approx((57 + 0.5) / 8 - 0.5, abs=0.3)
    assert row[-1] == pytest.approx((69 + 0.5) / 8 - 0.5, abs=0.3)


@pytest.mark.parametrize("roi,want", [
    (None, (0, 0, 400, 300)),
    ((0, 0, 400, 300), (0, 0, 400, 300)),
    ((-10, -5, 50, 40), (0, 0, 40, 35)),  # the part inside the frame
    ((500, 10, 50, 50), (399, 10, 1, 50)),  # right of the frame: the last column
    ((10, 290, 50, 50), (10, 290, 50, 10)),  # runs off the bottom
    ((10, 400, 50, 50), (10, 299, 50, 1)),  # below the frame: the last row
    ((5, 5, 0, 0), (5, 5, 1, 1)),  # never empty
    ((350, 250, 100, 100), (350, 250, 50, 50)),
])
def test_clip_roi_follows_the_rule(roi, want):
    """"clipped to the frame": the part of the box inside it, at least one pixel, never empty."""
    from engine.preprocess import clip_roi

    assert clip_roi(roi, (300, 400)) == want
    assert clip_roi(roi, (300, 400, 3)) == want


def test_whole_frame_roi_equals_no_roi():
    f = np.random.default_rng(5).integers(0, 256, (90, 130, 3), np.uint8)
    np.testing.assert_array_equal(preprocess(f, (0, 0, 130, 90), 64), preprocess(f, None, 64))
    # one column or row less is a different input
    assert not np.array_equal(preprocess(f, (1, 0, 129, 90), 64), preprocess(f, None, 64))


def test_extreme_aspect_roi_keeps_its_aspect():
    """A 1-px-wide, 300-px-tall ROI letterboxed into 128: one column of image (aspect kept, at
    least one pixel), centred, the rest padding."""
    f = np.full((300, 400), 200, np.uint8)
    x = preprocess(f, (10, 0, 1, 300), 128)[0]
    image = ~np.isclose(x, -MEAN / STD)
    assert image.any(axis=0).sum() == 1 and image[:, (128 - 1) // 2].all()
    y = preprocess(f, (0, 10, 400, 1), 128)[0]  # and lying down: one row
    image = ~np.isclose(y, -MEAN / STD)
    assert image.any(axis=1).sum() == 1 and image[(128 - 1) // 2, :].all()


@pytest.mark.parametrize("value,level", [(0.0, 0), (1.0, 255), (0.5, 128), (1.5, 255), (-0.2, 0)])
def test_float_frames_map_0_1_onto_0_255_and_clip(value, level):
    f = np.full((40, 40), value, np.float32)
    assert preprocess(f, None, 20)[0, 10, 10] == pytest.approx(model_value(level), abs=1e-5)


@pytest.mark.parametrize("shape", [(40, 40, 2), (40, 40, 5)])
def test_unsupported_channel_counts_are_refused(shape):
    with pytest.raises(ValueError, match="unsupported frame shape"):
        preprocess(np.zeros(shape, np.uint8), None, 20)


@pytest.mark.parametrize("shape,size", [((1024, 1024), 128), ((256, 1024), 128), ((960, 1280), 160)])
def test_shrinking_averages_like_a_box_filter(shape, size):
    """"INTER_AREA averages speckle properly when shrinking": for an integer shrink factor k the model
    input is the k×k block mean of the ROI (to within the uint8 rounding of the halving steps)."""
    H, W = shape
    f = np.random.default_rng(4).integers(0, 256, shape, np.uint8)
    k = max(H, W) // size
    blocks = f.reshape(H // k, k, W // k, k).astype(np.float64).mean(axis=(1, 3))
    x = preprocess(f, None, size)[0]
    oy, ox = (size - H // k) // 2, (size - W // k) // 2
    got = x[oy : oy + H // k, ox : ox + W // k]
    np.testing.assert_allclose(got, model_value(blocks), atol=2.0 * LEVEL)


def test_two_pixel_frames_are_images_one_pixel_ones_are_not():
    assert preprocess(np.full((2, 2), 100, np.uint8), None, 8)[0, 4, 4] == pytest.approx(model_value(100), abs=1e-5)
    assert preprocess(np.full((2, 2, 3), 100, np.uint8), None, 8).shape == (1, 8, 8)
    for bad in (np.zeros((1, 5), np.uint8), np.zeros((5, 1), np.uint8), np.zeros((4, 4, 3, 1), np.uint8)):
        with pytest.raises(ValueError, match="not an image frame"):
            preprocess(bad, None, 8)
