"""Tools ▸ Retrain (trainer in a QProcess), Model manager, Settings."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from test_gui_live import isolated, no_dialogs, window  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parent.parent

FAKE_TRAINER = textwrap.dedent(r'''
    """Stands in for `python -m app.cli` (train/eval) with the same JSON-lines protocol."""
    import json, shutil, signal, sys, time
    from pathlib import Path
    args = sys.argv[1:]
    if args[0] == "train":
        data, out = args[1], Path(args[args.index("--out") + 1])
        epochs = int(args[args.index("--epochs") + 1])
        slow = (Path(data) / "SLOW").exists()
        early = 3 if (Path(data) / "EARLY").exists() else None
        out.mkdir(parents=True, exist_ok=True)
        (out / "checkpoint.pt").write_bytes(b"ckpt")
        stop = {"f": False}
        signal.signal(signal.SIGTERM, lambda *a: stop.update(f=True))
        print(json.dumps({"event": "start", "epochs": epochs, "start_epoch": 0, "steps_per_epoch": 2,
                          "n_train": 20, "n_val": 5, "n_test": 5, "device": "cpu", "config": {"patience": 2}}), flush=True)
        for e in range(1, (early or epochs) + 1):
            for s in (1, 2):
                time.sleep(0.5 if slow else 0.02)
                if stop["f"]:
                    print(json.dumps({"event": "stopped", "epoch": e, "checkpoint": None}), flush=True)
                    sys.exit(130)
                print(json.dumps({"event": "step", "epoch": e, "step": s, "steps": 2, "loss": 1.0 / (e + s)}), flush=True)
            print(json.dumps({"event": "epoch", "epoch": e, "epochs": epochs, "train_loss": 1.0 / e,
                              "val_srcc": 0.5 + 0.1 * e, "val_plcc": 0.45 + 0.1 * e, "best_epoch": 1 if early else e,
                              "seconds": 0}), flush=True)
        out.mkdir(parents=True, exist_ok=True)
        shutil.copy(Path(data) / "model_src.fuiqa", out / "model.fuiqa")
        print(json.dumps({"event": "done", "model": str(out / "model.fuiqa"), "metrics": {"srcc": 0.8}}), flush=True)
    elif args[0] == "eval":
        model = args[1]
        good = "model_" in model
        print(json.dumps({"srcc": 0.81 if good else 0.02, "plcc": 0.8 if good else 0.01, "krcc": 0.6 if good else 0.0,
                          "rmse": 9.0 if good else 30.0, "n": 5, "trained": good,
                          "ci95": {"srcc": [0.55, 0.95] if good else [-0.6, 0.7]}}, indent=2))
''')


@pytest.fixture
def fake_trainer(tmp_path):
    from engine.modelpack import default_model_path

    script = tmp_path / "fake_trainer.py"
    script.write_text(FAKE_TRAINER)
    data = tmp_path / "labelled"
    data.mkdir()
    (data / "labels.csv").write_text("name,mos\na.png,50\n")
    shutil.copy(default_model_path(), data / "model_src.fuiqa")
    return [sys.executable, str(script)], data


def test_retrain_to_the_end_then_accept_and_restore(qtbot, window, fake_trainer):
    from app.retrain import RetrainDialog

    cmd, data = fake_trainer
    d = window.open_retrain()  # Tools > Retrain
    assert isinstance(d, RetrainDialog)
    d.cmd = cmd
    d.epochs.setValue(3)
    with qtbot.waitSignal(d.state_changed, timeout=30000, check_params_cb=lambda s: s == "compare"):
        assert d.start(str(data))
        assert d.state == "training"
        assert d.proc is not None  # a separate process: the GUI thread is free meanwhile
    epochs = [e for e in d.events if e["event"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2, 3]
    x, y = d.srcc_curve.getData()
    assert list(x) == [1, 2, 3] and y[-1] == pytest.approx(0.8)
    assert d.loss_curve.getData()[1][0] == pytest.approx(1.0)
    assert d.progress.value() == d.progress.maximum()
    # both models evaluated on the same split, side by side
    assert d.eval_results["current"]["srcc"] == pytest.approx(0.02)
    assert d.eval_results["new"]["srcc"] == pytest.approx(0.81)
    assert not d.table.isHidden() and d.table.item(0, 0).text() == "SRCC"
    assert d.table.item(0, 1).text().startswith("0.020") and d.table.item(0, 2).text().startswith("0.810")
    assert d.table.rowCount() == 7  # srcc plcc krcc rmse, n, trained, synthetic_training_data
    # not active until accepted
    assert window.settings.get("scoring/model") in ("", None)
    new = d.new_model
    assert Path(new).exists() and Path(new).parent.parent == window.settings.models_dir()
    d.accept_btn.click()
    assert window.settings.get("scoring/model") == new
    assert window.scorer.package.path == Path(new)  # the window reloaded the model
    # the model manager lists it as active and restores the previous (the shipped default)
    from app.models import ModelManager

    mm = ModelManager(window.settings, window)
    qtbot.addWidget(mm)
    act = [m for m in mm.models if m["active"]]
    assert len(act) == 1 and act[0]["path"] == new
    assert any(m["default"] for m in mm.models)
    mm.restore_previous()
    assert window.settings.get("scoring/model") == ""
    assert [m for m in mm.models if m["active"]][0]["default"]
    assert mm.make_active(new)
    assert window.settings.get("scoring/model") == new


def test_cancel_leaves_active_model_untouched(qtbot, window, fake_trainer):
    from app.retrain import RetrainDialog

    cmd, data = fake_trainer
    (data / "SLOW").write_text("")
    window.settings.set("scoring/model", "")
    d = RetrainDialog(window.settings, None, parent=window, trainer_cmd=cmd)
    qtbot.addWidget(d)
    d.epochs.setValue(50)
    assert d.start(str(data))
    qtbot.waitUntil(lambda: any(e["event"] == "step" for e in d.events), timeout=15000)
    with qtbot.waitSignal(d.state_changed, timeout=15000, check_params_cb=lambda s: s == "cancelled"):
        d.cancel()
    assert d.new_model is None
    assert not (d.out_dir / "model.fuiqa").exists()
    assert window.settings.get("scoring/model") == ""
    assert "unchanged" in d.status.text()


def test_retrain_rejects_folder_without_labels(qtbot, window, tmp_path, no_dialogs):
    from app.retrain import RetrainDialog

    d = RetrainDialog(window.settings, None, parent=window)
    qtbot.addWidget(d)
    assert d.start(str(tmp_path)) is False
    assert no_dialogs and "labels.csv" in no_dialogs[-1][2]
    assert d.proc is None


def test_settings_are_isolated_and_kept(window, isolated):
    s = window.settings
    assert str(isolated) in s.q.fileName()  # never the user's real settings
    s.set("thresholds/good", 85.0)
    from app.settings import Settings

    assert Settings().get("thresholds/good") == 85.0


@pytest.mark.slow
def test_retrain_real_trainer_tiny_set(qtbot, window, tmp_path):
    """The real `fuiqa train` + `fuiqa eval` on a tiny synthetic set, end to end through the dialog."""
    from app.retrain import RetrainDialog

    data = tmp_path / "synth"
    r = subprocess.run([sys.executable, "-m", "app.cli", "synth", str(data), "--n", "40", "--seed", "1"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert r.returncode == 0, f"fuiqa synth failed: {r.stderr[-2000:]}"  # a broken generator is a failure
    d = RetrainDialog(window.settings, None, parent=window)
    qtbot.addWidget(d)
    d.epochs.setValue(1)
    d.batch.setValue(8)
    with qtbot.waitSignal(d.state_changed, timeout=400000, check_params_cb=lambda s: s in ("compare", "failed")):
        assert d.start(str(data))
    assert d.state == "compare", d.log.toPlainText()[-2000:]
    assert Path(d.new_model).exists()
    assert "srcc" in d.eval_results["new"] and "srcc" in d.eval_results["current"]
    # both on the new model's test split, whatever split the current model was trained with
    assert d.eval_results["new"]["n"] == d.eval_results["current"]["n"]
    assert [e["epoch"] for e in d.events if e["event"] == "epoch"] == [1]
    # a second run, cancelled mid-way by the real trainer's SIGTERM handling: no model, nothing changed
    before = window.settings.get("scoring/model")
    d.epochs.setValue(200)
    assert d.start(str(data))
    qtbot.waitUntil(lambda: any(e["event"] in ("step", "epoch") for e in d.events), timeout=300000)
    with qtbot.waitSignal(d.state_changed, timeout=60000, check_params_cb=lambda s: s == "cancelled"):
        d.cancel()
    assert not (d.out_dir / "model.fuiqa").exists()
    assert window.settings.get("scoring/model") == before


def test_tools_tensorrt_disabled_with_reason_and_benchmark(qtbot, window, no_dialogs):
    # conftest hides TensorRT: the action is off and its tooltip says why (the enabled case: test_holes_gui)
    assert not window.trt_action.isEnabled()
    assert "TensorRT is not installed" in window.trt_action.toolTip()
    window.benchmark_backend()
    qtbot.waitUntil(lambda: hasattr(window, "_last_benchmark"), timeout=30000)
    r = window._last_benchmark
    assert r["backend"] == window.scorer.backend and r["n"] == 60
    assert 0 < r["p50_ms"] <= r["p95_ms"]
    from app import dialogs

    assert dialogs.shown[-1][0] == "Benchmark" and "typical" in dialogs.shown[-1][1]


def test_settings_dialog_saves_and_validates(qtbot, window, no_dialogs):
    from app.tools import SettingsDialog

    d = SettingsDialog(window.settings, window)
    qtbot.addWidget(d)
    d.good.setValue(70)
    d.acc.setValue(75)  # acceptable above standard: refused
    d.accept()
    assert no_dialogs and window.settings.get("thresholds/good") == 80.0
    d.acc.setValue(55)
    d.smooth.setValue(0.8)
    d.accept()
    assert window.settings.get("thresholds/good") == 70.0
    assert window.settings.get("thresholds/acceptable") == 55.0
    assert window.settings.get("gauge/smoothing_s") == pytest.approx(0.8)


def test_retrain_says_why_it_stopped_early_with_intervals_and_small_test_warning(qtbot, window, fake_trainer):
    from app.retrain import RetrainDialog

    cmd, data = fake_trainer
    (data / "EARLY").write_text("")
    d = RetrainDialog(window.settings, None, parent=window, trainer_cmd=cmd)
    qtbot.addWidget(d)
    d.epochs.setValue(10)
    with qtbot.waitSignal(d.state_changed, timeout=30000, check_params_cb=lambda s: s == "compare"):
        assert d.start(str(data))
    text = d.status.text()
    assert "Stopped early at epoch 3 of 10" in text and "since epoch 1" in text and "2 epochs" in text
    assert "Only 5 test images" in text
    assert d.table.item(0, 2).text() == "0.810  (0.55–0.95)"  # the interval beside the value
    labels = " ".join(d.findChildren(type(d.status))[i].text() for i in range(len(d.findChildren(type(d.status)))))
    assert "the paper's" not in labels and "rt =" not in labels


def test_cancel_is_calm_and_removes_the_run_folder(qtbot, window, fake_trainer):
    from app.retrain import RetrainDialog

    cmd, data = fake_trainer
    (data / "SLOW").write_text("")
    d = RetrainDialog(window.settings, None, parent=window, trainer_cmd=cmd)
    qtbot.addWidget(d)
    d.epochs.setValue(50)
    assert d.start(str(data))
    qtbot.waitUntil(lambda: (d.out_dir / "checkpoint.pt").exists(), timeout=15000)
    with qtbot.waitSignal(d.state_changed, timeout=15000, check_params_cb=lambda s: s == "cancelled"):
        d.cancel()
    assert not d.out_dir.exists()  # nothing left behind
    assert "folder was removed" in d.status.text()
    log = d.log.toPlainText()
    assert "ProcessError" not in log and "Crashed" not in log and "cancelled by the user" in log
