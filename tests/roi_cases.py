"""Hand-marked ROI checks on real scanner screen captures (the ultrasound DICOMs that ship with
pydicom and pydicom-data). Boxes are (x, y, w, h) in the image's own pixels, marked by looking at
each frame (see docs/roi_cases.png): ``inside`` boxes lie clearly in the B-mode data and must fall
inside the found ROI; ``outside`` boxes cover burned-in text, logos, bars, tool bars, ECG traces and
must fall outside it.

Not every part of a fan is asserted: where a flank of the fan is black (no echo at all), either
answer is fine, so no box is marked there.
"""
from __future__ import annotations

# name -> dict(source=("examples"|"data", file), inside=[boxes], outside=[boxes], kind=expected kind or None)
CASES: dict[str, dict] = {
    # Philips, obstetric preset, probe not in contact: only a bright arc under the probe (800x350 crop)
    "palette_color": dict(
        source=("examples", "palette_color"),
        inside=[(430, 95, 60, 40), (370, 90, 25, 15)],
        outside=[(5, 5, 70, 20), (665, 5, 120, 20), (330, 35, 180, 17), (3, 65, 75, 20),
                 (125, 85, 180, 18), (778, 88, 14, 100)],
        kind=None,
    ),
    # the same screen, whole (800x600)
    "OBXXXX1A": dict(
        source=("data", "OBXXXX1A.dcm"),
        inside=[(430, 95, 60, 40), (370, 90, 25, 15)],
        outside=[(5, 5, 70, 20), (665, 5, 120, 20), (330, 35, 180, 17), (3, 65, 75, 20),
                 (10, 180, 60, 75), (778, 88, 14, 100), (140, 470, 55, 50)],
        kind=None,
    ),
    # GE LOGIQ, linear probe, power Doppler, dual view (320x240)
    "rgb_color": dict(
        source=("examples", "rgb_color"),
        inside=[(60, 70, 60, 30), (200, 120, 60, 30)],
        outside=[(8, 10, 95, 10), (250, 10, 65, 10), (122, 180, 80, 10), (200, 225, 115, 11),
                 (38, 218, 90, 8), (11, 45, 20, 6), (280, 45, 28, 6)],  # last two: "IM#2", "78DR78" over the image
        kind="linear",
    ),
    # the same screen at 640x480, JPEG 2000 lossless
    "jpeg2k": dict(
        source=("examples", "jpeg2k"),
        inside=[(100, 150, 150, 80), (380, 150, 150, 80), (250, 300, 100, 25)],
        outside=[(18, 25, 150, 15), (280, 40, 80, 15), (500, 25, 120, 65), (245, 360, 115, 18),
                 (400, 455, 220, 18), (78, 440, 175, 15), (12, 90, 45, 14), (560, 90, 63, 14)],
        kind="linear",
    ),
    "US1_UNCR": dict(
        source=("data", "US1_UNCR.dcm"),
        inside=[(100, 150, 150, 80), (380, 150, 150, 80), (250, 300, 100, 25)],
        outside=[(18, 25, 150, 15), (280, 40, 80, 15), (500, 25, 120, 65), (245, 360, 115, 18),
                 (400, 455, 220, 18), (78, 440, 175, 15), (12, 90, 45, 14), (560, 90, 63, 14)],
        kind="linear",
    ),
    # the same screen, JPEG 2000 (reversible) in pydicom-data
    "US1_J2KR": dict(
        source=("data", "US1_J2KR.dcm"),
        inside=[(100, 150, 150, 80), (380, 150, 150, 80), (250, 300, 100, 25)],
        outside=[(18, 25, 150, 15), (280, 40, 80, 15), (500, 25, 120, 65), (245, 360, 115, 18),
                 (400, 455, 220, 18), (78, 440, 175, 15), (12, 90, 45, 14), (560, 90, 63, 14)],
        kind="linear",
    ),
    # SonoSite, cardiac sector, 30-frame cine, JPEG baseline YBR_FULL_422 (320x240)
    "ybr_color": dict(
        source=("examples", "ybr_color"),
        inside=[(145, 90, 50, 40), (90, 165, 50, 20)],
        outside=[(2, 2, 40, 30), (296, 15, 22, 20), (296, 65, 22, 35), (40, 228, 260, 12)],
        kind="sector",
    ),
    # SonoSite, the same kind of screen at 640x480, 120 frames
    "color3d_jpeg_baseline": dict(
        source=("data", "color3d_jpeg_baseline.dcm"),
        inside=[(300, 150, 80, 80), (200, 330, 80, 40), (480, 250, 60, 40), (140, 280, 60, 30)],
        outside=[(5, 5, 70, 55), (600, 25, 35, 40), (605, 125, 30, 60), (80, 455, 480, 25),
                 (570, 395, 25, 20)],
        kind="sector",
    ),
    # ALOKA, dual view (pelvis), 16-bit palette (640x480); the grey bar at top left lies on the image
    "gdcm-US-ALOKA-16": dict(
        source=("data", "gdcm-US-ALOKA-16.dcm"),
        inside=[(100, 300, 150, 80), (400, 300, 150, 80), (150, 180, 60, 30), (420, 60, 120, 40)],
        outside=[(80, 0, 190, 12), (560, 0, 75, 12), (40, 430, 240, 15), (20, 455, 80, 15),
                 (545, 455, 85, 15)],
        kind="linear",
    ),
    # Philips EPIQ, adult echo sector with text, calipers, grey bar and ECG trace (1024x768)
    "JPGLosslessP14SV1": dict(
        source=("data", "JPGLosslessP14SV1_1s_1f_8b.dcm"),
        inside=[(450, 300, 150, 150), (300, 420, 100, 60), (600, 500, 80, 60)],
        outside=[(10, 25, 135, 25), (825, 25, 160, 25), (85, 60, 250, 50), (963, 120, 25, 210),
                 (60, 700, 320, 45), (925, 725, 75, 25), (570, 83, 28, 28), (5, 415, 95, 85),
                 (800, 265, 60, 40)],
        kind="sector",
    ),
}


def case_path(case: dict) -> str:
    kind, name = case["source"]
    if kind == "examples":
        from pydicom import examples

        return str(examples.get_path(name))
    from pydicom.data import get_testdata_file

    return get_testdata_file(name)


def first_frame(case: dict):
    from engine.sources import open_source

    with open_source(case_path(case)) as s:
        return s.read().image


def coverage(mask, box) -> float:
    """Share of ``box`` (x, y, w, h) that ``mask`` covers."""
    x, y, w, h = box
    return float(mask[y:y + h, x:x + w].mean())


# Real fetal head frames (HC18, /work/shared/data/hc18/images: already cropped to the image, a fan
# inside black corners) in which amniotic fluid crosses or borders the image; used when present.
HC18_DIR = "/work/shared/data/hc18/images"
HC18_FLUID = ["000_HC.png", "003_HC.png", "013_HC.png", "028_HC.png", "070_HC.png", "104_HC.png",
              "166_HC.png", "196_HC.png"]


def tissue_extent(img, level: int = 40, share: float = 0.1, skip_left: int = 40):
    """Rows and columns (y0, y1, x0, x1) where more than ``share`` of the (15-px-smoothed) pixels are
    brighter than ``level``: where echoes are, whatever the ROI finder says. The left ``skip_left``
    columns (HC18's grey-scale bar) are not counted."""
    import cv2
    import numpy as np

    b = cv2.blur((img > level).astype(np.float32), (15, 15))[:, skip_left:] > 0.5
    rows = np.flatnonzero(b.mean(1) > share)
    cols = np.flatnonzero(b.mean(0) > share) + skip_left
    return int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])


# The trainer's screen (train.synth: a curved probe's fan, apex above the screen) whose lower flanks
# are faint speckle out to the fan's edge, "head 480x360" in docs/roi_synthetic.png. Marked by
# looking at the frame: ``inside`` boxes in both dark flanks and in the head; ``outside`` boxes on
# the parameter text, grey-scale bar, depth scale, corner label and title.
SYNTH_CURVED_DARK_FLANKS = dict(
    plane="head", seed=1, index=3, size=360,
    inside=[(95, 230, 30, 20), (355, 228, 28, 18), (200, 150, 80, 60)],
    outside=[(4, 58, 38, 70), (458, 43, 11, 166), (415, 60, 18, 230), (395, 338, 50, 14), (170, 6, 65, 12)],
)
