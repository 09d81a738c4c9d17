"""bench/ablation.py's decision rule and contrasts, as written in docs/ablation.md."""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def test_helps_only_when_most_seeds_win_and_both_intervals_exclude_zero():
    from bench.ablation import verdict

    wins = np.array([0.02, 0.03, 0.01, 0.02, -0.01])  # 4 of 5 positive
    assert verdict(wins, (0.001, 0.04), (0.002, 0.05)) == "HELPS"
    # either interval reaching 0 is not enough evidence (the t-interval here, then the bootstrap)
    assert verdict(wins, (-0.006, 0.05), (0.003, 0.045)) == "not detected"
    assert verdict(wins, (0.003, 0.045), (-0.001, 0.05)) == "not detected"
    assert verdict(np.array([0.02, 0.03, -0.01, 0.02, -0.01]), (0.001, 0.04), (0.002, 0.05)) == "not detected"
    assert verdict(-wins, (-0.04, -0.001), (-0.05, -0.002)) == "HURTS"


def test_contrasts_are_differences_of_means_in_the_full_design_and_in_a_2x2():
    import bench.ablation as A

    full = A.contrasts()
    m = full["mixing (cmx vs none)"]
    assert sum(m.values()) == 0 and sorted(set(m.values())) == [-0.25, 0.25]
    assert sorted(set(full["CMX×GCC interaction"].values())) == [-0.5, 0.5]
    saved = A.CELLS
    try:
        A.fix_cells("fusion=mqf")
        two = A.contrasts()
        assert "fusion (mqf vs last)" not in two and len(A.CELLS) == 4
        # cell values with a known structure: CMX adds 0.01, GCC 0.02, both together 0.05
        val = {"mqf·mse·none": 0.0, "mqf·mse·cmx": 0.01, "mqf·gcc·none": 0.02, "mqf·gcc·cmx": 0.05}
        eff = {k: sum(w[c] * val[c] for c in val) for k, w in two.items()}
        assert np.isclose(eff["CMX under gcc"], 0.03) and np.isclose(eff["CMX under mse"], 0.01)
        assert np.isclose(eff["CMX×GCC interaction"], 0.02)
        assert np.isclose(eff["mixing (cmx vs none)"], 0.02) and np.isclose(eff["loss (gcc vs mse)"], 0.03)
    finally:
        A.CELLS = saved
