import pytest
import torch

from halibench.features.extract import extract_features
from halibench.models import FAMILY_SHAPES, build_model, preset

KINDS = ["hali", "ali", "bigan"]


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    return {(k, f): build_model(preset(k, f)) for k in KINDS for f in FAMILY_SHAPES}


@pytest.mark.parametrize("family", list(FAMILY_SHAPES))
@pytest.mark.parametrize("kind", KINDS)
def test_level_shapes_and_feature_info(models, kind, family):
    model = models[(kind, family)]
    x = torch.rand(3, *FAMILY_SHAPES[family])
    latents = model.encode(x)
    assert [z.shape for z in latents] == [(3, d) for d in model.config.z_dims]
    feats = extract_features(model, x, model.feature_levels)
    info = {d["name"]: d for d in model.feature_info}
    assert set(info) == set(feats)
    for name, f in feats.items():
        assert f.shape == (3, info[name]["dim"])
    for level in range(1, model.levels + 1):
        assert model.reconstruct(x, level).shape == x.shape
    assert model.sample(2).shape == (2, *FAMILY_SHAPES[family])


def test_hidden_level_is_alis_5376_dims_for_32px(models):
    info = {d["name"]: d["dim"] for d in models[("ali", "32px")].feature_info}
    assert info["hidden"] == 256 + 4 * 4 * 256 + 512 + 512 == 5376


def test_hali_has_two_levels_and_ali_bigan_one(models):
    assert models[("hali", "28px")].levels == 2
    assert models[("ali", "28px")].levels == 1
    assert models[("ali", "28px")].config.stochastic_encoder
    assert not models[("bigan", "28px")].config.stochastic_encoder


@pytest.mark.parametrize("bad", [["z9"], ["z1", "z1"], ["bogus", "z1"], []])
def test_invalid_levels_raise_listing_valid_names(models, bad):
    model = models[("hali", "28px")]
    with pytest.raises(ValueError, match="valid levels: \\['z1', 'z2', 'concat', 'hidden'\\]"):
        extract_features(model, torch.rand(2, 1, 28, 28), bad)


def test_features_independent_of_batch_size_and_mode_restored(models):
    model = models[("hali", "28px")]
    model.train()
    x = (torch.rand(37, 1, 28, 28) * 255).to(torch.uint8)
    a = extract_features(model, x, ["z1", "z2", "hidden"], batch_size=37)
    b = extract_features(model, x, ["z1", "z2", "hidden"], batch_size=5)
    for k in a:
        torch.testing.assert_close(torch.from_numpy(a[k]), torch.from_numpy(b[k]))
    assert model.training


def test_mean_features_deterministic_sampled_differ(models):
    model = models[("ali", "28px")]
    x = torch.rand(8, 1, 28, 28)
    mean1 = extract_features(model, x, ["z1"])["z1"]
    mean2 = extract_features(model, x, ["z1"])["z1"]
    sampled = extract_features(model, x, ["z1"], sample=True, seed=1)["z1"]
    assert (mean1 == mean2).all()
    assert not (mean1 == sampled).all()


def test_bigan_uniform_prior_in_box():
    model = build_model(preset("bigan", "28px", prior="uniform", width=0.25))
    z = model.generators.sample_prior(1000, 64, torch.device("cpu"))
    assert z.min() >= -1 and z.max() <= 1


def test_pairs_discriminator_has_one_head_per_adjacent_pair():
    model = build_model(preset("hali", "28px", levels=3, discriminator="pairs", width=0.25))
    x = torch.rand(4, 1, 28, 28)
    logits = model.discriminator(x, model.encode(x))
    assert logits.shape == (4, 3)
    assert model.discriminator.groups == [(0, 1), (1, 2), (2, 3)]


def test_decode_rejects_out_of_range_level(models):
    model = models[("hali", "28px")]
    with pytest.raises(ValueError, match="levels 1..2"):
        model.decode(torch.zeros(1, 32), level=3)


def test_single_level_kinds_refuse_more_levels():
    with pytest.raises(ValueError, match="exactly one level"):
        preset("ali", "28px", levels=2)
