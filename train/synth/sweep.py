"""Sweeps (cine loops, SYNTHETIC): the probe moves through one 3-D fetus past the standard plane, so
quality rises and falls over time; each frame is labelled like a data-set image. Written as mp4
(cv2 'mp4v'), as a multi-frame ultrasound DICOM without patient data, and as a per-frame CSV."""
from __future__ import annotations

import csv
import io
import os
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from . import make_spec, render_spec, rng_for
from .quality import RATERS
from .screen import draw_screen, screen_layout

FPS = 25.0
SWEEP_COLUMNS = ["frame", "time_s", "mos", "std", "q_true", "plane", "offset_mm", "tilt_deg",
                 "f_structures", "missing"]


def sweep_frames(plane: str, seed: int, index: int, frames: int = 75, size: int = 256, *,
                 screen: tuple[int, int] | None = None, passes: int | None = None, frame0: int = 0,
                 stream: int = 1, clean: bool = False, decorrelation_mm: float = 2.0, grid_scale: float = 1.0,
                 realism: float = 0.0):
    """Yield (image, row) for each frame. ``screen=(W, H)`` draws a scanner screen of that size.

    The probe's elevational offset follows ``L*u*|u|`` with ``u = cos(pi*passes*t)`` (through the plane once or twice),
    with a slow tilt wobble and lateral drift; speckle decorrelates with the elevational step."""
    rng = rng_for(seed, index, stream)
    if screen is not None:
        W, H = screen
        box = screen_layout(W, H)
        grid_size = int(box[3] * grid_scale)
    else:
        W = H = size
        box = (2, 2, size - 4, size - 4)
        grid_size = size
    # a mostly well-set acquisition; sometimes one mild setting fault for variety
    sev = {f: 0.0 for f in ("zoom", "gain", "dynamic_range", "defocus", "noise")}
    if rng.random() < 0.5 and not clean:
        sev[str(rng.choice(list(sev)))] = float(rng.uniform(0.2, 0.5))
    base = make_spec(plane, sev, rng, size=grid_size, realism=realism)
    scene = base.scene
    passes = int(rng.choice([1, 2])) if passes is None else passes
    L = 1.3 * scene.offset_scale
    ph = rng.uniform(0, 2 * np.pi, size=3)
    tx0, ty0 = base.pose.tilt_x, base.pose.tilt_y
    speckle = None
    prev_off = None
    ref = base.geom
    for k in range(frames):
        t = k / max(1, frames - 1)
        u = float(np.cos(np.pi * passes * t))
        off = L * u * abs(u)  # slower near the plane: the sonographer lingers there
        wob = 1.5 + 5.0 * abs(u)  # the hand steadies near the plane
        pose = replace(base.pose, offset=off,
                       tilt_x=float(tx0 + wob * np.sin(2 * np.pi * 0.8 * t + ph[0])),
                       tilt_y=float(ty0 + 0.6 * wob * np.sin(2 * np.pi * 1.1 * t + ph[1])),
                       a_c=float(base.pose.a_c + 3.0 * np.sin(2 * np.pi * 0.6 * t + ph[2])))
        step = abs(off - prev_off) if prev_off is not None else 1e9
        lateral_speed = abs(3.0 * 2 * np.pi * 0.6 * np.cos(2 * np.pi * 0.6 * t + ph[2])) / (frames / FPS)
        acq = replace(base.acq, motion_mm=float(base.acq.motion_mm + lateral_speed / FPS * 2))
        new = rng.standard_normal((ref.nr, ref.na, 2), dtype=np.float32)
        rho = float(np.exp(-step / decorrelation_mm))
        speckle = new if speckle is None else (rho * speckle + np.sqrt(1 - rho * rho) * new).astype(np.float32)
        spec = replace(base, pose=pose, acq=acq)
        # each rater's noise drifts slowly over the loop (similar frames, similar judgement)
        zk = rng.standard_normal(len(RATERS))
        rz = zk if k == 0 else 0.85 * rz + np.sqrt(1 - 0.85 ** 2) * zk
        s = render_spec(spec, rng, speckle=speckle, canvas=(W, H, box), rater_z=rz)
        if screen is not None and s.image.ndim == 3:  # tinted: overlays on the gray, the fan in colour
            img = draw_screen(cv2.cvtColor(s.image, cv2.COLOR_BGR2GRAY), s.mask, depth_mm=spec.geom.depth,
                              mm_per_px=s.info["mm_per_px"], box=box, plane=plane, frame_no=frame0 + k,
                              gain_db=spec.acq.gain_db, dr_db=spec.acq.dr_db)
            img[s.mask] = s.image[s.mask]
        elif screen is not None:
            img = draw_screen(s.image, s.mask, depth_mm=spec.geom.depth, mm_per_px=s.info["mm_per_px"], box=box,
                              plane=plane, frame_no=frame0 + k, gain_db=spec.acq.gain_db, dr_db=spec.acq.dr_db)
        else:
            img = s.image
        prev_off = off
        row = {"frame": frame0 + k, "time_s": f"{(frame0 + k) / FPS:.3f}", "mos": f"{s.mos:.2f}",
               "std": f"{s.std:.2f}", "q_true": f"{s.q:.2f}", "plane": plane, "offset_mm": f"{off:.2f}",
               "tilt_deg": f"{pose.tilt_deg():.2f}", "f_structures": s.flags["f_structures"],
               "missing": ";".join(s.missing)}
        yield img, row


def write_mp4(path: Path, frames: list[np.ndarray], fps: float = FPS, *, codec: str = "mp4v", crf: int = 30) -> str:
    """Write frames (gray or BGR uint8) as mp4, atomically; returns the codec used.

    ``codec="mp4v"``: OpenCV's MPEG-4 part 2 (always available). ``codec="h264"``: H.264 through PyAV
    (optional package ``av``; far smaller files, single-threaded so the bytes are reproducible); falls
    back to mp4v when PyAV is missing."""
    path = Path(path)
    tmp = path.with_name(path.stem + ".tmp" + path.suffix)
    h, w = frames[0].shape[:2]
    if codec == "h264":
        try:
            import av
        except ImportError:
            codec = "mp4v"
    if codec == "h264":
        with av.open(str(tmp), "w", format="mp4") as box:
            st = box.add_stream("libx264", rate=int(round(fps)),
                                options={"crf": str(crf), "preset": "slow", "threads": "1", "tune": "grain"})
            st.width, st.height, st.pix_fmt = w, h, "yuv420p"
            for f in frames:
                bgr = f if f.ndim == 3 else cv2.cvtColor(f, cv2.COLOR_GRAY2BGR)
                for pkt in st.encode(av.VideoFrame.from_ndarray(bgr, format="bgr24")):
                    box.mux(pkt)
            for pkt in st.encode():
                box.mux(pkt)
    else:
        vw = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h), True)
        if not vw.isOpened():
            raise RuntimeError(f"cannot open an mp4v video writer for {path}")
        for f in frames:
            vw.write(f if f.ndim == 3 else cv2.cvtColor(f, cv2.COLOR_GRAY2BGR))
        vw.release()
    os.replace(tmp, path)
    return codec


def write_dicom(path: Path, frames: list[np.ndarray], fps: float = FPS, *, uid_seed: str = "fuiqa") -> None:
    """Multi-frame ultrasound DICOM (MONOCHROME2 8 bit, or RGB if frames are colour), no patient data;
    UIDs derive from ``uid_seed`` so the same sweep gives the same bytes."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    path = Path(path)
    sop_class = "1.2.840.10008.5.1.4.1.1.3.1"  # Ultrasound Multi-frame Image Storage
    sop_uid = generate_uid(entropy_srcs=[uid_seed, "sop"])
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = generate_uid(entropy_srcs=["fuiqa-synth-impl"])
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    ds.StudyInstanceUID = generate_uid(entropy_srcs=[uid_seed, "study"])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=[uid_seed, "series"])
    ds.Modality = "US"
    ds.PatientName = "SYNTHETIC"
    ds.PatientID = "SYNTHETIC"
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    ds.StudyDate = ""
    ds.StudyTime = ""
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.StudyID = "SYNTH"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.Manufacturer = "FUIQA synthetic generator"
    ds.SeriesDescription = "SYNTHETIC fetal ultrasound sweep"
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.ConversionType = "SYN"
    ds.BurnedInAnnotation = "NO"
    colour = frames[0].ndim == 3
    h, w = frames[0].shape[:2]
    ds.Rows, ds.Columns = h, w
    ds.NumberOfFrames = len(frames)
    ds.FrameTime = f"{1000.0 / fps:.1f}"
    ds.CineRate = int(round(fps))
    ds.FrameIncrementPointer = (0x0018, 0x1063)
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    if colour:
        ds.SamplesPerPixel = 3
        ds.PhotometricInterpretation = "RGB"
        ds.PlanarConfiguration = 0
        arr = np.stack([cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for f in frames])
    else:
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        arr = np.stack(frames)
    ds.PixelData = np.ascontiguousarray(arr, dtype=np.uint8).tobytes()
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(buf.getvalue())
    os.replace(tmp, path)


def write_rows(path: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=SWEEP_COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(buf.getvalue(), encoding="utf-8")
    os.replace(tmp, path)


def write_sweep(stem: Path, plane: str, *, seed: int, index: int, frames: int = 75, size: int = 256,
                realism: float = 0.0) -> Path:
    """Write stem.mp4, stem.dcm and stem.csv for one sweep; returns stem."""
    stem = Path(stem)
    imgs, rows = [], []
    for img, row in sweep_frames(plane, seed, index, frames, size, realism=realism):
        imgs.append(img)
        rows.append(row)
    write_mp4(stem.with_suffix(".mp4"), imgs)
    write_dicom(stem.with_suffix(".dcm"), imgs, uid_seed=f"fuiqa-synth-{seed}-{index}")
    write_rows(stem.with_suffix(".csv"), rows)
    return stem


def write_demo(out_dir, *, seed: int = 2024, width: int = 640, height: int = 480, seconds: float = 12.0,
               progress: bool = True, decorrelation_mm: float = 2.0) -> Path:
    """The demo asset: a scanner-screen-like SYNTHETIC sweep (head, then abdomen), mp4 + csv."""
    from tqdm import tqdm

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    n = int(round(seconds * FPS))
    parts = [("head", n // 2, 2), ("abdomen", n - n // 2, 2)]
    imgs, rows = [], []
    bar = tqdm(total=n, desc="demo sweep", unit="frame", disable=not progress)
    f0 = 0
    for k, (plane, m, passes) in enumerate(parts):
        for img, row in sweep_frames(plane, seed, k, m, screen=(width, height), passes=passes, frame0=f0,
                                     clean=True, decorrelation_mm=decorrelation_mm):
            imgs.append(img)
            rows.append(row)
            bar.update(1)
        f0 += m
    bar.close()
    write_mp4(out_dir / "demo_sweep.mp4", imgs, codec="h264", crf=34)
    write_rows(out_dir / "demo_sweep.csv", rows)
    return out_dir / "demo_sweep.mp4"
