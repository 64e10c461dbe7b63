"""Shipped checkpoints resolve from a folder, the checkout, or a verified download."""

from __future__ import annotations

import shutil

import pytest

import halibench
from halibench.errors import CheckpointError
from halibench.models.checkpoints import load_named
from halibench.models.hub import checkout_folder, read_index, shipped_folder

NAME = "ali-mnist"


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """As an installed package sees it: no checkout, an empty user cache."""
    monkeypatch.setattr("halibench.models.hub.checkout_folder", lambda: tmp_path / "no-checkout")
    monkeypatch.setenv("HALIBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("HALIBENCH_CHECKPOINTS", raising=False)
    return tmp_path


def test_a_shipped_name_downloads_once_verified(elsewhere, monkeypatch):
    monkeypatch.setenv("HALIBENCH_CHECKPOINT_URL", checkout_folder().as_uri())
    entry = read_index()[NAME]
    folder = shipped_folder(NAME, entry)
    assert folder == elsewhere / "home" / "checkpoints" / NAME
    assert halibench.load(NAME).levels == 1
    monkeypatch.setenv("HALIBENCH_CHECKPOINT_URL", "file:///nowhere")  # cached: no download
    assert shipped_folder(NAME, entry) == folder


def test_a_download_that_does_not_match_the_index_is_not_kept(elsewhere, monkeypatch):
    mirror = elsewhere / "mirror"
    shutil.copytree(checkout_folder() / NAME, mirror / NAME)
    (mirror / NAME / "model.safetensors").write_bytes(b"tampered")
    monkeypatch.setenv("HALIBENCH_CHECKPOINT_URL", mirror.as_uri())
    with pytest.raises(CheckpointError, match="sha256 does not match the index"):
        shipped_folder(NAME, read_index()[NAME])
    assert not (elsewhere / "home" / "checkpoints" / NAME / "model.safetensors").exists()


def test_without_a_copy_or_an_address_the_error_says_what_to_set(elsewhere, monkeypatch):
    monkeypatch.delenv("HALIBENCH_CHECKPOINT_URL", raising=False)
    with pytest.raises(CheckpointError, match="set HALIBENCH_CHECKPOINTS .* or "
                                              "HALIBENCH_CHECKPOINT_URL"):
        load_named(NAME, decoders=True)


def test_without_a_copy_the_packaged_encoder_still_gives_features(elsewhere, monkeypatch):
    monkeypatch.delenv("HALIBENCH_CHECKPOINT_URL", raising=False)
    model = halibench.load(NAME)
    assert model.levels == 1
    assert not (elsewhere / "home" / "checkpoints" / NAME).exists()


def test_a_folder_of_checkpoints_is_found_without_its_own_index(elsewhere, monkeypatch):
    shutil.copytree(checkout_folder() / NAME, elsewhere / "copy" / NAME)
    monkeypatch.setenv("HALIBENCH_CHECKPOINTS", str(elsewhere / "copy"))
    assert shipped_folder(NAME, read_index()[NAME]) == elsewhere / "copy" / NAME


def test_an_installed_package_skips_own_classifier_rows_and_says_so(elsewhere, monkeypatch):
    """The own classifier is the discriminator, which the packaged encoder lacks: regress
    says the row needs the full checkpoint instead of failing; with an address it runs."""
    import pandas as pd

    from halibench.evaluation import regress as regress_module
    from halibench.models.hub import full_copy_reachable

    monkeypatch.delenv("HALIBENCH_CHECKPOINT_URL", raising=False)
    assert not full_copy_reachable("hali-mnist-semisup") and full_copy_reachable("runs/mine")
    expected = pd.DataFrame([{"benchmark": "mnist-semisup-own", "model": "hali-mnist-semisup",
                              "level": "classifier", "probe": "own", "labels_per_class": "10",
                              "draws": 1, "expected": 3.22, "tolerance": 0.1,
                              "published_model": "", "beats_published": False}])
    monkeypatch.setattr(regress_module.benchmark, "run", lambda *a, **k: pytest.fail("ran"))
    (row,) = regress_module.regress(expected, elsewhere).to_dict("records")
    assert row["status"].startswith("skipped: needs the full checkpoint") and not row["ok"]
    assert "HALIBENCH_CHECKPOINT_URL" in row["status"] and row["within_tolerance"] is None
    monkeypatch.setenv("HALIBENCH_CHECKPOINT_URL", checkout_folder().as_uri())
    assert full_copy_reachable("hali-mnist-semisup")
    monkeypatch.delenv("HALIBENCH_CHECKPOINT_URL")
    from click.testing import CliRunner

    from halibench.cli import cli

    rows = elsewhere / "expected.csv"
    expected.to_csv(rows, index=False)
    out = CliRunner().invoke(cli, ["regress", "--expected", str(rows), "--csv",
                                   str(elsewhere / "out.csv"), "--data-root", str(elsewhere)])
    assert out.exit_code == 0, out.output
    assert "| own | — | — | 3.22 | — | — |" in out.output and "no row ran; 1 skipped" in out.output
    written = pd.read_csv(elsewhere / "out.csv")
    assert written["labels"].isna().all() and written["status"].str.startswith("skipped").all()
