"""The command-line options of `fuiqa train` / `fuiqa eval` reach the trainer: `--resume`, `--fresh`,
`--input-size`, the other TrainConfig overrides, `eval --split`. The trainer itself is replaced by a
recorder (its behaviour is tested in test_trainer.py); what is checked here is the wiring."""
import json

import pytest

from app.cli import main


@pytest.fixture
def recorded(monkeypatch):
    import train.trainer as T

    calls = []

    def fake_train(data, out, cfg, progress=None, should_stop=None, resume="auto"):
        calls.append({"data": str(data), "out": str(out), "cfg": cfg, "resume": resume})
        return T.TrainResult(**{**{f: None for f in T.TrainResult.__dataclass_fields__}, "stopped": True})

    def fake_eval(model, data, split="test", n_boot=1000, **kw):
        calls.append({"model": str(model), "split": split, "n_boot": n_boot, **kw})
        return {"plcc": 0.5, "plcc_raw": 0.5, "srcc": 0.4, "krcc": 0.3, "rmse": 10.0, "n": 7, "fit": "logistic"}

    monkeypatch.setattr(T, "train", fake_train)
    monkeypatch.setattr(T, "evaluate_package", fake_eval)
    return calls


@pytest.mark.parametrize("flag,resume", [([], "auto"), (["--resume"], True), (["--fresh"], False)])
def test_train_resume_and_fresh_reach_the_trainer(tmp_path, recorded, flag, resume):
    assert main(["train", str(tmp_path / "d"), "--out", str(tmp_path / "o"), *flag]) == 130  # the fake "stopped"
    assert recorded[-1]["resume"] is resume if isinstance(resume, bool) else recorded[-1]["resume"] == resume


def test_resume_and_fresh_together_are_refused(tmp_path, recorded, capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", str(tmp_path / "d"), "--out", str(tmp_path / "o"), "--resume", "--fresh"])
    assert e.value.code == 2 and recorded == []


def test_train_overrides_reach_the_config(tmp_path, recorded):
    cfg_file = tmp_path / "c.json"
    cfg_file.write_text(json.dumps({"epochs": 7, "lr": 0.002, "batch_size": 12}))
    assert main(["train", str(tmp_path / "d"), "--out", str(tmp_path / "o"), "--config", str(cfg_file),
                 "--input-size", "96", "--epochs", "3", "--loss", "mse", "--mixing", "none", "--seed", "5",
                 "--fusion", "last", "--threads", "1"]) == 130
    cfg = recorded[-1]["cfg"]
    # command line wins over the file; the file wins over the defaults
    assert (cfg.input_size, cfg.epochs, cfg.loss, cfg.mixing, cfg.seed, cfg.fusion) == (96, 3, "mse", "none", 5, "last")
    assert cfg.lr == pytest.approx(0.002) and cfg.batch_size == 12


def test_train_bad_input_size_is_one_clear_error(tmp_path, recorded, capsys):
    assert main(["train", str(tmp_path / "d"), "--out", str(tmp_path / "o"), "--input-size", "100"]) == 2
    err = capsys.readouterr().err
    assert "input_size" in err and "Traceback" not in err and recorded == []


@pytest.mark.parametrize("split", ["train", "val", "test", "all"])
def test_eval_split_reaches_the_evaluation(tmp_path, recorded, capsys, split):
    assert main(["eval", str(tmp_path / "m.fuiqa"), str(tmp_path / "d"), "--split", split, "--json", "--boot", "0"]) == 0
    assert recorded[-1]["split"] == split and recorded[-1]["n_boot"] == 0
    assert json.loads(capsys.readouterr().out)["n"] == 7
