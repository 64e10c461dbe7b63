"""The catalogue of inputs that once gave wrong or lost results without an error.

Each test reproduces one case; together they keep the catalogue fixed."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import idx_bytes, write_idx_dataset
from data_fixtures import write_celeba
from test_harness import tiny_benchmarks
from test_train import tiny_config, tiny_data

from halibench.cli import cli
from halibench.cli.common import command_line
from halibench.data import get_dataset, load
from halibench.data.cache import prepared_dir
from halibench.errors import DatasetError
from halibench.features.cache import feature_dir
from halibench.models import build_model, preset
from halibench.models.checkpoints import CONFIG_FILE, MODEL_FILE, read_index, save_checkpoint
from halibench.report.results import write_leaderboard, write_record
from halibench.training.trainer import Trainer

REPO = Path(__file__).resolve().parents[1]


def one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and result.output.startswith("error: ")
    for fragment in fragments:
        assert fragment in result.output


def run_args(root: Path, results: Path, *extra: str) -> list[str]:
    return ["run", "mnist-semisup", "--data-root", str(root), "--results", str(results),
            "--draws", "1", "--probe", "knn", *extra]


def records_in(results: Path) -> list[dict]:
    records = [json.loads(p.read_text()) for p in (results / "runs").glob("*.json")]
    return sorted(records, key=lambda r: r["created"])


# 1. The feature cache is keyed by the data's content.
def test_changed_data_under_the_same_names_is_not_served_from_the_cache(tmp_path, monkeypatch):
    tiny_benchmarks(tmp_path, monkeypatch, labels="[2]")
    real = tmp_path / "real"
    write_idx_dataset(real / "mnist", gz=False)
    inverted = tmp_path / "inverted"
    shutil.copytree(real, inverted)
    test_images = inverted / "mnist" / "t10k-images-idx3-ubyte"
    raw = np.frombuffer(test_images.read_bytes()[16:], dtype=np.uint8).reshape(-1, 28, 28)
    test_images.write_bytes(idx_bytes(255 - raw))
    results = tmp_path / "results"
    runner = CliRunner()
    for root in (real, inverted):
        assert runner.invoke(cli, run_args(root, results, "--model", "raw-pixels")).exit_code == 0
    first, second = records_in(results)
    assert first["data"]["test"] != second["data"]["test"]
    assert first["data"]["pool"] == second["data"]["pool"]
    fresh = runner.invoke(cli, run_args(inverted, tmp_path / "r2", "--model", "raw-pixels",
                                        "--no-cache"))
    assert fresh.exit_code == 0
    assert records_in(tmp_path / "r2")[0]["mean"] == second["mean"] != first["mean"]


# 2. Records are committed data; the leaderboard is a pure function of them.
def test_result_records_are_not_ignored_by_git():
    if not (REPO / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout")
    probe = subprocess.run(["git", "check-ignore", "-q", "results/runs/x.json"], cwd=REPO)
    assert probe.returncode == 1, "results/runs/ is ignored: records would never be committed"


def test_the_committed_leaderboard_is_rebuilt_byte_identical_from_the_records(tmp_path):
    committed = REPO / "results"
    if not list((committed / "runs").glob("*.json")):
        pytest.skip("no committed records")
    shutil.copytree(committed / "runs", tmp_path / "runs")
    md, csv = write_leaderboard(tmp_path)
    assert md.read_bytes() == (committed / "leaderboard.md").read_bytes()
    assert csv.read_bytes() == (committed / "leaderboard.csv").read_bytes()


# 3. A local model under a shipped name is its own row.
def test_different_weights_under_one_name_are_different_rows(tmp_path):
    base = {"benchmark": "b", "protocol_version": "1", "model": "hali-mnist", "level": "z1",
            "probe": "l2svm", "labels": 100, "full": False, "metric": "error", "std": 0.0,
            "representation": "mean", "backend": "torch"}
    write_record(tmp_path, {**base, "checkpoint_sha256": "a" * 64, "mean": 29.55,
                            "draws": [{"test": 29.55}]})
    write_record(tmp_path, {**base, "checkpoint_sha256": "b" * 64, "mean": 32.51,
                            "draws": [{"test": 32.51}]})
    text = write_leaderboard(tmp_path)[0].read_text()
    assert "29.55" in text and "32.51" in text
    assert "aaaaaaaaaaaa" in text and "bbbbbbbbbbbb" in text


# 4. Recorded training commands rerun.
@pytest.mark.parametrize("name", sorted(read_index()))
def test_every_shipped_training_command_parses_with_the_real_cli(name):
    config = json.loads((REPO / "checkpoints" / name / CONFIG_FILE).read_text())
    words = shlex.split(config["command"])
    assert words[:2] == ["halibench", "train"]
    train = cli.commands["train"]
    ctx = train.make_context("train", words[2:])  # raises on an unknown option
    assert ctx.params["kind"] == config["model"]["kind"]


def test_a_resume_through_the_cli_records_only_what_was_typed(tiny_mnist_root, tmp_path):
    run = tmp_path / "run"
    common = ["--data-root", str(tiny_mnist_root), "--out", str(run)]
    first = CliRunner().invoke(cli, ["train", "ali", "--width", "0.25", "--steps", "2",
                                     "--batch-size", "20", "--train-range", "0:200",
                                     "--health-range", "200:300", *common])
    assert first.exit_code == 0, first.output
    again = CliRunner().invoke(cli, ["train", "ali", "--steps", "3", "--resume", *common])
    assert again.exit_code == 0, again.output
    config = json.loads((run / "step-00000003" / CONFIG_FILE).read_text())
    assert " --train-range 0:200 " in config["command"]
    (resumed,) = config["resumes"]
    assert resumed.startswith("halibench train ali ") and "--train-range" not in resumed
    assert "--steps 3" in resumed and "--resume" in resumed


def test_recorded_command_uses_the_options_real_names():
    train = cli.commands["train"]
    parent = cli.make_context("halibench", ["train"])
    ctx = train.make_context("train", ["hali", "--split", "present", "--spectral-norm"],
                             parent=parent)
    words = shlex.split(command_line(ctx, ("kind",)))
    assert words[:3] == ["halibench", "train", "hali"]
    assert "--split" in words and "--split-name" not in words and "--spectral-norm" in words
    train.make_context("train", words[2:])


def tiny_run(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    Trainer(preset("hali", "28px", width=0.25), tiny_config(steps=3), run, tiny_data(),
            command="halibench train hali --steps 3").fit()
    return run


def test_a_resume_keeps_the_original_command_and_records_itself(tmp_path):
    run = tiny_run(tmp_path)
    Trainer(preset("hali", "28px", width=0.25), tiny_config(steps=6), run, tiny_data(),
            resume=True, command="halibench train hali --steps 6 --resume").fit()
    config = json.loads((run / (run / "latest").read_text().strip() / CONFIG_FILE).read_text())
    assert config["command"] == "halibench train hali --steps 3"
    assert config["resumes"] == ["halibench train hali --steps 6 --resume"]


# 5. --resume refuses another kind, architecture or data range.
@pytest.mark.parametrize("args, named", [
    (["bigan"], "KIND 'hali'"),
    (["hali", "--train-range", "0:1000"], "--train-range [0, 80]"),
    (["hali", "--width", "1.0"], "--width 0.25"),
])
def test_resume_refuses_a_different_run(tmp_path, args, named):
    run = tiny_run(tmp_path)
    result = CliRunner().invoke(cli, ["train", *args, "--resume", "--out", str(run)])
    one_line_error(result, named, "--resume")


# 6. A failed decode elsewhere keeps the good prepared cache.
def test_a_bad_data_root_does_not_delete_the_good_prepared_cache(tmp_path):
    good, bad = tmp_path / "good", tmp_path / "bad"
    write_idx_dataset(good / "mnist", gz=False)
    write_idx_dataset(bad / "mnist", gz=False, seed=5)
    labels = bad / "mnist" / "t10k-labels-idx1-ubyte"
    data = bytearray(labels.read_bytes())
    data[-1] = 10
    labels.write_bytes(bytes(data))
    load("mnist", "test", good)
    kept = sorted(prepared_dir(get_dataset("mnist")).glob("test-*.npy"))
    with pytest.raises(DatasetError, match="out of range"):
        load("mnist", "test", bad)
    assert all(p.is_file() for p in kept) and len(kept) == 2


# 7. The system's refusals are one-line errors too.
def test_an_unreadable_source_is_a_one_line_error(tiny_mnist_root, tmp_path, monkeypatch):
    def refuse(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("halibench.data.cache.file_digests", refuse)
    result = CliRunner().invoke(cli, ["data", "info", "mnist", "--data-root",
                                      str(tiny_mnist_root)])
    one_line_error(result, "Permission denied", "train-images-idx3-ubyte")


def test_an_unwritable_cache_is_a_one_line_error(tiny_mnist_root, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("HALIBENCH_CACHE", str(blocker / "cache"))
    result = CliRunner().invoke(cli, ["data", "info", "mnist", "--data-root",
                                      str(tiny_mnist_root)])
    one_line_error(result, str(blocker))


@pytest.fixture
def checkpoint(tmp_path) -> Path:
    torch.manual_seed(0)
    return save_checkpoint(tmp_path / "ckpt", build_model(preset("hali", "28px", width=0.25)),
                           {"step": 0})


@pytest.mark.parametrize("edit, fragment", [
    (lambda c: [1, 2], "holds a JSON list"),
    (lambda c: {**c, "sha256": "abc"}, "'sha256' must map"),
    (lambda c: {**c, "sha256": {MODEL_FILE: "abc"}}, "64 hex digits"),
    (lambda c: {**c, "model": {**c["model"], "kind": "foo"}}, "unknown kind 'foo'"),
])
def test_a_bad_checkpoint_config_is_a_one_line_error(checkpoint, tiny_mnist_root, tmp_path,
                                                     monkeypatch, edit, fragment):
    tiny_benchmarks(tmp_path, monkeypatch, labels="[2]")
    path = checkpoint / CONFIG_FILE
    path.write_text(json.dumps(edit(json.loads(path.read_text()))))
    result = CliRunner().invoke(cli, run_args(tiny_mnist_root, tmp_path / "results",
                                              "--model", str(checkpoint)))
    one_line_error(result, fragment)
    assert not (tmp_path / "results" / "runs").exists()


# 8. Checks check what they name.
def test_verify_reads_an_uncompressed_copy_and_finds_it_truncated(tiny_mnist_root):
    images = tiny_mnist_root / "mnist" / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-100])
    result = CliRunner().invoke(cli, ["data", "verify", "mnist", "--data-root",
                                      str(tiny_mnist_root)])
    one_line_error(result, "train-images-idx3-ubyte", "truncated")


def test_verify_says_what_it_checked_of_an_uncompressed_copy(tiny_mnist_root):
    result = CliRunner().invoke(cli, ["data", "verify", "mnist", "--data-root",
                                      str(tiny_mnist_root)])
    assert result.exit_code == 0
    assert "train-images-idx3-ubyte: ok: no official checksum" in result.output
    assert ".gz" not in result.output


@pytest.mark.parametrize("header_edit, fragment", [
    (lambda names: ["Mustache" if n == "Male" else n for n in names], "'Mustache'"),
    (lambda names: ["Male" if n == "Young" else n for n in names], "'Male'"),
])
def test_celeba_header_must_be_the_official_names_in_order(tmp_path, header_edit, fragment):
    write_celeba(tmp_path / "celeba", n=12, images=0)
    path = tmp_path / "celeba" / "list_attr_celeba.txt"
    lines = path.read_bytes().split(b"\r\n")
    lines[1] = " ".join(header_edit(lines[1].decode().split())).encode() + b" "
    path.write_bytes(b"\r\n".join(lines))
    ds = get_dataset("celeba")
    ds._annotations.clear()
    with pytest.raises(DatasetError, match=f"header column .* is {fragment}"):
        ds.annotations(tmp_path / "celeba")


def test_celeba_partition_with_a_duplicated_id_is_refused(tmp_path):
    write_celeba(tmp_path / "celeba", n=12, images=0)
    path = tmp_path / "celeba" / "list_eval_partition.txt"
    text = path.read_text()
    path.write_text(text + "000001.jpg 2\n")
    ds = get_dataset("celeba")
    ds._annotations.clear()
    with pytest.raises(DatasetError, match="000001.jpg appears twice"):
        ds.annotations(tmp_path / "celeba")


def test_a_level_a_baseline_does_not_have_is_refused(tiny_mnist_root, tmp_path, monkeypatch):
    tiny_benchmarks(tmp_path, monkeypatch, labels="[2]")
    result = CliRunner().invoke(cli, run_args(tiny_mnist_root, tmp_path / "results",
                                              "--model", "raw-pixels", "--level", "z9"))
    one_line_error(result, "raw-pixels", "z9", "'pixels'")


def test_an_unknown_model_fails_before_any_record_is_written(tiny_mnist_root, tmp_path,
                                                             monkeypatch):
    tiny_benchmarks(tmp_path, monkeypatch, labels="[2]")
    result = CliRunner().invoke(cli, run_args(tiny_mnist_root, tmp_path / "results",
                                              "--model", "raw-pixels", "--model", "nosuch"))
    one_line_error(result, "unknown model 'nosuch'")
    assert not (tmp_path / "results" / "runs").exists()


# 9. Leftovers.
def test_a_killed_writers_temp_file_is_swept_by_the_next_run(tiny_mnist_root, tmp_path,
                                                             monkeypatch):
    tiny_benchmarks(tmp_path, monkeypatch, labels="[2]")
    feature_dir().mkdir(parents=True)
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = feature_dir() / f".raw-pixels-pixels-x.npy.pid{dead.pid}.abc.tmp"
    live = feature_dir() / f".raw-pixels-pixels-y.npy.pid{os.getpid()}.abc.tmp"
    stale.write_bytes(b"x" * 1000)
    live.write_bytes(b"x")
    args = run_args(tiny_mnist_root, tmp_path / "results", "--model", "raw-pixels")
    assert CliRunner().invoke(cli, args).exit_code == 0
    assert not stale.exists() and live.exists()
    stale.write_bytes(b"x")  # a rerun that finds its features cached sweeps too
    assert CliRunner().invoke(cli, args).exit_code == 0
    assert not stale.exists()


def test_ctrl_c_exits_130(tiny_mnist_root, tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("halibench.evaluation.benchmark.run", interrupted)
    result = CliRunner().invoke(cli, run_args(tiny_mnist_root, tmp_path / "results",
                                              "--model", "raw-pixels"))
    assert result.exit_code == 130 and "interrupted" in result.output


def test_checkpoint_files_share_one_mode(checkpoint):
    modes = {p.name: p.stat().st_mode & 0o777 for p in checkpoint.iterdir()}
    assert modes[MODEL_FILE] == modes[CONFIG_FILE], modes
