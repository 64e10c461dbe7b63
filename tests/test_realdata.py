"""Real datasets in ../shared/data; skipped with a reason when absent."""

import csv

import numpy as np
import pytest
import torch

from halibench.data import get_dataset, load, verify

pytestmark = pytest.mark.realdata

MNIST_TRAIN_HIST = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_HIST = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_mnist_verified_counts_and_label_histograms(shared_data):
    md5s = verify("mnist", shared_data)
    assert md5s["train-images-idx3-ubyte.gz"] == \
        "ok: md5 f68b3c2dcbeaaa9fbdd348bbdeb94873 matches the official one"
    train, test = load("mnist", "train", shared_data), load("mnist", "test", shared_data)
    assert train.images.shape == (60000, 1, 28, 28) and test.images.shape == (10000, 1, 28, 28)
    assert np.bincount(train.labels).tolist() == MNIST_TRAIN_HIST
    assert np.bincount(test.labels).tolist() == MNIST_TEST_HIST
    assert train.images.max() == 255 and train.images.min() == 0


def test_celeba_annotations_complete(shared_data):
    ds = get_dataset("celeba")
    folder = ds.folder(shared_data)
    ann = ds.annotations(folder)
    assert ann.attributes.shape == (202599, 40)
    assert ann.names[0] == "5_o_Clock_Shadow" and ann.names[-1] == "Young"
    counts = [len(ds.rows(folder, s)) for s in ("train", "valid", "test")]
    assert counts == [162770, 19867, 19962]
    assert verify("celeba", shared_data)["list_attr_celeba.txt"] == \
        "ok: md5 75e246fa4810816ffd6ee81facbd244c matches the official one"


def test_celeba_images_we_have_load_join_attributes_and_crop(shared_data):
    ds = get_dataset("celeba")
    present = load("celeba", "present", shared_data)
    assert present.images.shape == (4283, 3, 64, 64)
    ann = ds.annotations(ds.folder(shared_data))
    np.testing.assert_array_equal(present.labels, ann.attributes[:4283])
    assert set(ann.partition[:4283].tolist()) == {0}
    assert present.images.std() > 20  # real faces, not blank crops


def test_cifar10_folders_match_labels_csv(shared_data):
    train, test = load("cifar10", "train", shared_data), load("cifar10", "test", shared_data)
    assert len(train) == 10000 and len(test) == 1000
    with open(shared_data / "cifar10" / "labels.csv") as f:
        rows = list(csv.DictReader(f))
    for split, data in (("train", train), ("test", test)):
        expected = sorted((int(r["index_in_split"]), int(r["label"])) for r in rows
                          if r["split"] == split)
        np.testing.assert_array_equal(data.labels, [label for _, label in expected])


@pytest.mark.parametrize("name,least", [("hali-celeba64", (16, 4)), ("ali-celeba64", (6,))])
def test_shipped_celeba_models_reconstruct_held_out_faces(shared_data, name, least):
    """On the subset's test ids (never trained on), the shipped weights are trained, not
    initial: each level's reconstruction, matched by pixel distance against the 64 input
    faces, picks out its own face well above chance (1 in 64, what an initial decoder's one
    grey image or an average face gets). Measured: HALI z1 28, z2 5; ALI (the same family
    and recipe) z1 9. Pixel MSE is not the check: an average face is about as close in MSE
    as hali-celeba64's z1."""
    import halibench
    from halibench.features.extract import as_float_images

    model = halibench.load(name).eval()
    faces = load("celeba", "present", shared_data).take(3600, 3664).images
    x = as_float_images(torch.from_numpy(np.array(faces)))
    with torch.inference_mode():
        for level in range(1, model.levels + 1):
            nearest = torch.cdist(model.reconstruct(x, level).flatten(1), x.flatten(1)).argmin(1)
            found = (nearest == torch.arange(len(x))).sum().item()
            assert found >= least[level - 1], (level, found)


def test_cifar10_subset_protocol_splits_the_images_present(shared_data):
    """Pool, validation and test rows are disjoint, present, and hold 400 of every class."""
    from halibench.evaluation.benchmark import BenchmarkData
    from halibench.evaluation.protocols import load_protocol

    protocol = load_protocol("cifar10-semisup-subset")
    assert protocol.subset and "not comparable" in protocol.subset
    data = BenchmarkData(protocol, shared_data)
    sizes = {role: len(data.split(role).labels) for role in ("pool", "validation", "test")}
    assert sizes == {"pool": 8000, "validation": 2000, "test": 1000}
    assert np.bincount(np.asarray(data.split("pool").labels), minlength=10).min() >= 400
