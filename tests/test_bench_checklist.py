"""bench/bench_real.py's checklist check on real ladders: Spearman of P(item) with severity, flips."""
import importlib.util
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_real_mod", ROOT / "bench" / "bench_real.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_checklist_checks_pass_a_falling_item_and_fail_a_flat_one():
    B = _bench()
    falling = [[0.9, 0.7, 0.4, 0.2, 0.1], [0.8, 0.9, 0.3, 0.2, 0.05]]
    flat = [[0.9] * 5, [0.6] * 5]
    crit = {f: (flat if f == "too_small" else falling) for f in B.CRIT_OF}
    clean = [SimpleNamespace(criteria_prob={c: p for c in ("structures", "plane", "zoom", "settings", "artefacts")})
             for p in (0.9, 0.2)]
    out = {}
    checks = B._checklist_checks(crit, clean, out)
    assert len(checks) == len(B.CRIT_OF)
    by = {c["name"]: c for c in checks}
    blur = by["checklist 'artefacts' along the blur ladder: Spearman"]
    assert blur["pass"] and np.isclose(blur["value"], np.mean([-1.0, -0.9]))
    zoom = by["checklist 'zoom' along the too_small ladder: Spearman"]
    assert not zoom["pass"] and zoom["value"] == 0.0  # the item does not respond
    assert out["checklist_ladders"]["blur"]["met_then_not"] == 1.0
    assert out["checklist_ladders"]["too_small"]["met_then_not"] == 0.0
    assert out["checklist_clean_met"]["zoom"] == 0.5


def test_checklist_checks_without_a_criteria_head_say_not_available():
    B = _bench()
    checks = B._checklist_checks({f: [] for f in B.CRIT_OF}, [], {})
    assert len(checks) == 1 and checks[0]["value"] is None and "not available" in checks[0]["note"]


class _BrightnessScorer:
    """A stand-in scorer whose attention is each heatmap cell's brightness and whose points lost are its
    darkness, on the model input (so a bright skull draws the attention and a shadow loses points)."""

    input_size, grid = 64, 8

    def score(self, frames, box):
        from engine.preprocess import preprocess

        x = preprocess(frames[0], box, self.input_size)[0]
        k = self.input_size // self.grid
        cells = x.reshape(self.grid, k, self.grid, k).mean(axis=(1, 3))
        cells = (cells - cells.min()) / max(1e-6, float(np.ptp(cells)))
        return [SimpleNamespace(attention=cells / cells.sum(), deficit=1.0 - cells)]


def _head_frame(seed):
    import cv2

    rng = np.random.default_rng(seed)
    img = np.zeros((270, 400), np.uint8)
    cv2.ellipse(img, (200, 0), (330, 330), 0, 50, 130, 255, -1)  # a fan from the top
    fan = img > 0
    img[fan] = rng.integers(50, 90, int(fan.sum()))
    mask = np.zeros_like(img)
    cv2.ellipse(mask, (200, 160), (70, 55), 0, 0, 360, 1, -1)
    cv2.ellipse(img, (200, 160), (70, 55), 0, 0, 360, 240, 6)  # the skull
    return img, mask.astype(bool)


def test_real_heatmap_checks_find_the_head_and_the_shadow():
    from engine.preprocess import clip_roi
    from engine.roi import find_roi
    from train import real as R

    B = _bench()
    sc, heat = _BrightnessScorer(), []

    def result(im):
        return sc.score([im], clip_roi(find_roi(im).box, im.shape))[0]

    for seed in range(3):
        img, mask = _head_frame(seed)
        fan = R.fan_mask(img)
        shadowed = []
        for sev in B.SEV[-2:]:
            im2, info = R.degrade("acoustic_shadow", img, mask, sev, seed, fan)
            shadowed.append((im2, info["shadow"], result(im2)))
        heat.append(((img, mask, result(img)), fan, shadowed))
    out = {}
    att, auc = B._real_heatmap_checks(heat, sc.input_size, out)
    assert att["value"] == 1.0 and att["pass"]  # the brightest cell is on the skull, inside the mask
    assert auc["value"] is not None and auc["value"] > 0.8 and out["heatmap_real"]["shadow_cells"] > 0


def test_a_run_with_every_part_skipped_keeps_the_earlier_json(tmp_path, monkeypatch, capsys):
    B = _bench()
    monkeypatch.setenv("FUIQA_HC18", str(tmp_path / "no_hc18"))
    out = tmp_path / "real_checks.json"
    out.write_text('{"earlier": true}')
    assert B.main(["--quick", "--parts", "hc18", "--json", str(out)]) == 0
    assert out.read_text() == '{"earlier": true}'
    assert "no checks ran" in capsys.readouterr().out
