"""One-page reports (A4 proportions) for an exam and for a reviewed cine; saved as PNG and PDF.

The PDF is drawn with QPdfWriter (QtGui, part of PySide6-Essentials); should it be missing, only the
PNG is written and :func:`save_report` says so. Reports carry no patient data: only the imaging
region of each frame, no DICOM tags, the cine named by a short hash.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter

from engine.result import band_of

from .heat import HeatLegend
from .plane_panel import checklist_rows
from .widgets import band_color, band_label, to_qimage

INK, DIM, PAPER = QColor(20, 20, 20), QColor(90, 90, 90), QColor(255, 255, 255)
FOOT = "Decision support only. Scores 0–100: ≥ 80 standard, 60–79 acceptable, < 60 non-standard."


class _Page:
    def __init__(self, width: int = 1240):
        self.W = width
        self.H = int(width * 297 / 210)
        self.img = QImage(self.W, self.H, QImage.Format_RGB32)
        self.img.fill(PAPER)
        self.p = QPainter(self.img)
        self.p.setRenderHint(QPainter.Antialiasing)
        self.m = 56
        self.y = self.m

    def font(self, px: int, bold: bool = False):
        f = QFont("Sans")
        f.setPixelSize(px)
        f.setBold(bold)
        self.p.setFont(f)

    def line(self, text: str, px: int = 18, bold: bool = False, color=INK, h: int | None = None):
        self.font(px, bold)
        self.p.setPen(color)
        hh = h or int(px * 1.5)
        self.p.drawText(QRectF(self.m, self.y, self.W - 2 * self.m, hh), Qt.AlignLeft | Qt.AlignVCenter, text)
        self.y += hh

    def warnings(self, warn: list[str]):
        if not warn:
            return
        self.font(17, True)
        text, flags = " • ".join(warn), int(Qt.AlignCenter | Qt.TextWordWrap)
        w = self.W - 2 * self.m
        # as many lines as the words need (a long training note plus a demo warning wraps, never clips)
        h = max(32, int(self.p.boundingRect(QRectF(0, 0, w - 16, 10_000), flags, text).height()) + 10)
        r = QRectF(self.m, self.y + 4, w, h)
        self.p.fillRect(r, QColor(199, 119, 0))
        self.p.setPen(PAPER)
        self.p.drawText(r.adjusted(8, 0, -8, 0), flags, text)
        self.y += h + 12

    def legend(self):
        self.p.setPen(INK)
        HeatLegend.paint_to(self.p, QRectF(self.m, self.y, 520, 34), INK)
        self.y += 42

    def finish(self) -> QImage:
        self.font(14)
        self.p.setPen(DIM)
        self.p.drawText(QRectF(self.m, self.H - self.m, self.W - 2 * self.m, 24), Qt.AlignLeft, FOOT)
        self.p.end()
        return self.img


def _pair(plain: np.ndarray, heat: np.ndarray) -> np.ndarray:
    if plain.ndim == 2:
        import cv2

        plain = cv2.cvtColor(plain, cv2.COLOR_GRAY2BGR)
    plain = plain[:, :, :3]
    return np.concatenate([plain, np.full((plain.shape[0], 8, 3), 255, np.uint8), heat[:, :, :3]], axis=1)


def exam_report_image(exam, header: dict, width: int = 1240) -> QImage:
    """The planes captured, their best frames (plain + heatmap), scores and checklists."""
    from .exam import PLANE_SHORT
    from .heat import blend

    pg = _Page(width)
    p = pg.p
    pg.line("FUIQA exam report — standard planes", 32, True, h=46)
    t0 = time.strftime("%Y-%m-%d %H:%M", time.localtime(exam.started))
    cov = exam.coverage()
    done = [k for k, v in cov.items() if v is not None]
    pg.line(f"Exam {exam.id[5:]} · started {t0} · planes captured {len(done)} of {len(cov)}"
            + (f" · still to do: {', '.join(PLANE_SHORT[k] for k in cov if cov[k] is None)}" if len(done) < len(cov) else ""))
    pg.line(f"Model: {header.get('model', '?')}", 16, color=DIM)
    pg.line("No patient data: only the imaging region of each frame is kept.", 16, color=DIM)
    pg.warnings(header.get("warnings") or [])
    pg.legend()
    row_h = (pg.H - pg.y - pg.m - 40) / len(exam.planes)  # the most a plane may take
    for plane in exam.planes:
        y0 = pg.y
        c = exam.best.get(plane)
        pg.font(22, True)
        p.setPen(INK)
        title = PLANE_SHORT.get(plane, plane)
        if c is None:
            p.drawText(QRectF(pg.m, y0, pg.W, 30), Qt.AlignLeft, f"{title}: not captured")
            pg.y += 48
            continue
        heat = blend(c.crop, c.loss, (0, 0, c.crop.shape[1], c.crop.shape[0]))
        qi = to_qimage(_pair(c.crop, heat)).scaled(int(pg.W * 0.58), int(row_h - 44), Qt.KeepAspectRatio,
                                                   Qt.SmoothTransformation)
        words = c.result.plane_label if c.result.plane is not None else f"{title} (plane chosen by the user; {c.result.plane_label})"
        p.drawText(QRectF(pg.m, y0, pg.W - 2 * pg.m, 30), Qt.AlignLeft, words)
        p.drawImage(int(pg.m), int(y0 + 34), qi)
        x1 = pg.m + qi.width() + 24
        pg.font(40, True)
        p.setPen(band_color(c.score))
        p.drawText(QRectF(x1, y0 + 30, pg.W - x1 - pg.m, 50), Qt.AlignLeft, f"{c.score:.0f}")
        pg.font(18, True)
        p.drawText(QRectF(x1 + 90, y0 + 44, pg.W - x1 - pg.m, 30), Qt.AlignLeft, band_label(c.score))
        pg.font(16)
        p.setPen(INK)
        yy = y0 + 88
        rows_ = checklist_rows(c.result)
        if not rows_:
            p.drawText(QRectF(x1, yy, pg.W - x1 - pg.m, 24), Qt.AlignLeft, "checklist: not assessed by this model")
            yy += 24
        for _, words_, ok in rows_:
            p.setPen(QColor(30, 140, 60) if ok else QColor(200, 50, 40))
            p.drawText(QRectF(x1, yy, 24, 24), Qt.AlignLeft, "✓" if ok else "✗")
            p.setPen(INK)
            p.drawText(QRectF(x1 + 24, yy, pg.W - x1 - pg.m - 24, 24), Qt.AlignLeft, words_)
            yy += 23
        pg.font(14)
        p.setPen(DIM)
        how = "automatic capture" if c.auto else "captured by key"
        p.drawText(QRectF(x1, yy + 4, pg.W - x1 - pg.m, 22), Qt.AlignLeft,
                   f"{how}, {time.strftime('%H:%M:%S', time.localtime(c.t))}"
                   + (f" · ⚠ {getattr(c.result, 'ood_reason', '') or 'unlike the training data'}" if c.result.ood else ""))
        pg.y = max(y0 + 34 + qi.height(), yy + 26) + 24  # tight: the next plane right below
    return pg.finish()


def cine_report_image(cine, width: int = 1240) -> QImage:
    """Summary, quality timeline with plane colours, best frames (one per pass) with heatmaps."""
    pg = _Page(width)
    p = pg.p
    pg.line("FUIQA cine quality report", 32, True, h=46)
    s = cine.scores[np.isfinite(cine.scores)]
    good = float(np.mean(s >= 79.5) * 100) if len(s) else 0
    acc = float(np.mean((s >= 59.5) & (s < 79.5)) * 100) if len(s) else 0
    scorer = cine.scorer_provider()
    pkg = getattr(scorer, "package", None)
    pg.line(f"Cine {cine.cine_id()} · {cine.n} frames at {cine.fps:.0f} fps · generated {time.strftime('%Y-%m-%d %H:%M')}")
    if len(s):
        pg.line(f"Mean score {np.mean(s):.1f}, best {np.max(s):.0f} · standard {good:.0f}% · acceptable {acc:.0f}% · "
                f"non-standard {100 - good - acc:.0f}% of frames")
    pg.line(f"Model: {pkg.describe() if pkg else '?'}", 16, color=DIM)
    pg.line("No patient data: only the imaging region is shown; no DICOM tags are copied. Frames are numbered from 0.",
            16, color=DIM)
    warn = [w for w in (getattr(scorer, "warning", None), "SYNTHETIC cine — not patient data" if cine.synthetic else None) if w]
    note = pkg.training_warning() if pkg is not None else None
    if note:
        warn.append(note)
    pg.warnings(warn)
    pg.line("Quality per frame (dashed: 60 and 80; blue ticks: best frames; strip: plane)", 17)
    cine.timeline.paint_to(p, QRectF(pg.m, pg.y, pg.W - 2 * pg.m, 150), marker=False)
    pg.y += 160
    pg.legend()
    best = cine.best_indices(6)
    pg.line(f"Best {len(best)} frames, one per pass (imaging region; right: heatmap)", 17)
    cols, cw = 2, (pg.W - 2 * pg.m - 20) / 2
    ch = (pg.H - pg.y - pg.m - 30) / 3
    for k, i in enumerate(best):
        plain, heat = cine.frame_images(i)
        r, c = divmod(k, cols)
        x0, y0 = pg.m + c * (cw + 20), pg.y + r * ch
        qi = to_qimage(_pair(plain, heat)).scaled(int(cw), int(ch - 52), Qt.KeepAspectRatio, Qt.SmoothTransformation)
        p.drawImage(int(x0), int(y0), qi)
        sc = float(cine.scores[i])
        pg.font(17, True)
        p.setPen(band_color(sc))
        p.drawText(QRectF(x0, y0 + qi.height() + 2, cw, 24), Qt.AlignLeft,
                   f"frame {i} ({i / cine.fps:.2f} s): {sc:.0f} — {band_label(sc)}")
        fr = cine.result_at(i)
        pg.font(14)
        p.setPen(DIM)
        if fr is not None:
            rows_ = checklist_rows(fr)
            miss = [w for _, w, ok in rows_ if not ok]
            txt = fr.plane_label + (f" · missing: {', '.join(miss)}" if miss else (" · checklist met" if rows_ else ""))
            p.drawText(QRectF(x0, y0 + qi.height() + 24, cw, 20), Qt.AlignLeft, txt[:90])
    return pg.finish()


def save_report(img: QImage, png: Path, title: str) -> list[Path]:
    """PNG (temp file, then rename) and a one-page A4 PDF beside it; returns the paths written."""
    png = Path(png)
    png.parent.mkdir(parents=True, exist_ok=True)
    tmp = png.with_name(f".{png.stem}.part.png")
    if not img.save(str(tmp), "PNG"):
        raise OSError(f"{png}: could not write the report")
    tmp.replace(png)
    out = [png]
    try:
        from PySide6.QtGui import QPageSize, QPdfWriter
    except ImportError:  # pragma: no cover - PySide6-Essentials has it; say so if a build lacks it
        print(f"{png.name}: PDF not written (this Qt has no QPdfWriter); the PNG is the report", flush=True)
        return out
    pdf = png.with_suffix(".pdf")
    tmp_pdf = pdf.with_name(f".{pdf.stem}.part.pdf")
    w = QPdfWriter(str(tmp_pdf))
    w.setPageSize(QPageSize(QPageSize.A4))
    w.setResolution(150)
    w.setTitle(title)
    pp = QPainter(w)
    target = pp.viewport()
    pp.drawImage(0, 0, img.scaled(target.width(), target.height(), Qt.KeepAspectRatio, Qt.SmoothTransformation))
    pp.end()
    tmp_pdf.replace(pdf)
    out.append(pdf)
    return out


__all__ = ["exam_report_image", "cine_report_image", "save_report", "band_of"]
