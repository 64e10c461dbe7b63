"""The catalogue of inputs that once gave wrong or lost results without an error.

Each test reproduces one case; together they keep the catalogue fixed."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
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
from halibench.errors import DatasetError, HalibenchError
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
    shutil.copytree(committed / "runs", tmp_path / "results" / "runs")
    md, csv = write_leaderboard(tmp_path / "results")
    # the header names the folder it was built from, not the path typed to it
    assert md.read_text() == (committed / "leaderboard.md").read_text()
    assert csv.read_bytes() == (committed / "leaderboard.csv").read_bytes()


# 3. A local model under a shipped name is its own row.
def test_different_weights_under_one_name_are_different_rows(tmp_path):
    base = {"benchmark": "b", "protocol_version": "1", "protocol_sha256": "c" * 64,
            "model": "hali-mnist", "level": "z1",
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


@pytest.mark.parametrize("section, key, value, named", [
    ("training", "updates", "both", "--updates 'both': give one of"),
    ("training", "cycle_weight", -1.0, "--cycle-weight -1.0: give a finite number >= 0"),
    ("model", "prior", "laplace", "--prior 'laplace': give one of"),
])
def test_a_resume_names_the_run_whose_stored_options_are_bad(tmp_path, section, key, value,
                                                             named):
    run = tiny_run(tmp_path)
    path = run / (run / "latest").read_text().strip() / CONFIG_FILE
    stored = json.loads(path.read_text())
    stored[section][key] = value
    path.write_text(json.dumps(stored))
    result = CliRunner().invoke(cli, ["train", "hali", "--steps", "6", "--resume", "--out",
                                      str(run)])
    one_line_error(result, str(run), named)


@pytest.mark.parametrize("option", ["--hidden-noise", "--instance-noise", "--lr"])
@pytest.mark.parametrize("value", ["nan", "inf"])
def test_a_non_finite_number_is_refused_before_anything_runs(tmp_path, option, value):
    result = CliRunner().invoke(cli, ["train", "ali", option, value, "--out",
                                      str(tmp_path / "run")])
    assert result.exit_code == 2 and f"{value!r} is not a finite number" in result.output
    assert option in result.output and not (tmp_path / "run").exists()


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
def test_verify_reads_an_uncompressed_copy_and_finds_it_truncated(tmp_path):
    write_idx_dataset(tmp_path / "fashion-mnist", gz=False)  # no checksum for its copies
    images = tmp_path / "fashion-mnist" / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-100])
    result = CliRunner().invoke(cli, ["data", "verify", "fashion-mnist", "--data-root",
                                      str(tmp_path)])
    one_line_error(result, "train-images-idx3-ubyte", "truncated")


def test_verify_says_what_it_checked_of_an_uncompressed_copy(tmp_path, tiny_mnist_root):
    write_idx_dataset(tmp_path / "fashion-mnist", gz=False)
    result = CliRunner().invoke(cli, ["data", "verify", "fashion-mnist", "--data-root",
                                      str(tmp_path)])
    assert result.exit_code == 0
    assert "train-images-idx3-ubyte: ok: no official checksum" in result.output
    assert ".gz" not in result.output
    # MNIST's copies have one: the md5 of the decompressed official file
    mnist = CliRunner().invoke(cli, ["data", "verify", "mnist", "--data-root",
                                     str(tiny_mnist_root)])
    one_line_error(mnist, "train-images-idx3-ubyte: MD5 ", "does not match the official "
                   "6bbc9ace898e44ae57da46a324031adb")


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


# ---- The hostile catalogue of issue 21: each class refused by one mechanism. ----

def evaluate_tiny(encoder, root: Path, results: Path, **options):
    import halibench

    return halibench.evaluate(encoder, "mnist-semisup", probes=["knn"], draws=1,
                              data_root=root, results_dir=results, **options)


def listing(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes: a before/after picture."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()} if folder.exists() else {}


# 21.1 export trusts no name and replaces nothing unasked.
@pytest.mark.parametrize("name, fragment", [
    ("", "--name: empty name"), ("../victim", "contains '..'"), ("a/b", "path separator"),
    ("x\ny", "must start with a letter or digit and hold only")])
def test_export_refuses_a_name_that_is_not_one_safe_folder_name(checkpoint, tmp_path,
                                                                 monkeypatch, name, fragment):
    shipped = tmp_path / "checkpoints"
    (shipped / "keep").mkdir(parents=True)
    (shipped / "keep" / "weights").write_text("mine")
    (tmp_path / "victim").mkdir()
    (tmp_path / "victim" / "data").write_text("theirs")
    monkeypatch.setenv("HALIBENCH_CHECKPOINTS", str(shipped))
    before = listing(tmp_path)
    result = CliRunner().invoke(cli, ["export", str(checkpoint), "--name", name, "--dataset",
                                      "mnist", "--results", str(tmp_path / "results")])
    one_line_error(result, fragment)
    assert listing(tmp_path) == before


def test_export_refuses_an_existing_name_unless_told_to_replace(checkpoint, tmp_path,
                                                                 monkeypatch):
    shipped = tmp_path / "checkpoints"
    monkeypatch.setenv("HALIBENCH_CHECKPOINTS", str(shipped))
    args = ["export", str(checkpoint), "--name", "my-ali", "--dataset", "mnist",
            "--results", str(tmp_path / "results")]
    one_line_error(CliRunner().invoke(cli, [*args[:3], "ali-mnist", *args[4:]]),
                   "'ali-mnist'", "already holds ali")  # a shipped name is taken too
    assert CliRunner().invoke(cli, args).exit_code == 0
    before = listing(shipped)
    one_line_error(CliRunner().invoke(cli, args), "'my-ali'", "already holds hali",
                   "--replace")
    assert listing(shipped) == before
    assert CliRunner().invoke(cli, [*args, "--replace"]).exit_code == 0
    assert sorted(p.name for p in shipped.iterdir()) == ["encoders", "index.json", "my-ali"]
    assert sorted(p.name for p in (shipped / "encoders").iterdir()) == ["my-ali.json",
                                                                        "my-ali.safetensors"]
    assert "ali-mnist" in read_index()  # the private index keeps the shipped names
    one_line_error(CliRunner().invoke(cli, ["export", str(shipped / "my-ali"), "--name",
                                            "my-ali", "--replace", "--dataset", "mnist"]),
                   "is that checkpoint itself")
    one_line_error(CliRunner().invoke(cli, [*args[:3], "CON:1", *args[4:]]), "import string")


# 21.2 One output contract for every encoder output.
def rows_half(x):
    return x.flatten(1)[: len(x) // 2]


def rows_double(x):
    return torch.cat([x.flatten(1), x.flatten(1)])


def transposed(x):
    return x.flatten(1)[:, :5].T


def nan_column(x):
    f = x.flatten(1)[:, :8].clone()
    f[:, 3] = float("nan")
    return f


def inf_value(x):
    f = x.flatten(1)[:, :8].clone()
    f[-1, 0] = float("inf")
    return f


def all_nan(x):
    return torch.full((len(x), 4), float("nan"))


def colliding_levels(x):
    return {1: x.flatten(1)[:, :4], "1": x.flatten(1)[:, 4:8]}


def a_tuple(x):
    return x.flatten(1), x.flatten(1)


def path_level(x):
    return {"../up": x.flatten(1)}


def complex_output(x):
    return torch.fft.fft2(x).flatten(1)[:, :8]


def batch_centred(x):  # batch statistics: an image's features depend on its batch
    f = x.flatten(1)[:, :8]
    return f - f.mean(0)


def sampled(x):  # a sample, not a mean: different on every call
    return x.flatten(1)[:, :8] + torch.randn(len(x), 8)


def sampled_beside_a_large_constant(x):  # the constant must not hide the sample
    sample = x.flatten(1)[:, :8] / 255 + torch.randn(len(x), 8)
    return torch.cat([sample, torch.full((len(x), 1), 1e8)], 1)


def sampled_with_a_large_offset(x):  # nor an offset in the sampled feature itself
    return x.flatten(1)[:, :8] + 1e4 + torch.randn(len(x), 8)


@pytest.mark.parametrize("encoder, fragment", [
    (rows_half, "output of shape (1, 784) for a batch of 3 images"),
    (rows_double, "output of shape (6, 784) for a batch of 3 images"),
    (transposed, "output of shape (5, 3) for a batch of 3 images"),
    (nan_column, "NaN or inf values in 1 of 8 feature columns (first column 3)"),
    (inf_value, "NaN or inf values in 1 of 8 feature columns (first column 0)"),
    (all_nan, "12 NaN or inf values in 4 of 4"),
    (colliding_levels, "two outputs are both named '1'"),
    (a_tuple, "returned a tuple"),
    (path_level, "level name '../up'"),
    (complex_output, "output of dtype complex64; features must be real numbers"),
    (batch_centred, "must not depend on the rest of its batch or change between calls"),
    (sampled, "called twice get feature "),
    (sampled_beside_a_large_constant, "must not change between calls (return a mean, not a"),
    (sampled_with_a_large_offset, "must not change between calls (return a mean, not a"),
])
def test_an_output_that_breaks_the_contract_is_refused_before_anything_is_written(
        tiny_mnist_root, tmp_path, monkeypatch, encoder, fragment):
    from halibench.errors import HalibenchError

    tiny_benchmarks(tmp_path, monkeypatch, labels="[2]")
    with pytest.raises(HalibenchError) as caught:
        evaluate_tiny(encoder, tiny_mnist_root, tmp_path / "results")
    assert fragment in str(caught.value) and encoder.__name__ in str(caught.value)
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "results").exists() and not list(feature_dir().glob("*.npy"))


def test_the_repeat_check_allows_float_noise_in_a_tiny_sparse_feature():
    from halibench.features.user import check_repeatable

    whole = np.array([[0.0, 5.0], [2e-7, 1.0], [0.0, 3.0]], dtype=np.float32)
    again = whole.copy()
    again[1, 0] = 0.0  # GPU atomics can move a value this small
    check_repeatable("enc", "z", whole, again)
    again[0, 1] += 0.5  # a sampled feature: refused
    with pytest.raises(HalibenchError, match="called twice get feature 1"):
        check_repeatable("enc", "z", whole, again)
    with pytest.raises(HalibenchError, match="give 1 and 2 features"):
        check_repeatable("enc", "z", whole, whole[:, :1])


class FailsLate(torch.nn.Module):
    """Fine on the probe (four calls) and the pool and validation images (one batch each),
    wrong on the test images (the ``fail_on``-th call)."""

    def __init__(self, fail_on: int, wrong: str = "raise"):
        super().__init__()
        self.calls, self.fail_on, self.wrong = 0, fail_on, wrong

    def forward(self, x):
        self.calls += 1
        f = x.flatten(1)[:, :6]
        if self.calls == self.fail_on and self.wrong == "raise":
            raise RuntimeError("late\nfailure")
        if self.calls == self.fail_on and self.wrong == "nan":
            return f * float("nan")
        if self.calls == self.fail_on and self.wrong == "width":
            return x.flatten(1)[:, :7]
        return f


@pytest.mark.parametrize("wrong, fragment", [
    ("raise", "the encoder raised on rows 0:100 (a float32 batch of shape (100, 1, 28, 28)): "
              "RuntimeError: late failure (computing the test images' features)"),
    ("nan", "rows 0:100: 600 NaN or inf values"),
    ("width", "features per image differ between splits {'pool': 6, 'validation': 6, "
              "'test': 7}")])
def test_a_late_batch_that_fails_is_one_line_and_writes_nothing(
        tiny_mnist_root, tmp_path, monkeypatch, wrong, fragment):
    tiny_benchmarks(tmp_path, monkeypatch, labels="[2]")
    runner_args = ["--results", str(tmp_path / "results")]
    module = tmp_path / "late.py"
    module.write_text(f"import sys\nsys.path.insert(0, {str(Path(__file__).parent)!r})\n"
                      f"from test_bad_inputs import FailsLate\nenc = FailsLate(7, {wrong!r})\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(__import__("sys").modules, "late", raising=False)
    result = CliRunner().invoke(cli, [*run_args(tiny_mnist_root, tmp_path / "results",
                                                "--model", "late:enc"), *runner_args])
    one_line_error(result, "late:enc", fragment)
    assert not (tmp_path / "results" / "runs").exists()
    from halibench.features.cache import verified_entry

    assert all(verified_entry(p) is not None for p in feature_dir().glob("*.npy"))  # whole


def test_a_too_wide_output_is_refused_with_its_estimate_before_any_allocation(
        tiny_mnist_root, tmp_path, monkeypatch):
    tiny_benchmarks(tmp_path, monkeypatch, labels="[2]")
    monkeypatch.setenv("HALIBENCH_MAX_FEATURE_GB", "0.1")

    def wide(x):
        return x.flatten(1).repeat(1, 256)  # 200,704 features per image

    from halibench.errors import HalibenchError

    with pytest.raises(HalibenchError, match=r"200704 features per image x 400 images = 0\.3 "
                                             r"GB .* over the bound of 0\.1 GB"):
        evaluate_tiny(wide, tiny_mnist_root, tmp_path / "results", name="wide")
    assert not (tmp_path / "results").exists()


# 21.3 The identity of a user object is what determines its output.
def test_identity_sees_activations_non_persistent_buffers_and_estimator_params():
    import numpy as np
    from sklearn.decomposition import PCA

    from halibench.features.identity import object_identity

    torch.manual_seed(0)
    relu = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 8), torch.nn.ReLU())
    ident = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 8),
                                torch.nn.Identity())
    ident[1].load_state_dict(relu[1].state_dict())
    assert object_identity(relu) != object_identity(ident)

    class Scaled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("scale", torch.ones(1), persistent=False)

        def forward(self, x):
            return x.flatten(1) * self.scale

    scaled = Scaled()
    before = object_identity(scaled)
    scaled.scale.fill_(2.0)
    assert object_identity(scaled) != before

    data = np.random.default_rng(0).random((40, 784))
    plain, white = PCA(4).fit(data), PCA(4, whiten=True)
    vars(white).update({k: v for k, v in vars(plain).items() if k.endswith("_")})
    assert object_identity(plain) != object_identity(white)
    assert object_identity(lambda x: x) is None  # a function: no identity, never cached


def test_a_changed_activation_is_recomputed_not_served(tiny_mnist_root, tmp_path,
                                                       monkeypatch):
    tiny_benchmarks(tmp_path, monkeypatch, labels="[2]")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 16), torch.nn.ReLU())
    first = evaluate_tiny(net, tiny_mnist_root, tmp_path / "r1", name="enc")[0]
    net[2] = torch.nn.Tanh()
    served = evaluate_tiny(net, tiny_mnist_root, tmp_path / "r2", name="enc")[0]
    fresh = evaluate_tiny(net, tiny_mnist_root, tmp_path / "r3", name="enc", use_cache=False)[0]
    assert served["mean"] == fresh["mean"] and served["checkpoint_sha256"] != \
        first["checkpoint_sha256"]


# 21.4 BatchNorm encoders are evaluated and left bit-identical.
class TinyResNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1),
                                        torch.nn.BatchNorm2d(8), torch.nn.ReLU())
        self.block = torch.nn.Sequential(torch.nn.Conv2d(8, 8, 3, padding=1),
                                         torch.nn.BatchNorm2d(8))
        self.temperature = torch.nn.Parameter(torch.tensor(2.0))  # a 0-dim parameter
        self.pool = torch.nn.AdaptiveAvgPool2d(2)

    def forward(self, x):
        h = self.stem(x)
        return self.pool(torch.relu(h + self.block(h))).flatten(1) * self.temperature


def snapshot(module: torch.nn.Module):
    return ({k: v.clone() for k, v in module.state_dict().items()},
            [m.training for m in module.modules()])


def assert_unchanged(module, before):
    state, flags = snapshot(module)
    assert state.keys() == before[0].keys()
    assert all(torch.equal(state[k], before[0][k]) for k in state)
    assert flags == before[1]


def test_a_batchnorm_resnet_is_evaluated_and_left_exactly_as_it_was(tiny_mnist_root, tmp_path,
                                                                    monkeypatch):
    from halibench.errors import HalibenchError

    tiny_benchmarks(tmp_path, monkeypatch, labels="[2]")
    torch.manual_seed(0)
    net = TinyResNet().train()
    net.block.eval()  # mixed flags must come back as they were
    before = snapshot(net)
    (record,) = evaluate_tiny(net, tiny_mnist_root, tmp_path / "results")
    assert 0 <= record["mean"] <= 100 and record["model"] == "TinyResNet"
    assert record["feature_cache"] == "used" and len(record["checkpoint_sha256"]) == 64
    assert_unchanged(net, before)
    with pytest.raises(HalibenchError, match="unknown level"):
        evaluate_tiny(net, tiny_mnist_root, tmp_path / "results", levels=["z9"])
    assert_unchanged(net, before)


# 21.5 The leaderboard cannot be forged or polluted.
def valid_record(results: Path, *, sha: str, mean: float = 10.0, model: str = "m",
                 version: str = "1.1") -> Path:
    return write_record(results, {
        "benchmark": "mnist-semisup", "protocol_version": version, "protocol_sha256": sha,
        "model": model, "level": "z1", "probe": "l2svm", "labels": 100, "full": False,
        "metric": "error", "mean": mean, "std": 0.0, "draws": [{"draw": 0, "test": mean}],
        "checkpoint_sha256": "ab" * 32, "representation": "mean", "backend": "torch"})


def test_a_protocol_file_under_an_official_name_never_replaces_its_row(tmp_path):
    from halibench.report.results import official_protocols

    official = official_protocols()["mnist-semisup"]["1.1"]
    valid_record(tmp_path, sha=official, mean=20.0)
    valid_record(tmp_path, sha="f" * 64, mean=1.0)  # newer, same names, another file
    board = write_leaderboard(tmp_path)[0].read_text()
    assert "### 100 labels, l2svm" in board
    assert "| 2 | m | z1 | error | 20.00 | 1 (quick look) |" in board
    assert "| 1 | m (not the official protocol: sha256 ffffffffffff) | z1 | error | 1.00 |" \
        in board


def test_a_protocol_whose_roles_share_images_is_refused(tmp_path):
    from halibench.evaluation.protocols import load_protocol

    text = (REPO / "halibench/shipped/benchmarks/mnist-semisup.toml").read_text().replace(
        'pool = { split = "train", start = 0, stop = 50000 }',
        'pool = { split = "test", start = 0, stop = 10000 }')
    (tmp_path / "mnist-semisup.toml").write_text(text)
    with pytest.raises(Exception, match=r"pool rows 0:10000 and test rows 0:10000 of split "
                                         r"'test' overlap"):
        load_protocol(str(tmp_path / "mnist-semisup.toml"))


@pytest.mark.parametrize("edit, fragment", [
    (lambda r: {**r, "mean": 1.0}, "do not match its draws"),
    (lambda r: {**r, "std": 3.0}, "do not match its draws"),
    (lambda r: {**r, "created": "2999-01-01T00:00:00.000000Z"}, "lies in the future"),
    (lambda r: {**r, "created": r["created"].replace("T", "T0")}, "is not a UTC time"),
    (lambda r: {**r, "model": "other"}, "its name does not match its fields"),
    (lambda r: [r], "a JSON list, not a record"),
    (lambda r: {k: v for k, v in r.items() if k != "draws"}, "field 'draws' is missing"),
    (lambda r: {k: v for k, v in r.items() if k != "checkpoint_sha256"},
     "field 'checkpoint_sha256' is missing"),
    (lambda r: {**r, "model": "evil|name"}, "field 'model'"),
    (lambda r: {**r, "draws": [{"test": "NaN"}]}, "'draws' must be a non-empty list"),
    (lambda r: {**r, "metric": "Error"}, "'metric' 'Error' is not one of"),
])
def test_an_edited_or_damaged_record_stops_the_leaderboard_naming_its_file(tmp_path, edit,
                                                                           fragment):
    path = valid_record(tmp_path, sha="a" * 64)
    path.write_text(json.dumps(edit(json.loads(path.read_text()))))
    before = listing(tmp_path)
    result = CliRunner().invoke(cli, ["leaderboard", "--results", str(tmp_path)])
    one_line_error(result, path.name, fragment)
    assert listing(tmp_path) == before


def test_a_copied_record_renamed_into_the_future_is_refused(tmp_path):
    path = valid_record(tmp_path, sha="a" * 64)
    record = json.loads(path.read_text())
    record["created"] = "2999-01-01T00:00:00.000000Z"
    from halibench.report.record_schema import record_file_name

    (tmp_path / "runs" / record_file_name(record)).write_text(json.dumps(record))
    one_line_error(CliRunner().invoke(cli, ["leaderboard", "--results", str(tmp_path)]),
                   "29990101T000000", "lies in the future")


def test_a_record_that_is_not_utf8_is_one_line(tmp_path):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "x.json").write_bytes(b"\xff\xfe{")
    one_line_error(CliRunner().invoke(cli, ["leaderboard", "--results", str(tmp_path)]),
                   "x.json: not UTF-8 text")


# 21.6 Names never become a way out of their folder.
@pytest.mark.parametrize("name", ["lab/enc-v1", "../../../escaped-x", "", ".hidden"])
def test_a_name_that_is_not_a_file_name_is_refused(tiny_mnist_root, tmp_path, monkeypatch,
                                                   name):
    from halibench.errors import HalibenchError

    tiny_benchmarks(tmp_path, monkeypatch, labels="[2]")
    with pytest.raises(HalibenchError, match="encoder name"):
        evaluate_tiny(rows_half, tiny_mnist_root, tmp_path / "a" / "b" / "results", name=name)
    assert listing(tmp_path / "a") == {}


def test_unnamed_functions_are_named_apart(tiny_mnist_root, tmp_path, monkeypatch):
    from halibench.errors import HalibenchError

    tiny_benchmarks(tmp_path, monkeypatch, labels="[2]")

    def first(x):
        return x.flatten(1)[:, :10]

    def second(x):
        return x.flatten(1)[:, 10:20]

    a = evaluate_tiny(first, tiny_mnist_root, tmp_path / "r")[0]
    b = evaluate_tiny(second, tiny_mnist_root, tmp_path / "r")[0]
    assert (a["model"], b["model"]) == (
        "test_unnamed_functions_are_named_apart.first",
        "test_unnamed_functions_are_named_apart.second")
    assert a["feature_cache"].startswith("off: the source's identity cannot be established")
    with pytest.raises(HalibenchError, match="pass name="):
        evaluate_tiny(lambda x: x, tiny_mnist_root, tmp_path / "r")


# 21.7 Malformed protocol files are one line each.
@pytest.mark.parametrize("old, new, fragment", [
    ("labels_per_class = [10, 100]", "labels_per_class = [-5, 0]", "-5 is neither a count"),
    ("labels_per_class = [10, 100]", "labels_per_class = [0]", "0 is neither a count"),
    ("labels_per_class = [10, 100]", 'labels_per_class = ["ten"]', "'ten' is neither"),
    ("labels_per_class = [10, 100]", "labels_per_class = []", "a non-empty list"),
    ("draws = 10", "draws = 0", "draws: 0 is not an integer in 1..1000"),
    ("draws = 10", "draws = 1e9", "draws: 1000000000.0 is not an integer in 1..1000"),
    ("draws = 10", "draws = 100000000", "draws: 100000000 is not an integer in 1..1000"),
    ("count = 16", "count = 0", "log_c.count: 0 is not an integer"),
    ('pool = { split = "train", start = 0, stop = 50000 }', "", "missing ['pool']"),
    ("start = 50000, stop = 60000", "start = 60000, stop = 50000", "validation.stop: 50000"),
    ('probes = ["l2svm", "linear", "knn"]', 'probes = ["svm"]', "probes: ['svm']"),
    ('metric = "error"', 'metric = "errors"', "'errors' is not one of"),
    ('seed = 20180203', 'seed = 20180203\ndraw = 3', "unknown ['draw']"),
    ('name = "mnist-semisup"', 'name = "other"', "must be the file's name"),
])
def test_a_malformed_protocol_is_one_line_before_anything_runs(tiny_mnist_root, tmp_path,
                                                               old, new, fragment):
    text = (REPO / "halibench/shipped/benchmarks/mnist-semisup.toml").read_text()
    assert old in text
    path = tmp_path / "mnist-semisup.toml"
    path.write_text(text.replace(old, new))
    result = CliRunner().invoke(cli, ["run", str(path), "--model", "raw-pixels", "--data-root",
                                      str(tiny_mnist_root), "--results",
                                      str(tmp_path / "results")])
    one_line_error(result, str(path), fragment)
    assert not (tmp_path / "results").exists()


def test_too_many_draws_on_the_command_line_are_refused(tiny_mnist_root, tmp_path):
    result = CliRunner().invoke(cli, ["run", "mnist-semisup", "--model", "raw-pixels",
                                      "--draws", "100000000", "--data-root",
                                      str(tiny_mnist_root)])
    assert result.exit_code == 2 and "100000000 is not in the range 1<=x<=1000" in result.output


def test_every_shipped_protocol_is_listed_as_official():
    import hashlib

    from halibench.evaluation.protocols import list_protocols, load_protocol
    from halibench.report.results import official_protocols

    for name in list_protocols():
        protocol = load_protocol(name)
        path = REPO / "halibench/shipped/benchmarks" / f"{name}.toml"
        assert official_protocols()[name][protocol.version] == \
            hashlib.sha256(path.read_bytes()).hexdigest(), f"{name}: add its sha256"


# 21.8 Damaged state files are repaired or named.
def test_a_truncated_feature_cache_entry_is_recomputed_with_a_warning(
        tiny_mnist_root, tmp_path, monkeypatch, caplog):
    tiny_benchmarks(tmp_path, monkeypatch, labels="[2]")
    args = run_args(tiny_mnist_root, tmp_path / "results", "--model", "raw-pixels")
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0
    entries = sorted(feature_dir().glob("*.npy"))
    good = {p: p.read_bytes() for p in entries}
    for p in entries:
        p.write_bytes(good[p][: len(good[p]) // 2])
    again = CliRunner().invoke(cli, [*args, "--no-cache"])  # --no-cache repairs too
    assert again.exit_code == 0 and {p: p.read_bytes() for p in entries} == good
    entries[0].write_bytes(good[entries[0]][:100])
    with caplog.at_level("WARNING", logger="halibench"):
        third = CliRunner().invoke(cli, args)
    assert third.exit_code == 0
    assert f"damaged feature cache entry {entries[0]}" in caplog.text
    assert entries[0].read_bytes() == good[entries[0]]
    means = [r["mean"] for r in records_in(tmp_path / "results")]
    assert means[0] == means[1] == means[2]


def test_a_corrupt_record_stops_run_before_it_computes_or_writes(tiny_mnist_root, tmp_path,
                                                                 monkeypatch):
    tiny_benchmarks(tmp_path, monkeypatch, labels="[2]")
    (tmp_path / "results" / "runs").mkdir(parents=True)
    (tmp_path / "results" / "runs" / "bad.json").write_text("[1, 2]")
    before = listing(tmp_path / "results")
    result = CliRunner().invoke(cli, run_args(tiny_mnist_root, tmp_path / "results",
                                              "--model", "raw-pixels"))
    one_line_error(result, "bad.json: a JSON list, not a record")
    assert listing(tmp_path / "results") == before and not list(feature_dir().glob("*.npy"))


# 21.9 Errors come first and in one line.
@pytest.mark.parametrize("device, fragment", [
    ("banana", "--device 'banana': not a device"),
    ("cuda:x", "--device 'cuda:x': not a device")] + (
    [] if torch.cuda.is_available() else [("cuda", "use --device cpu")]))
def test_a_bad_device_is_one_line_before_any_feature(tiny_mnist_root, tmp_path, monkeypatch,
                                                     device, fragment):
    tiny_benchmarks(tmp_path, monkeypatch, labels="[2]")
    result = CliRunner().invoke(cli, run_args(tiny_mnist_root, tmp_path / "results",
                                              "--model", "raw-pixels", "--device", device))
    one_line_error(result, fragment)
    assert not (tmp_path / "results").exists() and not list(feature_dir().glob("*.npy"))


def test_an_unwritable_results_folder_is_reported_before_the_compute(tiny_mnist_root, tmp_path,
                                                                     monkeypatch):
    tiny_benchmarks(tmp_path, monkeypatch, labels="[2]")
    (tmp_path / "results").write_text("a file in the way")
    result = CliRunner().invoke(cli, run_args(tiny_mnist_root, tmp_path / "results",
                                              "--model", "raw-pixels"))
    one_line_error(result, "--results", "cannot write there")
    assert not list(feature_dir().glob("*.npy"))


@pytest.mark.parametrize("source, fragment", [
    ("raise ValueError('no GPU here')", "importing 'broken' raised ValueError: no GPU here"),
    ("def f(:\n    pass", "broken.py:1: SyntaxError"),
    ("import not_installed_dependency_xyz", "'broken' needs module "
                                            "'not_installed_dependency_xyz', which is not "
                                            "installed"),

    ("import sys\nsys.exit(0)", "importing 'broken' exited (SystemExit: 0); keep command-line "
                                "code under"),
])
def test_a_user_module_that_fails_at_import_is_one_line(tiny_mnist_root, tmp_path, monkeypatch,
                                                        source, fragment):
    tiny_benchmarks(tmp_path, monkeypatch, labels="[2]")
    (tmp_path / "broken.py").write_text(source + "\nenc = None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(__import__("sys").modules, "broken", raising=False)
    args = run_args(tiny_mnist_root, tmp_path / "results", "--model", "broken:enc")
    one_line_error(CliRunner().invoke(cli, args), "--model 'broken:enc'", fragment)
    debug = CliRunner().invoke(cli, ["--debug", *args])
    assert debug.exit_code != 0 and debug.exception is not None


def test_an_encoder_that_prints_does_not_break_json_output(tiny_mnist_root, tmp_path,
                                                           monkeypatch):
    tiny_benchmarks(tmp_path, monkeypatch, labels="[2]")
    (tmp_path / "chatty.py").write_text(
        "import torch\n\ndef enc(x):\n    print('batch', x.shape)\n"
        "    return x.flatten(1)[:, :10]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    result = CliRunner().invoke(cli, [
        *run_args(tiny_mnist_root, tmp_path / "results", "--model", "chatty:enc"), "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)[0]["model"] == "chatty:enc"
    assert "batch" in result.stderr


@pytest.mark.parametrize("spec, source, fragment", [
    ("./enc:enc", "enc = None", "'./enc' is not a module name; an import string names a module"),
    ("enc:torch.nn.Identity", "import torch", "'torch.nn.Identity' is a class; name an instance"),
    ("enc:enc", "import sys\ndef enc(x):\n    sys.exit(0)",
     "the encoder raised on rows 0:3 (a float32 batch of shape (3, 1, 28, 28)): SystemExit: 0"),
    ("code:enc", "", "the installed module 'code' ("),
])
def test_an_import_string_that_names_the_wrong_thing_is_one_line(
        tiny_mnist_root, tmp_path, monkeypatch, spec, source, fragment):
    tiny_benchmarks(tmp_path, monkeypatch, labels="[2]")
    (tmp_path / f"{spec.split(':')[0].lstrip('./')}.py").write_text(source + "\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the import adds the current folder
    monkeypatch.delitem(sys.modules, "enc", raising=False)
    args = run_args(tiny_mnist_root, tmp_path / "results", "--model", spec)
    one_line_error(CliRunner().invoke(cli, args), f"--model {spec!r}" if spec != "enc:enc"
                   else "enc:enc", fragment)
    assert not (tmp_path / "results").exists()


def test_the_current_folder_never_shadows_an_installed_package(tmp_path, monkeypatch):
    import importlib.util
    import sys

    from halibench.features.user import import_object

    (tmp_path / "skimage.py").write_text("raise ImportError('the local shadow')\n")
    (tmp_path / "localenc.py").write_text("enc = 1\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    monkeypatch.delitem(sys.modules, "localenc", raising=False)
    assert import_object("localenc:enc") == 1
    assert sys.path.index(str(tmp_path)) == len(sys.path) - 1
    assert str(tmp_path) not in importlib.util.find_spec("skimage").origin


# ---- Found by the hostile review of issue 21's first version. ----
def test_a_class_without_source_or_with_unnamed_fitted_state_is_identified_or_not_cached():
    import numpy as np
    from sklearn.base import BaseEstimator, TransformerMixin

    from halibench.features.identity import object_identity

    namespace: dict = {"__name__": "__main__", "torch": torch}
    exec("class Notebook(torch.nn.Module):\n    def forward(self, x):\n        return x\n",
         namespace)
    assert object_identity(namespace["Notebook"]()) is None  # no source file: never cached

    class Proj(BaseEstimator, TransformerMixin):
        def fit(self, x, y=None):
            self.W = np.ones((x.shape[1], 2))
            return self

        def transform(self, x):
            return x @ self.W

    proj = Proj().fit(np.zeros((3, 4)))
    before = object_identity(proj)
    proj.W[:] = 0
    assert before is not None and object_identity(proj) != before


def test_settings_the_pool_cannot_give_are_refused_before_extraction(tiny_mnist_root, tmp_path,
                                                                      monkeypatch):
    tiny_benchmarks(tmp_path, monkeypatch, labels="[500]")
    one_line_error(CliRunner().invoke(cli, run_args(tiny_mnist_root, tmp_path / "r", "--model",
                                                    "raw-pixels")), "labels_per_class [500]")
    (tmp_path / "b").mkdir()
    tiny_benchmarks(tmp_path / "b", monkeypatch, labels="[2]")
    toml = tmp_path / "b" / "benchmarks" / "mnist-semisup.toml"
    toml.write_text(toml.read_text().replace("n_neighbors = 1", "n_neighbors = 500"))
    one_line_error(CliRunner().invoke(cli, run_args(tiny_mnist_root, tmp_path / "r", "--model",
                                                    "raw-pixels")), "n_neighbors = 500 exceeds")
    assert not list(feature_dir().glob("*.npy"))


@pytest.mark.parametrize("value", ["inf", "-1", "nan", "lots"])
def test_a_bad_feature_bound_is_one_line(tiny_mnist_root, tmp_path, monkeypatch, value):
    tiny_benchmarks(tmp_path, monkeypatch, labels="[2]")
    monkeypatch.setenv("HALIBENCH_MAX_FEATURE_GB", value)
    one_line_error(CliRunner().invoke(cli, run_args(tiny_mnist_root, tmp_path / "r", "--model",
                                                    "raw-pixels")), "HALIBENCH_MAX_FEATURE_GB")


@pytest.mark.parametrize("edit, fragment", [
    (lambda r: {k: v for k, v in r.items() if k != "protocol_sha256"}, "'protocol_sha256'"),
    (lambda r: {**r, "checkpoint_sha256": 5}, "'checkpoint_sha256' is 5")])
def test_a_record_with_a_missing_or_mistyped_key_field_is_refused(tmp_path, edit, fragment):
    path = valid_record(tmp_path, sha="a" * 64)
    path.write_text(json.dumps(edit(json.loads(path.read_text()))))
    one_line_error(CliRunner().invoke(cli, ["leaderboard", "--results", str(tmp_path)]),
                   fragment)


# 21.6 What a user's object holds, its state, the caller's RNG and images are left alone.
class Counts(torch.nn.Module):
    """Changes a buffer on every call: features would depend on the batches before."""

    def __init__(self):
        super().__init__()
        self.register_buffer("calls", torch.zeros(()))

    def forward(self, x):
        self.calls += 1
        return x.flatten(1)[:, :6]


def test_an_encoder_that_changes_its_state_is_refused_and_put_back(tiny_mnist_root, tmp_path,
                                                                  monkeypatch):
    from halibench.errors import HalibenchError

    tiny_benchmarks(tmp_path, monkeypatch, labels="[2]")
    net = Counts()
    with pytest.raises(HalibenchError, match="changed its buffer 'calls' of Counts .*put back"):
        evaluate_tiny(net, tiny_mnist_root, tmp_path / "results")
    assert float(net.calls) == 0 and not (tmp_path / "results").exists()


def test_modules_behind_a_function_or_method_run_in_eval_mode_and_are_left_as_they_were(
        tiny_mnist_root, tmp_path, monkeypatch):
    tiny_benchmarks(tmp_path, monkeypatch, labels="[2]")
    torch.manual_seed(0)
    net = TinyResNet().train()
    net.block.eval()
    before = snapshot(net)

    def wrapped(x):  # a closure over a module in train mode
        return net(x)

    @torch.no_grad()
    def decorated(x):  # functools.wraps inside: the module is behind __wrapped__
        return net(x)

    direct = evaluate_tiny(net, tiny_mnist_root, tmp_path / "r1", use_cache=False)[0]
    closure = evaluate_tiny(wrapped, tiny_mnist_root, tmp_path / "r2")[0]
    method = evaluate_tiny(net.forward, tiny_mnist_root, tmp_path / "r3", name="fwd")[0]
    wraps = evaluate_tiny(decorated, tiny_mnist_root, tmp_path / "r4")[0]
    assert closure["mean"] == direct["mean"] == method["mean"] == wraps["mean"]
    assert_unchanged(net, before)


def test_modules_in_a_container_run_in_eval_mode_and_grad_flags_are_put_back(
        tiny_mnist_root, tmp_path, monkeypatch):
    tiny_benchmarks(tmp_path, monkeypatch, labels="[2]")
    torch.manual_seed(0)
    net = TinyResNet().train()
    before = snapshot(net)
    nets = {"stages": [net]}

    def in_a_dict_of_lists(x):  # the module is only reachable through a container
        for module in nets["stages"][0].parameters():
            module.requires_grad_(False)
        return nets["stages"][0](x)

    direct = evaluate_tiny(net, tiny_mnist_root, tmp_path / "r1", use_cache=False)[0]
    held = evaluate_tiny(in_a_dict_of_lists, tiny_mnist_root, tmp_path / "r2")[0]
    assert held["mean"] == direct["mean"]
    assert_unchanged(net, before)
    assert all(p.requires_grad for p in net.parameters())


def test_a_state_change_is_put_back_also_on_an_error_and_in_an_inference_tensor():
    from halibench.features.modes import StateChangedError, evaluation_mode, state_unchanged

    with torch.inference_mode():
        made_in_inference = torch.zeros(())
    net = Counts()
    net.calls = made_in_inference  # an inference tensor has no version counter
    with pytest.raises(StateChangedError, match="buffer 'calls'"), evaluation_mode([net]), \
            state_unchanged([net], "net"):
        net(torch.zeros(2, 1, 28, 28))
    assert float(net.calls) == 0
    with pytest.raises(ValueError, match="boom"), evaluation_mode([net]), \
            state_unchanged([net], "net"):
        net(torch.zeros(2, 1, 28, 28))
        raise ValueError("boom")
    assert float(net.calls) == 0


def test_extract_features_restores_mixed_flags_and_never_writes_into_the_callers_images():
    import halibench

    model = build_model(preset("hali", "28px")).train()
    first = next(m for m in model.modules()
                 if isinstance(m, torch.nn.Dropout | torch.nn.BatchNorm2d))
    first.eval()
    flags = [m.training for m in model.modules()]
    images = torch.rand(4, 1, 28, 28)
    keep = images.clone()
    halibench.extract_features(model, images, ["z1"])
    assert [m.training for m in model.modules()] == flags

    def halves_its_input(x):
        x.mul_(0.5)
        return x.flatten(1)

    halibench.extract_features(halves_its_input, images)
    assert torch.equal(images, keep)


def test_a_shipped_name_is_refused_for_a_users_object(tiny_mnist_root, tmp_path, monkeypatch):
    from halibench.errors import HalibenchError

    tiny_benchmarks(tmp_path, monkeypatch, labels="[2]")
    for taken in ("hali-mnist", "hali", "hog"):
        with pytest.raises(HalibenchError, match=f"encoder name '{taken}': the name of a "
                                                 "shipped checkpoint"):
            evaluate_tiny(lambda x: x.flatten(1), tiny_mnist_root, tmp_path / "r", name=taken)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("options, fragment", [
    ({"labels_per_class": [True]}, "labels_per_class=[True]: give a int or str"),
    ({"probes": 5}, "probes=5: give a str or a list of them"),
    ({"levels": [None]}, "levels=[None]: give a str"),
    ({"backend": "sklaern"}, "--backend 'sklaern': not a probe solver"),
])
def test_bad_python_arguments_are_one_line_before_anything_runs(tiny_mnist_root, tmp_path,
                                                                monkeypatch, options, fragment):
    import halibench
    from halibench.errors import HalibenchError

    tiny_benchmarks(tmp_path, monkeypatch, labels="[2]")
    with pytest.raises(HalibenchError) as caught:
        halibench.evaluate("raw-pixels", "mnist-semisup", data_root=tiny_mnist_root,
                           results_dir=tmp_path / "r", draws=1, **options)
    assert fragment in str(caught.value) and "\n" not in str(caught.value)
    assert not (tmp_path / "r").exists()


def test_one_item_is_taken_as_a_list_and_the_callers_rng_is_untouched(tiny_mnist_root,
                                                                       tmp_path, monkeypatch):
    import halibench

    tiny_benchmarks(tmp_path, monkeypatch, labels="[2]")
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    (record,) = halibench.evaluate("untrained-hali", "mnist-semisup", probes="knn",
                                   levels="z1", labels_per_class=2, draws=1,
                                   data_root=tiny_mnist_root, results_dir=None)
    assert record["probe"] == "knn" and record["labels_per_class"] == 2
    assert torch.equal(torch.random.get_rng_state(), state)
    twice = halibench.evaluate("untrained-hali", "mnist-semisup", probes=["knn", "knn"],
                               levels=["z1", "z1"], labels_per_class=2, draws=1,
                               data_root=tiny_mnist_root, results_dir=None)
    assert len(twice) == 1
    with pytest.raises(HalibenchError, match=r"probes=\[\]: give at least one"):
        halibench.evaluate("untrained-hali", "mnist-semisup", probes=[],
                           data_root=tiny_mnist_root, results_dir=None)
    images = np.zeros((2, 1, 28, 28), dtype=np.uint8)
    assert list(halibench.extract_features("untrained-hali", images, "z1")) == ["z1"]


def test_records_kept_before_a_failure_are_on_the_rebuilt_leaderboard(tiny_mnist_root,
                                                                      tmp_path, monkeypatch):
    tiny_benchmarks(tmp_path, monkeypatch, labels="[2]")
    module = tmp_path / "late2.py"
    module.write_text(f"import sys\nsys.path.insert(0, {str(Path(__file__).parent)!r})\n"
                      "from test_bad_inputs import FailsLate\nenc = FailsLate(7)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    results = tmp_path / "results"
    result = CliRunner().invoke(cli, run_args(tiny_mnist_root, results, "--model", "raw-pixels",
                                              "--model", "late2:enc"))
    assert result.exit_code == 2 and "late failure" in result.output
    assert "the 1 record(s) finished before the error are kept" in result.output
    (kept,) = records_in(results)
    assert kept["model"] == "raw-pixels"
    assert "| raw-pixels (not the official protocol" in (results / "leaderboard.md").read_text()


@pytest.mark.parametrize("row, fragment", [
    ("mnist-semisup,raw-pixels,pixels,knn,ten,1,30,1", "row 2: labels_per_class 'ten'"),
    ("mnist-semisup,untrained-hali,pixels,knn,2,1,30,1", "row 2: level 'pixels' is a pixel "
                                                          "baseline's"),
    ("mnist-semisup,hali-mnist,hog,knn,2,1,30,1", "row 2: level 'hog' is a pixel baseline's"),
    ("mnist-semisup,raw-pixels,z1,knn,2,1,30,1", "row 2: level 'z1': raw-pixels has only level "
                                                  "'pixels'"),
    ("mnist-semisup,raw-pixels,pixels,knn,2,2.7,30,1", "row 2: draws 2.7"),
    ("mnist-semisup,raw-pixels,pixels,knn,2,inf,30,1", "row 2: draws 'inf' is not a finite"),
    ("mnist-semisup,hali-mnist,z7,knn,2,1,30,1", "row 2: hali-mnist: unknown level(s) ['z7']"),
    ("mnist-semisup,hali-mnist,z1,svm,2,1,30,1", "row 2: unknown probe(s) ['svm']"),
    ("mnist-semisup,raw-pixels,pixels,knn,50,1,30,1", "row 2: mnist-semisup: labels_per_class "
                                                      "[50] exceed"),
    ("mnist-semisup,7,z1,knn,2,1,30,1", "row 2: unknown model '7'"),
    ("mnist-semisup,raw-pixels,pixels,knn,2,1,30,1,extra,field,here",
     "row 2: 11 fields, the header has 8"),
    ("no-such-bench,raw-pixels,pixels,knn,2,1,30,1", "row 2: "),
])
def test_expected_rows_are_checked_before_any_is_evaluated(tiny_mnist_root, tmp_path,
                                                           monkeypatch, row, fragment):
    from halibench.evaluation import regress

    tiny_benchmarks(tmp_path, monkeypatch, labels="[2]")
    monkeypatch.setattr(regress.benchmark, "execute", lambda *a, **k: pytest.fail("evaluated"))
    expected = tmp_path / "expected.csv"
    expected.write_text(f"{','.join(regress.COLUMNS)}\n{row}\n"
                        "mnist-semisup,nosuchmodel,z1,knn,2,1,30,1\n")
    args = ["regress", "--expected", str(expected), "--data-root", str(tiny_mnist_root)]
    one_line_error(CliRunner().invoke(cli, args), str(expected), fragment)


def test_an_expected_row_past_blank_lines_is_named_by_its_line(tiny_mnist_root, tmp_path,
                                                               monkeypatch):
    from halibench.evaluation import regress

    tiny_benchmarks(tmp_path, monkeypatch, labels="[2]")
    monkeypatch.setattr(regress.benchmark, "execute", lambda *a, **k: pytest.fail("evaluated"))
    expected = tmp_path / "expected.csv"
    expected.write_text(f"{','.join(regress.COLUMNS)}\n"
                        "mnist-semisup,raw-pixels,pixels,knn,2,1,30,1\n\n"
                        "mnist-semisup,nosuchmodel,z1,knn,2,1,30,1\n")
    args = ["regress", "--expected", str(expected), "--data-root", str(tiny_mnist_root)]
    one_line_error(CliRunner().invoke(cli, args), "row 4: unknown model 'nosuchmodel'")


def test_the_own_classifier_hint_names_the_protocols_own_twin():
    from halibench.evaluation.benchmark import own_protocol_hint
    from halibench.evaluation.protocols import load_protocol

    cifar = load_protocol("cifar10-semisup-subset")
    assert own_protocol_hint(cifar) == "cifar10-semisup-subset-own"
    assert own_protocol_hint(load_protocol("mnist-semisup")) == "mnist-semisup-own"
    assert own_protocol_hint(load_protocol("mnist-knn")) == "mnist-semisup-own"
