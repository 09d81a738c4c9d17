"""Recording (mp4 + CSV of scores) and saving images off the GUI thread.

A recording is written to hidden temp files next to the final names and renamed when it stops, so a
crash never leaves a half-written file under the final name. Frames arrive from the capture thread
through a bounded queue (a full queue drops and counts, it never blocks capture).
"""
from __future__ import annotations

import csv
import os
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

_saver = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fuiqa-save")


def save_png_async(path: Path, img_bgr, done=None):
    """Write a PNG atomically in the background; ``img_bgr`` may be a callable making the image there.
    ``done(path, error)`` is called in that thread."""

    def job():
        err = None
        try:
            img = img_bgr() if callable(img_bgr) else img_bgr
            ok, buf = cv2.imencode(".png", img)
            if not ok:
                raise OSError("PNG encoding failed")
            from engine.modelpack import atomic_write_bytes

            atomic_write_bytes(path, buf.tobytes())
        except Exception as e:  # noqa: BLE001
            err = str(e)
        if done:
            done(path, err)
        return path

    return _saver.submit(job)


def stamp() -> str:
    return time.strftime("%Y%m%d_%H%M%S") + f"_{int(time.time() * 1000) % 1000:03d}"


class Recorder:
    """mp4 ('mp4v') of the captured frames + CSV of the scores, written by its own thread."""

    def __init__(self, out_dir: Path, fps: float = 30.0, name: str | None = None):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        base = name or f"recording_{stamp()}"
        self.video_path = self.out_dir / f"{base}.mp4"
        self.csv_path = self.out_dir / f"{base}.csv"
        self._tmp_video = self.out_dir / f".{base}.part.mp4"
        self._tmp_csv = self.out_dir / f".{base}.part.csv"
        self.fps = float(fps or 30.0)
        self.q: queue.Queue = queue.Queue(maxsize=90)
        self.frames = 0
        self.dropped = 0
        self.rows = 0
        self._queued = 0
        self._seq_to_n: dict[int, int] = {}
        self._writer = None
        self._csv_f = open(self._tmp_csv, "w", newline="")
        self._csv = csv.writer(self._csv_f)
        self._csv.writerow(["rec_frame", "source_frame", "time_s", "score", "roi_x", "roi_y", "roi_w", "roi_h"])
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="fuiqa-record", daemon=True)
        self._thread.start()
        self.error: str | None = None

    # called in the capture thread
    def write(self, lf) -> None:
        try:
            self.q.put_nowait(lf)
        except queue.Full:
            self.dropped += 1
            return
        with self._lock:
            self._seq_to_n[lf.seq] = self._queued
            self._queued += 1
            if len(self._seq_to_n) > 4000:
                for k in list(self._seq_to_n)[:2000]:
                    del self._seq_to_n[k]

    # called in the scoring thread
    def add_score(self, res) -> None:
        with self._lock:
            n = self._seq_to_n.get(res.seq)
            if n is None or self._csv_f.closed:
                return
            x, y, w, h = res.roi
            self._csv.writerow([n, res.index, f"{res.frame.time_s:.3f}" if res.frame else "", f"{res.score:.2f}", x, y, w, h])
            self.rows += 1

    def _run(self):
        while True:
            lf = self.q.get()
            if lf is None:
                break
            try:
                img = lf.image
                if img.ndim == 2:
                    img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
                if self._writer is None:
                    h, w = img.shape[:2]
                    self._size = (w, h)
                    self._writer = cv2.VideoWriter(str(self._tmp_video), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
                    if not self._writer.isOpened():
                        raise OSError(f"cannot write video {self._tmp_video}")
                if (img.shape[1], img.shape[0]) != self._size:
                    img = cv2.resize(img, self._size)
                self._writer.write(np.ascontiguousarray(img[:, :, :3]))
                self.frames += 1
            except Exception as e:  # noqa: BLE001
                self.error = str(e)

    def stop(self) -> tuple[Path | None, Path]:
        """Finish, rename into place, return (video path or None when no frame came, csv path)."""
        self.q.put(None)
        self._thread.join(10)
        with self._lock:
            self._csv_f.close()
        video = None
        if self._writer is not None:
            self._writer.release()
            os.replace(self._tmp_video, self.video_path)
            video = self.video_path
        os.replace(self._tmp_csv, self.csv_path)
        return video, self.csv_path
