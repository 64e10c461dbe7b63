import json
import shutil

import pytest
import torch
from click.testing import CliRunner
from data_fixtures import validation_protocol_file
from safetensors.torch import load_file, save_file

import halibench
from halibench.cli import cli
from halibench.errors import CheckpointError
from halibench.io import sha256_file
from halibench.models import build_model, preset
from halibench.models.checkpoints import MODEL_FILE, load_checkpoint, save_checkpoint


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    model = build_model(preset("hali", "28px", width=0.25)).eval()
    folder = save_checkpoint(tmp_path / "ckpt", model, {"step": 0})
    return model, folder


def test_save_load_identical_outputs(saved):
    model, folder = saved
    loaded = halibench.load(str(folder))
    x = torch.rand(5, 1, 28, 28)
    with torch.inference_mode():
        for level in (1, 2):
            assert torch.equal(model.reconstruct(x, level), loaded.reconstruct(x, level))
        pairs = zip(model.encode(x), loaded.encode(x), strict=True)
        assert all(torch.equal(a, b) for a, b in pairs)
    assert loaded.config == model.config
    assert not list(folder.parent.glob(".*tmp"))


def test_corrupted_weights_rejected_by_hash(saved):
    _, folder = saved
    data = bytearray((folder / MODEL_FILE).read_bytes())
    data[-10] ^= 0xFF
    (folder / MODEL_FILE).write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256 .* does not match"):
        load_checkpoint(folder)


def test_shape_mismatch_gives_one_line_error(saved):
    _, folder = saved
    config = json.loads((folder / "config.json").read_text())
    config["model"]["z_dims"] = [64, 16]
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="has shape .* the config implies") as e:
        load_checkpoint(folder)
    assert "\n" not in str(e.value)


def test_missing_tensor_and_missing_file(saved):
    _, folder = saved
    weights = load_file(str(folder / MODEL_FILE))
    weights.pop(next(iter(weights)))
    save_file(weights, str(folder / MODEL_FILE))
    config = json.loads((folder / "config.json").read_text())
    config["sha256"] = {MODEL_FILE: sha256_file(folder / MODEL_FILE)}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="do not match the model config"):
        load_checkpoint(folder)
    (folder / MODEL_FILE).unlink()
    with pytest.raises(CheckpointError, match="missing"):
        load_checkpoint(folder)


def test_index_name_verified_by_sha256(saved, tmp_path, monkeypatch):
    _, folder = saved
    index = {"checkpoints": {"tiny": {"path": str(folder), "sha256": "0" * 64}}}
    (tmp_path / "index.json").write_text(json.dumps(index))
    monkeypatch.setenv("HALIBENCH_CHECKPOINTS", str(tmp_path))
    with pytest.raises(CheckpointError, match="does not match the recorded"):
        halibench.load("tiny")
    with pytest.raises(CheckpointError, match="known names: \\['tiny'\\]"):
        halibench.load("nope")


def train_args(root, out, *extra):
    return ["train", "ali", "--data-root", str(root), "--out", str(out), "--width", "0.25",
            "--steps", "2", "--batch-size", "20", "--train-range", "0:200",
            "--health-range", "200:300", *extra]


def test_cli_resume_of_corrupt_checkpoint_one_line_exit_2(tiny_mnist_root, tmp_path):
    out = tmp_path / "run"
    runner = CliRunner()
    assert runner.invoke(cli, train_args(tiny_mnist_root, out)).exit_code == 0
    weights = out / "step-00000002" / MODEL_FILE
    weights.write_bytes(weights.read_bytes()[:-7])
    result = runner.invoke(cli, train_args(tiny_mnist_root, out, "--resume", "--steps", "4"))
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and result.output.startswith("error: ")
    assert "sha256" in result.output and "Traceback" not in result.output


def test_cli_resume_of_a_damaged_training_state_is_one_line(tiny_mnist_root, tmp_path):
    out = tmp_path / "run"
    runner = CliRunner()
    assert runner.invoke(cli, train_args(tiny_mnist_root, out)).exit_code == 0
    state = out / "step-00000002" / "training_state.json"
    for damaged in ("{}", '{"optimizers": 5}'):
        state.write_text(damaged)
        result = runner.invoke(cli, train_args(tiny_mnist_root, out, "--resume", "--steps", "4"))
        assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
        assert "training_state.json: optimizer state damaged" in result.output


def test_a_marker_pointing_outside_its_run_is_refused(tiny_mnist_root, tmp_path):
    runner = CliRunner()
    for run in ("run1", "run2"):
        assert runner.invoke(cli, train_args(tiny_mnist_root, tmp_path / run)).exit_code == 0
    (tmp_path / "run2" / "step-00000009").symlink_to(tmp_path / "run1" / "step-00000002")
    for target in ("../run1/step-00000002", str(tmp_path / "run1" / "step-00000002"),
                   "step-00000009"):
        (tmp_path / "run2" / "latest").write_text(target + "\n")
        result = runner.invoke(cli, train_args(tiny_mnist_root, tmp_path / "run2", "--resume",
                                               "--steps", "4"))
        assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
        assert "latest: points at " in result.output and "not a step folder" in result.output


def test_cli_resume_without_checkpoint(tiny_mnist_root, tmp_path):
    result = CliRunner().invoke(cli, train_args(tiny_mnist_root, tmp_path / "none", "--resume"))
    assert result.exit_code == 2
    assert "no checkpoint to resume from" in result.output


def test_cli_train_refuses_a_non_empty_out_without_resume(tiny_mnist_root, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    result = CliRunner().invoke(cli, train_args(tiny_mnist_root, out))
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "--out holds a run" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_cli_train_restarts_a_folder_left_with_logs_only(tiny_mnist_root, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "losses.csv").write_text("step,loss_d\n7,0.5\n")  # killed before a checkpoint
    (out / ".step-00000010.123.tmp").mkdir()
    result = CliRunner().invoke(cli, train_args(tiny_mnist_root, out))
    assert result.exit_code == 0, result.output
    header, *rows = (out / "losses.csv").read_text().splitlines()
    assert header.startswith("step,loss_d,loss_g,") and [r.split(",")[0] for r in rows] == ["2"]
    assert len(rows[0].split(",")) == len(header.split(","))


def test_cli_resume_refuses_a_step_folder_and_a_step_already_reached(tiny_mnist_root, tmp_path):
    out = tmp_path / "run"
    runner = CliRunner()
    assert runner.invoke(cli, train_args(tiny_mnist_root, out)).exit_code == 0
    step = out / "step-00000002"
    result = runner.invoke(cli, train_args(tiny_mnist_root, step, "--resume", "--steps", "4"))
    assert result.exit_code == 2 and "checkpoint folder inside a run" in result.output
    assert sorted(p.name for p in step.iterdir() if p.is_dir()) == []
    result = runner.invoke(cli, train_args(tiny_mnist_root, out, "--resume", "--steps", "2"))
    assert result.exit_code == 2 and "already at step 2" in result.output


def test_cli_resume_may_start_a_decay_that_no_step_taken_would_have_felt(tiny_mnist_root,
                                                                          tmp_path):
    runner = CliRunner()
    decayed = ("--steps", "5", "--lr-decay", "3")
    whole = tmp_path / "whole"
    assert runner.invoke(cli, train_args(tiny_mnist_root, whole, *decayed, "--checkpoint-every",
                                         "1", "--keep-checkpoints", "5")).exit_code == 0
    out = tmp_path / "run"
    assert runner.invoke(cli, train_args(tiny_mnist_root, out)).exit_code == 0
    result = runner.invoke(cli, train_args(tiny_mnist_root, out, "--resume", "--steps", "5",
                                           "--lr-decay", "5"))
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "--lr-decay 5 over the last of --steps 5 would have lowered the rates of steps " \
           "already taken (it begins at step 0, the checkpoint is at step 2); give " \
           "--lr-decay 4 or less" in result.output
    result = runner.invoke(cli, train_args(tiny_mnist_root, out, "--resume", "--steps", "5",
                                           "--lr-decay", "9"))
    assert result.exit_code == 2 and "--lr-decay 9 is longer than --steps 5" in result.output
    assert not (out / "step-00000005").exists()
    result = runner.invoke(cli, train_args(tiny_mnist_root, out, "--resume", *decayed))
    assert result.exit_code == 0, result.output
    stored = json.loads((out / "step-00000005" / "config.json").read_text())
    assert stored["training"]["lr_decay"] == 3
    a = load_file(str(whole / "step-00000005" / MODEL_FILE))
    b = load_file(str(out / "step-00000005" / MODEL_FILE))
    assert all(torch.equal(a[k], b[k]) for k in a)  # the run that had the decay all along
    result = runner.invoke(cli, train_args(tiny_mnist_root, out, "--resume", "--steps", "7",
                                           "--lr-decay", "2"))
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "the stored decay (the last 3 of 5 steps) began before the checkpoint's step 5; " \
           "a resume may only keep it: give --steps 5 --lr-decay 3" in result.output
    cut = tmp_path / "cut"  # the decayed run at step 4, inside its window: its own command
    shutil.copytree(whole, cut)
    shutil.rmtree(cut / "step-00000005")
    (cut / "latest").write_text("step-00000004\n")
    result = runner.invoke(cli, train_args(tiny_mnist_root, cut, "--resume", *decayed))
    assert result.exit_code == 0, result.output
    c = load_file(str(cut / "step-00000005" / MODEL_FILE))
    assert all(torch.equal(a[k], c[k]) for k in a)


def test_cli_resume_checks_validation_against_the_stored_checkpoint_interval(
        tiny_mnist_root, tmp_path):
    out = tmp_path / "run"
    runner = CliRunner()
    args = train_args(tiny_mnist_root, out, "--checkpoint-every", "2")
    assert runner.invoke(cli, args).exit_code == 0
    given = ["train", "ali", "--data-root", str(tiny_mnist_root), "--out", str(out), "--resume",
             "--steps", "4", "--validation", str(validation_protocol_file(tmp_path)),
             "--validate-every", "2"]
    result = runner.invoke(cli, given)
    assert result.exit_code == 0, result.output
    assert (out / "validation.csv").read_text().splitlines()[1].startswith("4,")


def test_cli_train_refuses_rows_its_validation_protocol_holds_out(tiny_mnist_root, tmp_path):
    args = train_args(tiny_mnist_root, tmp_path / "run", "--validation",
                      "mnist-recipe-validation", "--validate-every", "2", "--checkpoint-every",
                      "2")
    args[args.index("0:200")] = "0:52000"
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "validation rows 50000:55000 lie inside --train-range 0:52000" in result.output
    assert not (tmp_path / "run").exists()


def test_cli_train_refuses_a_run_another_process_writes(tiny_mnist_root, tmp_path):
    import subprocess
    import sys

    from halibench.training.run_lock import LOCK_FILE

    out = tmp_path / "run"
    runner = CliRunner()
    assert runner.invoke(cli, train_args(tiny_mnist_root, out)).exit_code == 0
    logs = (out / "losses.csv").read_text()
    holder = subprocess.Popen(  # another process that holds the run's lock, as a run would
        [sys.executable, "-c", "import sys; from pathlib import Path; from halibench.training "
         "import run_lock; run_lock.acquire(Path(sys.argv[1])); print('held', flush=True); "
         "sys.stdin.read()", str(out)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        result = runner.invoke(cli, train_args(tiny_mnist_root, out, "--resume", "--steps", "4"))
        assert result.exit_code == 2 and result.output.count("\n") == 1
        assert f"a training process ({{\"pid\": {holder.pid}" in result.output
        assert "writes this run" in result.output
        assert (out / "losses.csv").read_text() == logs  # nothing truncated or appended
    finally:
        holder.kill()
        holder.wait()
    # its process gone (killed: no clean-up ran), the kernel has dropped its lock
    result = runner.invoke(cli, train_args(tiny_mnist_root, out, "--resume", "--steps", "4"))
    assert result.exit_code == 0, result.output
    assert (out / "step-00000004").is_dir() and (out / LOCK_FILE).is_file()
