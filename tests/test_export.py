import json

from click.testing import CliRunner

import halibench
from halibench.cli import cli


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
