import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from halibench.models import ModelConfig, preset
from halibench.models.checkpoints import MODEL_FILE
from halibench.training.trainer import ShardedEpochSampler, TrainConfig, Trainer, TrainingData


def tiny_data(n=120, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = (torch.rand(n, 1, 28, 28, generator=g) * 255).to(torch.uint8)
    return TrainingData(images[:80], images[80:], torch.arange(40) % 10)


def tiny_config(**kw):
    base = dict(steps=6, batch_size=16, checkpoint_every=3, health_every=3, log_every=1,
                train_range=(0, 80), health_range=(80, 120))
    base.update(kw)
    return TrainConfig(**base)


def weights(folder):
    return load_file(str(folder / MODEL_FILE))


@pytest.mark.parametrize("kind", ["hali", "ali", "bigan"])
def test_a_few_steps_train_every_kind(tmp_path, kind):
    model_config = preset(kind, "28px", width=0.25)
    trainer = Trainer(model_config, tiny_config(), tmp_path / kind, tiny_data())
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    final = trainer.fit()
    after = trainer.model.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert any(k.startswith("generators.") for k in changed)
    assert any(k.startswith("discriminator.") for k in changed)
    assert final.name == "step-00000006"
    health = (tmp_path / kind / "health.csv").read_text().splitlines()
    assert health[0].startswith("step,loss_d_mean,loss_g_mean,knn_z1")
    assert len(health) == 3


def test_same_seed_same_weights(tmp_path):
    cfg = preset("ali", "28px", width=0.25)
    a = Trainer(cfg, tiny_config(steps=3), tmp_path / "a", tiny_data()).fit()
    b = Trainer(cfg, tiny_config(steps=3), tmp_path / "b", tiny_data()).fit()
    wa, wb = weights(a), weights(b)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    c = Trainer(cfg, tiny_config(steps=3, seed=1), tmp_path / "c", tiny_data()).fit()
    assert not all(torch.equal(wa[k], weights(c)[k]) for k in wa)


class Killed(Exception):
    pass


def kill_at(step_to_die):
    def callback(step, metrics):
        if step == step_to_die:
            raise Killed

    return callback


STABILISED = dict(instance_noise=0.1, instance_noise_steps=6, cycle_weight=0.1, lr_decay=5)


@pytest.mark.parametrize("stabilised,updates", [(False, "alternating"), (True, "alternating"),
                                                (True, "simultaneous")])
def test_kill_and_resume_equals_uninterrupted(tmp_path, stabilised, updates):
    cfg = preset("hali", "28px", width=0.25, spectral_norm=stabilised)
    extra = {**(STABILISED if stabilised else {}), "updates": updates}
    full = Trainer(cfg, tiny_config(steps=8, checkpoint_every=4, **extra), tmp_path / "full",
                   tiny_data()).fit()
    run = tmp_path / "killed"
    with pytest.raises(Killed):
        Trainer(cfg, tiny_config(steps=8, checkpoint_every=4, **extra), run,
                tiny_data()).fit(callbacks=[kill_at(6)])
    assert (run / "latest").read_text().strip() == "step-00000004"
    resumed = Trainer(cfg, tiny_config(steps=8), run, tiny_data(), resume=True).fit()
    wa, wb = weights(full), weights(resumed)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    steps = [int(line.split(",")[0]) for line in
             (run / "losses.csv").read_text().splitlines()[1:]]
    assert steps == list(range(1, 9))


def test_sampler_shards_are_disjoint_and_reproducible():
    a = ShardedEpochSampler(100, 10, seed=3, rank=0, world=2)
    b = ShardedEpochSampler(100, 10, seed=3, rank=1, world=2)
    assert a.per_epoch == 5
    for step in range(5):
        assert not set(a.indices(step).tolist()) & set(b.indices(step).tolist())
    again = ShardedEpochSampler(100, 10, seed=3, rank=0, world=2)
    assert torch.equal(a.indices(7), again.indices(7))
    assert not torch.equal(a.indices(0), a.indices(5))


@pytest.mark.parametrize("build, field, bad, message", [
    (TrainConfig, "updates", "both", "--updates 'both': give one of alternating, simultaneous"),
    (TrainConfig, "autocast", "fp16", "--autocast 'fp16': give one of none, bf16"),
    (TrainConfig, "cycle_weight", float("nan"), "--cycle-weight nan: give a finite number >= 0"),
    (TrainConfig, "lr_d", float("inf"), "--lr-d inf: give a finite number"),
    (ModelConfig, "prior", "laplace", "--prior 'laplace': give one of gaussian, uniform"),
    (ModelConfig, "fake_logit", "none", "--fake-logit 'none': give one of zero, learned"),
    (ModelConfig, "dropout", 0.99, "--dropout 0.99: give a finite number >= 0 and <= 0.95"),
    (ModelConfig, "width", float("inf"), "--width inf: give a finite number >= 0.05"),
    (ModelConfig, "hidden_noise", None, "--hidden-noise None: give a finite number >= 0"),
    (ModelConfig, "hidden_noise", "0.1", "--hidden-noise '0.1': give a finite number >= 0"),
    (ModelConfig, "hidden_noise", np.float32(-1), "--hidden-noise -1.0: give a finite number"),
    (ModelConfig, "init_std", 0.0, "--init-std 0.0: give a finite number > 0"),
    (TrainConfig, "lr_decay", np.int64(-2), "--lr-decay -2: give a finite number >= 0"),
])
def test_every_option_of_a_config_is_checked_against_its_declaration(build, field, bad,
                                                                      message):
    with pytest.raises(ValueError, match=re.escape(message)):
        build(**{field: bad})


def test_every_committed_and_shipped_checkpoint_config_passes_the_option_checks():
    root = Path(__file__).parents[1]
    configs = sorted([*root.glob("checkpoints/*/config.json"),
                      *root.glob("halibench/shipped/encoders/*.json")])
    assert configs, "no committed checkpoint configs found"
    for path in configs:
        stored = json.loads(path.read_text())
        ModelConfig.from_dict(stored["model"])
        TrainConfig.from_dict(stored["training"])


def test_instance_noise_anneals_to_zero():
    cfg = TrainConfig(instance_noise=0.2, instance_noise_steps=100)
    assert cfg.noise_std(0) == pytest.approx(0.2)
    assert cfg.noise_std(50) == pytest.approx(0.1)
    assert cfg.noise_std(200) == 0.0


def test_lr_decay_runs_both_rates_linearly_down_over_the_last_steps(tmp_path):
    cfg = TrainConfig(steps=10, lr_decay=4)
    assert [cfg.lr_factor(s) for s in range(10)] == [1.0] * 6 + [1.0, 0.75, 0.5, 0.25]
    assert TrainConfig(steps=10).lr_factor(9) == 1.0
    with pytest.raises(ValueError, match="--lr-decay 11 is longer than --steps 10: give "
                       "--steps >= 11"):
        TrainConfig(steps=10, lr_decay=11)
    with pytest.raises(ValueError, match="--lr-decay 1: give 0"):
        TrainConfig(steps=10, lr_decay=1)
    with pytest.raises(ValueError, match="--lr-decay -2: give a finite number >= 0"):
        TrainConfig(steps=10, lr_decay=-2)
    trainer = Trainer(preset("ali", "28px", width=0.25), tiny_config(lr=1e-3, lr_d=4e-4,
                      lr_decay=4), tmp_path / "run", tiny_data())
    trainer.fit()  # the last step (0-based 5) ran at a quarter of each rate
    assert trainer.opt_g.param_groups[0]["lr"] == pytest.approx(2.5e-4)
    assert trainer.opt_d.param_groups[0]["lr"] == pytest.approx(1e-4)


def test_a_resume_whose_steps_move_a_decay_over_steps_taken_says_so(tmp_path, caplog):
    cfg = preset("ali", "28px", width=0.25)
    run = tmp_path / "run"
    Trainer(cfg, tiny_config(steps=4, checkpoint_every=2, lr_decay=3), run, tiny_data()).fit()
    with caplog.at_level("WARNING"):
        Trainer(cfg, tiny_config(steps=6), run, tiny_data(), resume=True)
    assert "window (the last 3 steps) has moved over steps already taken" in caplog.text
    killed = tmp_path / "killed"  # at step 4 of 10, before its window (steps 7-10)
    with pytest.raises(Killed):
        Trainer(cfg, tiny_config(steps=10, checkpoint_every=4, lr_decay=3), killed,
                tiny_data()).fit(callbacks=[kill_at(6)])
    for steps, moved in ((6, False), (5, True)):  # windows from step 3 (rate 1 there), 2
        caplog.clear()
        with caplog.at_level("WARNING"):
            Trainer(cfg, tiny_config(steps=steps), killed, tiny_data(), resume=True)
        assert ("has moved over steps already taken" in caplog.text) == moved


def test_a_weight_average_is_the_decayed_mean_of_the_trained_weights():
    from halibench.training.averaging import WeightAverage

    model = torch.nn.BatchNorm1d(3)
    average = WeightAverage(model, decay=0.9)
    assert [average.rate(n) for n in (0, 1, 100)] == [pytest.approx(0.1), pytest.approx(2 / 11),
                                                      0.9]
    start = model.weight.detach().clone()
    with torch.no_grad():
        model.weight.add_(1.0)
    model.num_batches_tracked.fill_(7)
    average.update(model, 100)
    assert torch.allclose(average.model.weight, 0.9 * start + 0.1 * (start + 1))
    assert int(average.model.num_batches_tracked) == 7  # integer buffers are copied
    assert not average.model.training and not average.model.weight.requires_grad
    for bad in (1.0, 0.0, 1.5):
        with pytest.raises(ValueError, match="decay lies in"):
            WeightAverage(model, bad)
    with pytest.raises(ValueError, match="--weight-average 1.0: give 0"):
        TrainConfig(weight_average=1.0)


def test_averaging_saves_the_average_and_trains_exactly_as_without(tmp_path):
    from halibench.models.checkpoints import STATE_FILE, TRAINING_WEIGHTS

    cfg = preset("hali", "28px", width=0.25)
    plain = Trainer(cfg, tiny_config(), tmp_path / "plain", tiny_data())
    plain.fit()
    averaged = Trainer(cfg, tiny_config(weight_average=0.5), tmp_path / "avg", tiny_data())
    final = averaged.fit()
    raw = averaged.model.state_dict()
    assert all(torch.equal(v, plain.model.state_dict()[k]) for k, v in raw.items())
    saved, state = weights(final), load_file(str(final / STATE_FILE))
    assert all(torch.equal(saved[k], v) for k, v in averaged.average.model.state_dict().items())
    assert all(torch.equal(state[TRAINING_WEIGHTS + k], v) for k, v in raw.items())
    assert any(not torch.equal(saved[k], v) for k, v in raw.items())
    assert not any(k.startswith(TRAINING_WEIGHTS) for k in
                   load_file(str(plain.checkpoint(6) / STATE_FILE)))


def test_an_averaged_run_resumes_exactly_and_needs_its_raw_weights(tmp_path):
    from safetensors.torch import save_file

    from halibench.errors import CheckpointError
    from halibench.models.checkpoints import STATE_FILE, TRAINING_WEIGHTS

    cfg = preset("ali", "28px", width=0.25)
    extra = dict(steps=8, checkpoint_every=4, weight_average=0.8)
    full = Trainer(cfg, tiny_config(**extra), tmp_path / "full", tiny_data()).fit()
    run = tmp_path / "killed"
    with pytest.raises(Killed):
        Trainer(cfg, tiny_config(**extra), run, tiny_data()).fit(callbacks=[kill_at(6)])
    resumed = Trainer(cfg, tiny_config(steps=8), run, tiny_data(), resume=True)
    last = resumed.fit()
    wa, wb = weights(full), weights(last)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    state = load_file(str(last / STATE_FILE))
    dropped = next(k for k in state if k.startswith(TRAINING_WEIGHTS))
    save_file({k: v for k, v in state.items() if k != dropped}, str(last / STATE_FILE))
    with pytest.raises(CheckpointError, match=f"missing \\['{dropped}'\\]"):
        Trainer(cfg, tiny_config(steps=10), run, tiny_data(), resume=True)
    save_file({k: v for k, v in state.items() if not k.startswith(TRAINING_WEIGHTS)},
              str(last / STATE_FILE))
    with pytest.raises(CheckpointError, match="no training weights beside the averaged ones; "
                       "resume from another step of the run or start a new --out"):
        Trainer(cfg, tiny_config(steps=10), run, tiny_data(), resume=True)


def test_averaging_keeps_spectral_norms_vectors_those_of_the_trained_weights(tmp_path):
    cfg = preset("ali", "28px", width=0.25, spectral_norm=True)
    trainer = Trainer(cfg, tiny_config(weight_average=0.9), tmp_path / "sn", tiny_data())
    trainer.fit()
    raw, avg = trainer.model.state_dict(), trainer.average.model.state_dict()
    vectors = [k for k in raw if k.endswith(("_u", "_v"))]
    assert vectors and all(torch.equal(raw[k], avg[k]) for k in vectors)
    key = "discriminator.heads.0.0.parametrizations.weight.original"
    assert not torch.equal(raw[key], avg[key])


def test_a_log_refuses_a_row_with_other_columns(tmp_path):
    from halibench.errors import HalibenchError
    from halibench.training.trainer import CsvLog

    log = CsvLog(tmp_path / "v.csv")
    log.append({"step": 1, "a": 2})
    log.append({"a": 4, "step": 3})  # same columns in another order: under the header's
    assert log.rows() == [{"step": "1", "a": "2"}, {"step": "3", "a": "4"}]
    with pytest.raises(HalibenchError, match="v.csv: its columns"):
        log.append({"step": 5, "b": 6})


def test_resume_without_out_names_the_earlier_default_folder(tmp_path, monkeypatch):
    """The default run folder is runs/KIND-DATASET-sSEED; a run in the earlier default
    (runs/hali-mnist, a shipped checkpoint's name) is named, with the move that resumes it."""
    from click.testing import CliRunner

    from halibench.cli import cli

    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "hali-mnist").mkdir(parents=True)
    out = CliRunner().invoke(cli, ["train", "hali", "--resume", "--seed", "3"])
    assert out.exit_code == 2 and out.output.count("\n") == 1, out.output
    assert "mv runs/hali-mnist runs/hali-mnist-s3" in out.output
