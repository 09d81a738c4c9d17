"""What a frame yields: the one result type that travels from the scorers to the CLI, GUI and reports.

A scorer returns a :class:`ScoreResult` for a batch (arrays, cheap to slice); ``result[i]`` (or
iterating) gives a :class:`FrameResult` for one frame, with everything in words and numbers:

    r = scorer.score([frame], roi)[0]
    r.score          # 0–100 (float)
    r.band           # "standard" | "acceptable" | "non-standard"  (from the score rounded as shown)
    r.heatmap        # (h, w) quality map q, 0–100, over the letterboxed model input
    r.deficit        # (h, w) points lost per cell, a·(100 − q); sums to 100 − score
    r.plane          # "head" | "abdomen" | "femur" | "4CH" | "other" | "none", or None (model has no plane head)
    r.plane_label    # "Head — transthalamic", …, "plane: not assessed by this model"
    r.assessed       # True when the product scores this plane (head, abdomen, femur)
    r.criteria       # {criterion: True/False} for the plane's checklist, or None
    r.criteria_prob  # {criterion: probability}, or None
    r.ood            # True when the frame is unlike the training data; None when the model has no check
    r.ood_reason     # why, in words ("" when not flagged)
    r.colour_share   # share of the image off its own colour map (engine/bmode.py); > 0.5: not B-mode
    r.grain          # neighbour correlation of the pixels (engine/bmode.py); < 0.15: noise, not an image

Models without the plane / criteria / OOD outputs (older ``.fuiqa`` files) give ``None`` there, and
the screens say "not assessed by this model". This module imports neither Qt nor torch.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .bmode import not_bmode, why_not_bmode

#: clinical bands (defaults; the GUI's settings may move them)
STANDARD, ACCEPTABLE = 80.0, 60.0

#: plane classes of the model's plane head, in output order
PLANES = ("none", "head", "abdomen", "femur", "4CH")
#: planes whose quality the product assesses (the score and checklist mean something there)
ASSESSED_PLANES = ("head", "abdomen", "femur")
PLANE_LABELS = {
    "head": "Head — transthalamic",
    "abdomen": "Abdomen — AC plane",
    "femur": "Femur — FL plane",
    "4CH": "Heart — 4 chamber (not assessed)",
    "other": "Other plane (not assessed)",
    "none": "No plane recognised",
}
NOT_ASSESSED = "plane: not assessed by this model"
#: under this top probability the plane head is no surer of its plane than of all the others together:
#: the label says so ("Head — transthalamic (uncertain: 44 %)"); the plane itself is unchanged (a floor
#: that turned such frames into "none" lowered the validation plane accuracy: docs/model_card.md)
PLANE_UNSURE = 0.5

#: global criteria (every assessed plane) and the required structures per plane, in the order of the
#: model's criteria head: GLOBAL_CRITERIA first, then STRUCTURES of head, abdomen, femur
GLOBAL_CRITERIA = ("structures", "plane", "zoom", "settings", "artefacts")
STRUCTURES = {
    "head": ("skull", "midline", "thalami", "csp", "third_ventricle"),
    "abdomen": ("abdomen", "stomach", "umbilical_vein", "spine", "ribs"),
    "femur": ("diaphysis", "end_a", "end_b"),
}
CRITERIA = GLOBAL_CRITERIA + tuple(s for p in ASSESSED_PLANES for s in STRUCTURES[p])
CRITERION_LABELS = {
    "structures": "All required structures shown",
    "plane": "Correct plane, symmetric",
    "zoom": "Zoom: fills 1/3–2/3 of the image",
    "settings": "Gain and settings",
    "artefacts": "No artefacts (shadow, blur, noise, contact)",
    "skull": "Skull ellipse complete",
    "midline": "Midline (falx) visible",
    "thalami": "Thalami",
    "csp": "Cavum septi pellucidi",
    "third_ventricle": "Third ventricle",
    "abdomen": "Round abdominal section",
    "stomach": "Stomach bubble",
    "umbilical_vein": "Umbilical vein at the portal sinus",
    "spine": "Spine",
    "ribs": "Ribs, symmetric",
    "diaphysis": "Whole diaphysis",
    "end_a": "Femur end 1 visible",
    "end_b": "Femur end 2 visible",
}


def band_of(score: float, standard: float = STANDARD, acceptable: float = ACCEPTABLE) -> str:
    """The band of a score *as shown* (rounded to a whole number first, so "60" is never red)."""
    s = round(float(score))
    if s >= standard:
        return "standard"
    if s >= acceptable:
        return "acceptable"
    return "non-standard"


def plane_checklist(plane: str | None) -> tuple[str, ...]:
    """Criteria shown for a plane: its structures, then the global ones (empty when not assessed)."""
    if plane not in ASSESSED_PLANES:
        return ()
    return STRUCTURES[plane] + GLOBAL_CRITERIA


@dataclass
class FrameResult:
    """Everything one frame yields (see the module docstring)."""

    score: float
    heatmap: np.ndarray
    attention: np.ndarray | None = None
    plane: str | None = None
    plane_confidence: float | None = None
    plane_probs: dict[str, float] | None = None
    criteria_prob: dict[str, float] | None = None
    ood: bool | None = None
    ood_score: float | None = None
    index: int | None = None
    extra: dict = field(default_factory=dict)
    colour_share: float | None = None
    grain: float | None = None

    @property
    def not_bmode(self) -> bool:
        """Not a B-mode image at all: a colour picture or noise (engine/bmode.py)."""
        return bool(not_bmode(self.colour_share, self.grain))

    @property
    def ood_reason(self) -> str:
        if not self.ood:
            return ""
        return why_not_bmode(self.colour_share, self.grain) or "unlike the training data"

    @property
    def band(self) -> str:
        return band_of(self.score)

    @property
    def assessed(self) -> bool:
        return self.plane in ASSESSED_PLANES

    @property
    def plane_label(self) -> str:
        if self.plane is None:
            return NOT_ASSESSED
        words = PLANE_LABELS.get(self.plane, self.plane)
        if self.plane != "none" and self.plane_confidence is not None and self.plane_confidence < PLANE_UNSURE:
            words += f" (uncertain: {100 * self.plane_confidence:.0f} %)"
        return words

    @property
    def deficit(self) -> np.ndarray:
        """Points lost per cell, a·(100 − q): sums to 100 − score (where the score was lost)."""
        if self.attention is None:
            return 100.0 - self.heatmap
        return self.attention * (100.0 - self.heatmap)

    @property
    def criteria(self) -> dict[str, bool] | None:
        """The plane's checklist, criterion -> met (probability ≥ 0.5); None without a criteria head."""
        if self.criteria_prob is None or not self.assessed:
            return None
        return {c: bool(self.criteria_prob[c] >= 0.5) for c in plane_checklist(self.plane)
                if c in self.criteria_prob}


#: per-frame CSV columns after ``score`` (``fuiqa score``, cine exports): blank where the model has no such output;
#: a criterion column is 1/0 only for the criteria of the frame's plane
CSV_COLUMNS = ("band", "plane", "plane_confidence", "ood", "ood_score", "ood_reason") + tuple(f"crit_{c}" for c in CRITERIA)


def csv_cells(r: "FrameResult") -> list:
    """The :data:`CSV_COLUMNS` cells of one frame's result."""
    crit = r.criteria or {}
    return [
        r.band,
        "" if r.plane is None else r.plane,
        "" if r.plane_confidence is None else round(r.plane_confidence, 3),
        "" if r.ood is None else int(r.ood),
        "" if r.ood_score is None else round(r.ood_score, 2),
        r.ood_reason,
    ] + ["" if c not in crit else int(crit[c]) for c in CRITERIA]


@dataclass
class ScoreResult:
    """A batch of results (arrays); index it for a :class:`FrameResult`."""

    scores: np.ndarray  # (N,) float32, 0–100
    heatmaps: np.ndarray  # (N, h, w) float32, 0–100
    attention: np.ndarray | None = None  # (N, h, w), sums to 1 per frame
    plane_probs: np.ndarray | None = None  # (N, len(plane_names))
    criteria: np.ndarray | None = None  # (N, len(criteria_names)) probabilities
    ood_score: np.ndarray | None = None  # (N,) density score (larger = less like the training data)
    ood_threshold: float | None = None
    plane_names: tuple[str, ...] = PLANES
    criteria_names: tuple[str, ...] = CRITERIA
    colour_share: np.ndarray | None = None  # (N,) engine/bmode.py's statistics, from the frames themselves
    grain: np.ndarray | None = None  # (N,)

    def __len__(self) -> int:
        return len(self.scores)

    @property
    def planes(self) -> list[str] | None:
        if self.plane_probs is None:
            return None
        return [self.plane_names[int(k)] for k in np.argmax(self.plane_probs, axis=1)]

    @property
    def ood(self) -> np.ndarray | None:
        """The model's density check, or'ed with engine/bmode.py's checks of the frames themselves
        (where the scorer saw them); None when the model has no density check."""
        if self.ood_score is None or self.ood_threshold is None:
            return None
        return (self.ood_score > self.ood_threshold) | not_bmode(self.colour_share, self.grain)

    def __getitem__(self, i: int) -> FrameResult:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"frame {i} of a result of {n}")
        i = i % n
        plane = conf = probs = crit = None
        if self.plane_probs is not None:
            p = self.plane_probs[i]
            k = int(np.argmax(p))
            plane, conf = self.plane_names[k], float(p[k])
            probs = {nm: float(v) for nm, v in zip(self.plane_names, p)}
        if self.criteria is not None:
            crit = {nm: float(v) for nm, v in zip(self.criteria_names, self.criteria[i])}
        ood = None if self.ood_score is None or self.ood_threshold is None else self.ood_score[i] > self.ood_threshold
        share = None if self.colour_share is None else float(self.colour_share[i])
        grain = None if self.grain is None else float(self.grain[i])
        if ood is not None:
            ood = ood or not_bmode(share, grain)
        return FrameResult(
            score=float(self.scores[i]), heatmap=self.heatmaps[i],
            attention=None if self.attention is None else self.attention[i],
            plane=plane, plane_confidence=conf, plane_probs=probs, criteria_prob=crit,
            ood=None if ood is None else bool(ood),
            ood_score=None if self.ood_score is None else float(self.ood_score[i]), index=i,
            colour_share=share, grain=grain,
        )

    def __iter__(self):
        return (self[i] for i in range(len(self)))


def concat(parts: list[ScoreResult]) -> ScoreResult:
    """Join batch results (the optional arrays only where every part has them)."""
    if len(parts) == 1:
        return parts[0]

    def cat(name):
        vals = [getattr(p, name) for p in parts]
        return None if any(v is None for v in vals) else np.concatenate(vals)

    p0 = parts[0]
    return ScoreResult(cat("scores"), cat("heatmaps"), cat("attention"), cat("plane_probs"), cat("criteria"),
                       cat("ood_score"), p0.ood_threshold, p0.plane_names, p0.criteria_names, cat("colour_share"),
                       cat("grain"))


def empty(heatmap_size: int) -> ScoreResult:
    e = np.zeros((0, heatmap_size, heatmap_size), np.float32)
    return ScoreResult(np.zeros(0, np.float32), e, e.copy())
