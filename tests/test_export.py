import json
import shutil

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import tiny_benchmarks

import halibench
from halibench.cli import cli
from halibench.errors import CheckpointError


def test_train_export_card_and_figures(tiny_mnist_root, tmp_path, monkeypatch):
    shipped = tmp_path / "checkpoints"
    monkeypatch.setenv("HALIBENCH_CHECKPOINTS", str(shipped))
    runner = CliRunner()
    run = tmp_path / "run"
    trained = runner.invoke(cli, [
        "train", "hali", "--data-root", str(tiny_mnist_root), "--out", str(run), "--width",
        "0.25", "--steps", "3", "--batch-size", "20", "--train-range", "0:200",
        "--health-range", "200:300", "--health-every", "3", "--cycle-weight", "0.1"])
    assert trained.exit_code == 0, trained.output
    for dataset, fragment in (("cifar10", "was trained on 'mnist'; pass --dataset mnist"),
                              ("../../etc", "not a dataset halibench knows")):
        wrong = runner.invoke(cli, ["export", str(run), "--name", "tiny-hali", "--dataset",
                                    dataset, "--results", str(tmp_path / "results")])
        assert wrong.exit_code == 2 and fragment in wrong.output, wrong.output
    assert not shipped.exists()
    out = runner.invoke(cli, ["export", str(run), "--name", "tiny-hali", "--dataset", "mnist",
                              "--results", str(tmp_path / "results")])
    assert out.exit_code == 0, out.output
    index = json.loads((shipped / "index.json").read_text())["checkpoints"]
    assert index["tiny-hali"]["dataset"] == "mnist" and len(index["tiny-hali"]["sha256"]) == 64
    assert sorted(p.name for p in (shipped / "tiny-hali").iterdir()) == [
        "README.md", "config.json", "health.csv", "losses.csv", "model.safetensors"]
    card = (shipped / "tiny-hali" / "README.md").read_text()
    assert "Command: `halibench train hali " in card and " --batch-size 20 " in card
    assert " --cycle-weight 0.1 " in card and " --steps 3 " in card
    assert index["tiny-hali"]["sha256"] in card
    assert halibench.load("tiny-hali").levels == 2
    figs = runner.invoke(cli, ["figures", "tiny-hali", "--data-root", str(tiny_mnist_root),
                               "--results", str(tmp_path / "results")])
    assert figs.exit_code == 0, figs.output
    names = sorted(p.name for p in (tmp_path / "results" / "figures").glob("*.png"))
    assert names == ["tiny-hali-interpolations.png", "tiny-hali-reconstructions.png",
                     "tiny-hali-samples.png", "tiny-hali-training.png"]
    figs = runner.invoke(cli, ["figures", "tiny-hali", "--data-root", str(tiny_mnist_root),
                               "--results", str(tmp_path / "pdf"), "--format", "pdf", "--dpi",
                               "200"])
    assert figs.exit_code == 0, figs.output
    assert len(list((tmp_path / "pdf" / "figures").glob("tiny-hali-*.pdf"))) == 4
    before = {p.name: p.read_bytes() for p in (tmp_path / "results" / "figures").iterdir()}
    figs = runner.invoke(cli, ["figures", "tiny-hali", "--data-root", str(tiny_mnist_root),
                               "--results", str(tmp_path / "results"), "--rows", "0:12"])
    assert figs.exit_code == 0, figs.output  # other images: other names, nothing rewritten
    after = {p.name: p.read_bytes() for p in (tmp_path / "results" / "figures").iterdir()}
    assert {k: after[k] for k in before} == before
    assert sorted(set(after) - set(before)) == [
        f"tiny-hali-rows0-12-{k}.png" for k in ("interpolations", "reconstructions", "samples",
                                                "training")]

    # a card is never replaced by one that lists fewer results
    tiny_benchmarks(tmp_path, monkeypatch, labels="[2]")
    runner.invoke(cli, ["run", "mnist-semisup", "--model", "tiny-hali", "--probe", "knn",
                        "--data-root", str(tiny_mnist_root), "--results",
                        str(tmp_path / "results"), "--draws", "2"])
    with_rows = runner.invoke(cli, ["card", "tiny-hali", "--results", str(tmp_path / "results")])
    assert with_rows.exit_code == 0, with_rows.output
    before = (shipped / "tiny-hali" / "README.md").read_text()
    assert "| mnist-semisup | v1.2 | z1 | knn |" in before
    (tmp_path / "none").mkdir()
    empty = runner.invoke(cli, ["card", "tiny-hali", "--results", str(tmp_path / "none")])
    assert empty.exit_code == 2 and "pass --results with the records" in empty.output
    assert (shipped / "tiny-hali" / "README.md").read_text() == before
    missing = runner.invoke(cli, ["card", "tiny-hali", "--results", str(tmp_path / "nope"),
                                  "--out", str(tmp_path / "card.md")])
    assert missing.exit_code == 2 and "no such folder" in missing.output
    assert not (tmp_path / "card.md").exists()
    elsewhere = runner.invoke(cli, ["card", "tiny-hali", "--results", str(tmp_path / "none"),
                                    "--out", str(tmp_path / "card.md")])
    assert elsewhere.exit_code == 0 and "None recorded yet" in (tmp_path / "card.md").read_text()
    (shipped / "tiny-hali" / "config.json").write_text("{not json")
    damaged = runner.invoke(cli, ["card", "tiny-hali", "--results", str(tmp_path / "results")])
    assert damaged.exit_code == 2 and damaged.output.count("\n") == 1, damaged.output
    assert "config.json" in damaged.output


def test_a_shipped_name_without_its_full_checkpoint_uses_its_packaged_encoder(
        tiny_mnist_root, tmp_path, monkeypatch):
    """What `pip install` gives: no checkout, no download; features still work, identical."""
    shipped = tmp_path / "checkpoints"
    monkeypatch.setenv("HALIBENCH_CHECKPOINTS", str(shipped))
    monkeypatch.delenv("HALIBENCH_CHECKPOINT_URL", raising=False)
    runner = CliRunner()
    run = tmp_path / "run"
    assert runner.invoke(cli, [
        "train", "ali", "--data-root", str(tiny_mnist_root), "--out", str(run), "--width",
        "0.25", "--steps", "2", "--batch-size", "20", "--train-range", "0:200",
        "--health-range", "200:300"]).exit_code == 0
    assert runner.invoke(cli, ["export", str(run), "--name", "tiny-ali", "--dataset",
                               "mnist", "--results", str(tmp_path / "r")]).exit_code == 0
    entry = json.loads((shipped / "index.json").read_text())["checkpoints"]["tiny-ali"]
    encoder = shipped / "encoders" / "tiny-ali.safetensors"
    assert encoder.stat().st_size < (shipped / "tiny-ali" / "model.safetensors").stat().st_size
    images = (torch.rand(5, 1, 28, 28) * 255).to(torch.uint8)
    full = halibench.extract_features("tiny-ali", images)

    shutil.rmtree(shipped / "tiny-ali")  # only the packaged encoder is left
    model = halibench.load("tiny-ali")
    assert model.encoder_only
    only = halibench.extract_features("tiny-ali", images)
    assert np.array_equal(full["z1"], only["z1"])
    with pytest.raises(CheckpointError, match="only its encoder is installed"):
        model.sample(2)
    figs = runner.invoke(cli, ["figures", "tiny-ali", "--data-root", str(tiny_mnist_root),
                               "--results", str(tmp_path / "r")])
    assert figs.exit_code == 2 and "HALIBENCH_CHECKPOINT_URL" in figs.output

    encoder.write_bytes(encoder.read_bytes()[:-8] + b"\0" * 8)  # damaged package data
    with pytest.raises(CheckpointError, match="does not match the index"):
        halibench.load("tiny-ali")
    assert entry["encoder_sha256"]


def test_a_card_lists_each_setting_once_under_the_shipped_name():
    """Records of one checkpoint scored as its run folder and as its shipped name."""
    import pandas as pd

    from halibench.models.export import one_per_setting

    setting = {"benchmark": "mnist-semisup", "protocol_version": "1.2", "protocol_sha256": "s",
               "checkpoint_sha256": "c", "level": "z1", "probe": "l2svm", "labels": 100,
               "full": False, "n_draws": 10, "official_data": True}
    rows = pd.DataFrame([setting | {"model": "run-s2", "mean": 1.0},
                         setting | {"model": "shipped", "mean": 2.0},
                         setting | {"model": "run-s2", "level": "z2", "mean": 3.0}])
    kept = one_per_setting(rows, "shipped")
    assert list(zip(kept["model"], kept["level"], kept["mean"], strict=True)) == [
        ("shipped", "z1", 2.0), ("run-s2", "z2", 3.0)]


def test_a_card_names_a_learning_rate_decay_only_when_there_was_one():
    from halibench.models.export import decay_words

    assert decay_words({"lr_decay": 1500}) == ", decayed linearly over the last 1500 steps,"
    assert decay_words({"lr_decay": 0}) == decay_words({}) == ""


def test_a_card_says_when_its_weights_are_an_average():
    from halibench.models.export import averaging_words

    assert averaging_words({"weight_average": 0.999}) == (
        "; the weights are an exponential moving average of the trained ones (decay "
        "min(0.999, (1+n)/(10+n)) at update n; the health log probes the trained weights)")
    assert averaging_words({"weight_average": 0.0}) == averaging_words({}) == ""


def test_a_card_says_which_of_tied_validation_scores_it_ships():
    import pandas as pd

    from halibench.models.export import stopping_lines

    validation = pd.DataFrame({"step": [250, 500, 750], "score": [58.0, 56.3, 56.3],
                               "protocol": "cifar10-recipe-validation 1.0"})
    tied, = stopping_lines({"step": 500}, validation)
    assert tied.startswith("- Chosen on validation: `cifar10-recipe-validation 1.0`")
    assert tied.endswith("step 500 (56.3), the best of 3 scores up to step 750, "
                         "the earliest of 2 equal scores")
    alone, = stopping_lines({"step": 500}, validation.assign(score=[58.0, 56.3, 57.0]))
    assert alone.endswith("the best of 3 scores up to step 750")
