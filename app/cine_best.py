"""The best frames of a cine loop: one per pass of the probe over a plane (no Qt; numpy + scipy)."""
from __future__ import annotations

import numpy as np


def best_passes(scores, results, k: int, prominence: float = 10.0) -> list[int]:
    """Frame indices of the best frame of each pass, best first, at most ``k``.

    A pass is a rise and fall of the score (a peak that stands ``prominence`` points above the dips on
    both sides), and a change of plane starts a new one, so the list holds no near-duplicates of one
    pass. ``scores``: per frame, NaN where not scored; ``results``: per frame a result with ``plane``
    and ``ood`` (or None), possibly shorter than ``scores``. Frames flagged "unlike the training data"
    are never offered (as in the live view): the passes are found on the other frames, as if the
    flagged ones were cut out of the loop."""
    from scipy.signal import find_peaks

    s = np.nan_to_num(np.asarray(scores, np.float64), nan=-1.0)
    n_res = min(len(results), len(s))
    planes = [getattr(r, "plane", None) for r in results[:n_res]] + [None] * (len(s) - n_res)
    keep = np.array([not getattr(r, "ood", None) for r in results[:n_res]] + [True] * (len(s) - n_res), bool)
    idx = np.flatnonzero(keep)
    s, planes = s[idx], [planes[i] for i in idx]
    if not len(s) or s.max() < 0:
        return []
    cand = []
    start = 0
    for j in range(1, len(s) + 1):  # split at plane changes, then find the passes in each run
        if j < len(s) and planes[j] == planes[start]:
            continue
        seg = np.concatenate([[-100.0], s[start:j], [-100.0]])
        peaks, _ = find_peaks(seg, prominence=prominence, plateau_size=1)
        cand += [start + int(q) - 1 for q in peaks]
        start = j
    cand = [i for i in cand if s[i] >= 0]
    return [int(idx[i]) for i in sorted(cand, key=lambda i: (-s[i], i))[:k]]
