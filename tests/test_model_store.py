"""The active model (issue 14, part 6): copied into the program's store atomically and never over
another model, pinned by SHA-256, a corrupt file listed as broken; the recent-files list can be
switched off and cleared."""
from __future__ import annotations

import json
import os
import zipfile

import pytest

from engine import modelpack, modelstore
from engine_helpers import package_varied


@pytest.fixture(scope="module")
def two_models(tmp_path_factory):
    d = tmp_path_factory.mktemp("ms")
    a = package_varied(d / "a" / "site.fuiqa", trained=True, seed=0)
    b = package_varied(d / "b" / "site.fuiqa", trained=False, seed=0)  # same name, other content
    return a.path, b.path


def _renamed(src, dst, name):
    with zipfile.ZipFile(src) as zi, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zo:
        for n in zi.namelist():
            data = zi.read(n)
            if n == "meta.json":
                meta = json.loads(data)
                meta["name"] = name
                data = json.dumps(meta).encode()
            zo.writestr(n, data)
    return dst


def test_install_never_overwrites_a_same_named_model(tmp_path, two_models):
    a, b = two_models
    store = tmp_path / "store"
    pa, sha_a = modelstore.install(a, store)
    before = pa.read_bytes()
    pb, sha_b = modelstore.install(b, store)
    assert pa != pb and pa.read_bytes() == before and sha_a != sha_b
    assert pb.name == pa.stem + "-2.fuiqa"
    assert modelstore.install(a, store) == (pa, sha_a)  # the same file again: stored once
    assert sorted(p.name for p in store.iterdir()) == sorted([pa.name, pb.name])


def test_a_copy_killed_midway_leaves_no_fragment_and_the_old_model(tmp_path, two_models, monkeypatch):
    a, b = two_models
    store = tmp_path / "store"
    pa, _ = modelstore.install(a, store)
    before = pa.read_bytes()

    def killed(fd):
        raise KeyboardInterrupt  # the copy dies between write and rename

    monkeypatch.setattr(os, "fsync", killed)
    with pytest.raises(KeyboardInterrupt):
        modelstore.install(b, store)
    assert [p.name for p in store.iterdir()] == [pa.name] and pa.read_bytes() == before


def test_pinned_model_is_refused_once_its_bytes_change(tmp_path, two_models):
    a, b = two_models
    stored, sha = modelstore.install(a, tmp_path / "store")
    assert modelstore.load_pinned(stored, sha).trained
    stored.write_bytes(b.read_bytes())  # e.g. `fuiqa train --out <store folder>` replaced it
    with pytest.raises(modelpack.ModelError, match="changed since it was made active"):
        modelstore.load_pinned(stored, sha)


def test_corrupt_files_in_the_store_are_listed_as_broken(tmp_path, two_models):
    a, _ = two_models
    store = tmp_path / "store"
    good, _ = modelstore.install(a, store)
    (store / "junk.fuiqa").write_bytes(b"PK\x03\x04" + os.urandom(500))
    raw = bytearray(a.read_bytes())
    raw[60] ^= 0x55  # inside the deflated metadata
    (store / "flipped.fuiqa").write_bytes(bytes(raw))
    entries = {os.path.basename(e["path"]): e for e in modelstore.scan(store)}
    assert len(entries) == 3 and not entries[good.name]["broken"]
    assert entries["junk.fuiqa"]["broken"] and "junk.fuiqa" in entries["junk.fuiqa"]["error"]
    assert entries["flipped.fuiqa"]["broken"]


# ----------------------------------------------------------------------------- GUI side (settings)


@pytest.fixture
def settings(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("FUIQA_SETTINGS", str(tmp_path / "settings.ini"))
    monkeypatch.setenv("FUIQA_DATA_DIR", str(tmp_path / "data"))
    from app.settings import Settings

    return Settings()


def test_activate_copies_into_the_store_and_pins(settings, two_models, tmp_path):
    from app.models import activate, check_active

    a, b = two_models
    outside = tmp_path / "run" / "model.fuiqa"
    outside.parent.mkdir()
    outside.write_bytes(a.read_bytes())
    new = activate(settings, str(outside))
    assert os.path.dirname(new) == str(settings.models_dir()) and settings.get("scoring/model") == new
    assert settings.get("scoring/model_sha256") == modelstore.file_sha256(outside)
    outside.write_bytes(b.read_bytes())  # a new training run into the old folder: the active one is untouched
    check_active(settings, new)
    with open(new, "r+b") as f:  # but a change to the stored file itself is caught at load
        f.seek(100)
        f.write(b"\0" * 8)
    with pytest.raises(modelpack.ModelError, match="changed since it was made active"):
        check_active(settings, new)


def test_model_manager_opens_with_a_corrupt_file_in_the_store(qtbot, settings, two_models):
    from app.models import ModelManager

    a, _ = two_models
    store = settings.models_dir()
    _renamed(a, store / "odd.fuiqa", "odd")
    with zipfile.ZipFile(store / "odd.fuiqa") as z:
        meta = json.loads(z.read("meta.json"))
    meta["metrics"] = {"srcc": "high"}  # loads, but its metrics are not numbers
    with zipfile.ZipFile(store / "odd.fuiqa") as zi, zipfile.ZipFile(store / "odd2.fuiqa", "w") as zo:
        for n in zi.namelist():
            zo.writestr(n, json.dumps(meta) if n == "meta.json" else zi.read(n))
    (store / "junk.fuiqa").write_bytes(b"not a zip")
    mm = ModelManager(settings)
    qtbot.addWidget(mm)
    names = {os.path.basename(m["path"]): m for m in mm.models}
    assert names["junk.fuiqa"]["broken"] and not names["odd.fuiqa"]["broken"]
    assert mm.table.rowCount() == len(mm.models) == 4  # default + odd + odd2 + junk


def test_recent_files_can_be_switched_off_and_cleared(settings):
    settings.add_recent("/scans/Doe_Jane.dcm")
    assert settings.recent() == ["/scans/Doe_Jane.dcm"]
    settings.clear_recent()
    assert settings.recent() == []
    settings.add_recent("/scans/a.dcm")
    settings.set_recent_enabled(False)
    assert settings.recent() == []
    settings.add_recent("/scans/b.dcm")
    assert settings.recent() == []
    text = open(os.environ["FUIQA_SETTINGS"]).read()
    assert "Doe_Jane" not in text and "b.dcm" not in text
