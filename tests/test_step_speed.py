"""The faster training step: the cheap dropout mask, simultaneous updates, fused Adam."""

import copy
import json

import pytest
import torch
from test_train import tiny_config, tiny_data

from halibench.models import build_model, preset
from halibench.models.layers import Dropout, keep_mask
from halibench.training.trainer import (
    DROPOUT_MASKS,
    TrainConfig,
    Trainer,
    adversarial_step,
    discriminator_losses,
)


def test_keep_mask_keeps_one_minus_p_in_each_of_its_three_words():
    torch.manual_seed(0)
    x = torch.empty(3 * 400_000)
    mask = keep_mask(x, 0.2).float()
    assert mask.mean().item() == pytest.approx(0.8, abs=3e-3)
    # the three 16-bit words of each 64-bit draw fill consecutive elements: each unbiased
    for word in range(3):
        assert mask[word::3].mean().item() == pytest.approx(0.8, abs=4e-3)
    assert keep_mask(torch.empty(5, 7, 3), 0.5).shape == (5, 7, 3)


def test_dropout_scales_kept_elements_and_is_identity_in_eval():
    torch.manual_seed(0)
    drop = Dropout(0.25)
    x = torch.ones(1000, 100, requires_grad=True)
    y = drop(x)
    kept = y != 0
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / 0.75))
    assert kept.float().mean().item() == pytest.approx(0.75, abs=0.01)
    y.sum().backward()
    assert torch.equal(x.grad, y.detach())  # gradient: the same mask and scale
    assert torch.equal(drop.eval()(x), x)
    assert torch.equal(Dropout(0.0).train()(x), x)
    with pytest.raises(ValueError, match="dropout probability"):
        Dropout(1.0)


def sgd_step(model, cfg, x):
    opt_g = torch.optim.SGD(model.generators.parameters(), lr=1.0)
    opt_d = torch.optim.SGD(model.discriminator.parameters(), lr=1.0)
    torch.manual_seed(1)
    adversarial_step(model.generators, model.discriminator, opt_g, opt_d, x, config=cfg)


@pytest.mark.parametrize("kind", ["hali", "ali"])
def test_simultaneous_updates_take_both_gradients_from_one_discriminator(kind):
    torch.manual_seed(0)
    model = build_model(preset(kind, "28px", width=0.25, hidden_dim=32, dropout=0.0))
    x = torch.rand(6, 1, 28, 28)
    reference = copy.deepcopy(model)
    torch.manual_seed(1)  # the step's samples: same seed, same draws
    (xe, ze), (xd, zd), _ = reference.generators(x)
    logits = reference.discriminator(torch.cat([xe, xd]),
                                     [torch.cat([a, b]) for a, b in zip(ze, zd, strict=True)])
    loss_d, loss_g = discriminator_losses(logits, 6)
    d_params = list(reference.discriminator.parameters())
    g_params = list(reference.generators.parameters())
    grads_d = torch.autograd.grad(loss_d, d_params, retain_graph=True)
    grads_g = torch.autograd.grad(loss_g, g_params, allow_unused=True)
    expected = [p - g for p, g in zip(d_params, grads_d, strict=True)]
    expected += [p - (0 if g is None else g) for p, g in zip(g_params, grads_g, strict=True)]

    simultaneous = copy.deepcopy(model)
    sgd_step(simultaneous, TrainConfig(updates="simultaneous"), x)
    got = [*simultaneous.discriminator.parameters(), *simultaneous.generators.parameters()]
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(got, expected, strict=True))

    alternating = copy.deepcopy(model)  # the chains play the updated D: other G weights
    sgd_step(alternating, TrainConfig(), x)
    after = list(alternating.generators.parameters())
    n_d = len(d_params)
    assert not all(torch.allclose(a, b, atol=1e-5) for a, b in zip(after, expected[n_d:],
                                                                     strict=True))


def test_simultaneous_updates_refuse_what_needs_a_second_pass_or_no_game():
    with pytest.raises(ValueError, match="--updates simultaneous"):
        TrainConfig(updates="simultaneous", generator_loss="feature-matching")
    with pytest.raises(ValueError, match="--updates 'both': give one of alternating, simultaneous"):
        TrainConfig(updates="both")
    with pytest.raises(ValueError, match="--unlabelled none"):
        TrainConfig(labels_per_class=1, unlabelled="none", updates="simultaneous")


def test_simultaneous_semi_supervised_step_trains_both_sides():
    torch.manual_seed(0)
    model = build_model(preset("hali", "28px", width=0.25, hidden_dim=32, classes=3))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    labelled = (torch.rand(6, 1, 28, 28), torch.tensor([0, 1, 2, 0, 1, 2]))
    metrics = adversarial_step(
        model.generators, model.discriminator, torch.optim.Adam(model.generators.parameters()),
        torch.optim.Adam(model.discriminator.parameters()), torch.rand(4, 1, 28, 28),
        config=TrainConfig(labels_per_class=1, updates="simultaneous"), labelled=labelled)
    assert "labelled_acc" in metrics
    changed = {k.split(".")[0] for k, v in model.state_dict().items()
               if not torch.equal(before[k], v)}
    assert changed == {"generators", "discriminator"}


def test_new_runs_use_fused_adam_and_record_the_update_scheme(tmp_path):
    trainer = Trainer(preset("ali", "28px", width=0.25),
                      tiny_config(steps=2, checkpoint_every=2, updates="simultaneous"),
                      tmp_path / "run", tiny_data())
    assert trainer.opt_g.param_groups[0]["fused"] and trainer.opt_d.param_groups[0]["fused"]
    final = trainer.fit()
    stored = json.loads((final / "config.json").read_text())
    assert stored["training"]["updates"] == "simultaneous"
    assert stored["rng"]["dropout"] == DROPOUT_MASKS
