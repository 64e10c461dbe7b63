import gzip
import io
import tarfile

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import idx_bytes, write_idx_dataset
from data_fixtures import (
    write_celeba,
    write_cifar_binary,
    write_image_folder,
    write_svhn,
)

from halibench.cli import cli
from halibench.data import get_dataset, load
from halibench.data.cache import UNOFFICIAL, prepared_dir
from halibench.data.download import safe_extract
from halibench.data.sources import SourceFile, check_digests
from halibench.errors import DatasetError


def test_mnist_idx_gz_and_raw_give_same_arrays(tmp_path):
    write_idx_dataset(tmp_path / "gz" / "mnist", gz=True)
    write_idx_dataset(tmp_path / "raw" / "mnist", gz=False)
    a = load("mnist", "train", tmp_path / "gz")
    b = load("mnist", "train", tmp_path / "raw")
    assert a.images.shape == (300, 1, 28, 28) and a.images.dtype == np.uint8
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.labels, np.arange(300) % 10)


def test_fashion_mnist_reads_same_format_with_its_names(tmp_path):
    write_idx_dataset(tmp_path / "fashion-mnist", gz=False)
    split = load("fashion-mnist", "test", tmp_path)
    assert len(split) == 100 and split.label_names[0] == "T-shirt/top"


def test_torchvision_raw_folder_is_accepted(tmp_path):
    write_idx_dataset(tmp_path / "MNIST" / "raw", gz=False)
    assert len(load("mnist", "test", tmp_path)) == 100


def test_prepared_cache_is_reused_and_invalidated_by_a_changed_source(tmp_path):
    write_idx_dataset(tmp_path / "mnist", gz=False)
    first = load("mnist", "train", tmp_path)
    files = sorted(prepared_dir(get_dataset("mnist")).glob("train-*.images.npy"))
    assert len(files) == 1
    assert load("mnist", "train", tmp_path).identity == first.identity
    assert sorted(prepared_dir(get_dataset("mnist")).glob("train-*.images.npy")) == files
    write_idx_dataset(tmp_path / "mnist", gz=False, seed=9)
    changed = load("mnist", "train", tmp_path)
    after = sorted(prepared_dir(get_dataset("mnist")).glob("train-*.images.npy"))
    # content-keyed: the new content gets its own entry, the old one stays valid for its own
    assert len(after) == 2 and set(files) < set(after)
    assert changed.identity != first.identity
    assert not np.array_equal(changed.images, first.images)


@pytest.mark.parametrize("damage", ["truncate images", "labels of another length",
                                    "same shape other values", "memo not json",
                                    "memo of another shape"])
def test_a_damaged_prepared_cache_is_reported_and_rebuilt(tmp_path, caplog, damage):
    write_idx_dataset(tmp_path / "mnist", gz=False)
    first = load("mnist", "test", tmp_path)
    expected = np.array(first.images), first.labels.copy()
    folder = prepared_dir(get_dataset("mnist"))
    (images,) = folder.glob("test-*.images.npy")
    (labels,) = folder.glob("test-*.labels.npy")
    if damage == "truncate images":
        images.write_bytes(images.read_bytes()[:1000])
    elif damage == "labels of another length":
        np.save(labels, expected[1][:5])
    elif damage == "same shape other values":  # a valid array: only its content is wrong
        np.save(images, np.zeros_like(expected[0]))
    else:
        (folder / "checksums.json").write_text("{oops" if damage == "memo not json"
                                               else '{"x": 5}')
    again = load("mnist", "test", tmp_path)
    np.testing.assert_array_equal(again.images, expected[0])
    np.testing.assert_array_equal(again.labels, expected[1])
    assert again.identity == first.identity and "warning: damaged" in caplog.text or \
        "is damaged or was changed" in caplog.text


@pytest.mark.parametrize("corrupt, message", [
    (lambda b: b"\x00\x00\x09\x03" + b[4:], "wrong IDX magic number"),
    (lambda b: b[:-100], "truncated or corrupt"),
    (lambda b: b[:6], "truncated IDX header"),
])
def test_bad_idx_files(tmp_path, corrupt, message):
    write_idx_dataset(tmp_path / "mnist", gz=False)
    path = tmp_path / "mnist" / "train-images-idx3-ubyte"
    path.write_bytes(corrupt(path.read_bytes()))
    with pytest.raises(DatasetError, match=message):
        load("mnist", "train", tmp_path)
    assert not list(prepared_dir(get_dataset("mnist")).glob("train-*.npy"))


def test_truncated_gzip_and_missing_file(tmp_path):
    folder = tmp_path / "mnist"
    write_idx_dataset(folder, gz=True)
    gz = folder / "t10k-labels-idx1-ubyte.gz"
    gz.write_bytes(gz.read_bytes()[:30])
    with pytest.raises(DatasetError, match="unreadable or truncated"):
        load("mnist", "test", tmp_path)
    gz.unlink()
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte.gz: missing; run"):
        load("mnist", "test", tmp_path)


@pytest.mark.official_checksums
def test_loading_checks_official_checksums(tmp_path):
    """An officially named file with other bytes is refused before anything is decoded; an
    uncompressed copy that is not the official file loads, and its identity says so."""
    write_idx_dataset(tmp_path / "gz" / "mnist", gz=True)
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte.gz: MD5 \w+ does not "
                                           "match the official f68b3c2d"):
        load("mnist", "train", tmp_path / "gz")
    assert not list(prepared_dir(get_dataset("mnist")).glob("*.npy"))
    write_idx_dataset(tmp_path / "raw" / "mnist", gz=False)
    assert load("mnist", "test", tmp_path / "raw").identity.endswith(UNOFFICIAL)


def test_wrong_checksum_is_reported_with_what_to_do(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(
        np.zeros((1, 28, 28)))))
    src = get_dataset("mnist").sources("train")[0]
    with pytest.raises(DatasetError, match="does not match the official .*download it again"):
        check_digests(src, folder / src.name)


def test_svhn_mat_format_and_label_10_means_0(tmp_path):
    labels = write_svhn(tmp_path / "svhn")
    split = load("svhn", "train", tmp_path)
    assert split.images.shape == (30, 3, 32, 32)
    np.testing.assert_array_equal(split.labels, labels)
    assert split.labels.min() == 0 and 10 not in split.labels


def test_svhn_corrupt_mat(tmp_path):
    (tmp_path / "svhn").mkdir()
    (tmp_path / "svhn" / "test_32x32.mat").write_bytes(b"MATLAB 5.0 MAT-file" + b"\x00" * 50)
    with pytest.raises(DatasetError, match="test_32x32.mat: not a readable MATLAB v5 file"):
        load("svhn", "test", tmp_path)


def test_cifar_binary_version(tmp_path):
    write_cifar_binary(tmp_path / "cifar10")
    train = load("cifar10", "train", tmp_path)
    test = load("cifar10", "test", tmp_path)
    assert train.images.shape == (50000, 3, 32, 32) and len(test) == 10000
    np.testing.assert_array_equal(train.labels[:3], [0, 1, 2])
    np.testing.assert_array_equal(train.labels[10000:10003], [1, 2, 3])


def test_cifar_truncated_batch(tmp_path):
    write_cifar_binary(tmp_path / "cifar10")
    path = tmp_path / "cifar10" / "cifar-10-batches-bin" / "test_batch.bin"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(DatasetError, match="test_batch.bin: 5000 bytes"):
        load("cifar10", "test", tmp_path)


def test_image_folder_dataset(tmp_path):
    write_image_folder(tmp_path / "mine")
    ds = get_dataset(f"folder:{tmp_path / 'mine'}")
    split = load(ds.name, "train", tmp_path)
    assert ds.splits == ("test", "train")
    assert split.images.shape == (12, 3, 16, 16)
    np.testing.assert_array_equal(split.labels, np.repeat([0, 1, 2], 4))
    assert split.label_names == ("a", "b", "c")


def test_grey_image_folder_has_one_channel(tmp_path):
    write_image_folder(tmp_path / "g", grey=True, split_names=("train",))
    split = load(f"folder:{tmp_path / 'g'}", "train", tmp_path)
    assert split.images.shape == (12, 1, 16, 16)


def test_empty_class_folder_and_corrupt_png(tmp_path):
    write_image_folder(tmp_path / "mine")
    (tmp_path / "mine" / "train" / "empty").mkdir()
    with pytest.raises(DatasetError, match="empty: empty class folder"):
        load(f"folder:{tmp_path / 'mine'}", "train", tmp_path)
    (tmp_path / "mine" / "train" / "empty").rmdir()
    bad = next((tmp_path / "mine" / "train" / "b").glob("*.png"))
    bad.write_bytes(bad.read_bytes()[:60])
    with pytest.raises(DatasetError, match=f"{bad.name}: unreadable or truncated image"):
        load(f"folder:{tmp_path / 'mine'}", "train", tmp_path)


def test_celeba_annotations_images_and_crop(tmp_path):
    attrs = write_celeba(tmp_path / "celeba", n=12)
    ds = get_dataset("celeba")
    train = load("celeba", "train", tmp_path)
    assert train.images.shape == (6, 3, 64, 64)
    np.testing.assert_array_equal(train.labels, attrs[:6])
    assert ds.label_names[0] == "5_o_Clock_Shadow" and len(ds.label_names) == 40
    assert len(load("celeba", "valid", tmp_path)) == 3
    assert len(load("celeba", "test", tmp_path)) == 3


def test_celeba_missing_images_name_the_files_and_what_to_do(tmp_path):
    write_celeba(tmp_path / "celeba", n=12, images=4)
    with pytest.raises(DatasetError, match="2 of the 6 images of split 'train' are missing "
                                           "\\(first: 000005.jpg\\).*img_align_celeba.zip"):
        load("celeba", "train", tmp_path)
    assert len(load("celeba", "present", tmp_path)) == 4
    (tmp_path / "celeba" / "img_align_celeba" / "000002.jpg").unlink()
    with pytest.raises(DatasetError, match=r"000002.jpg: missing while later images \(up to "
                                           r"000004.jpg\) are present; the 'present' split"):
        load("celeba", "present", tmp_path)


@pytest.mark.parametrize("edit, message", [
    (lambda lines: lines[:2] + [lines[2].rsplit(" ", 1)[0]] + lines[3:],
     "line 3 has 39 attribute columns"),
    (lambda lines: ["13"] + lines[1:], "12 rows but the first line says 13"),
])
def test_celeba_bad_attribute_file(tmp_path, edit, message):
    write_celeba(tmp_path / "celeba", n=12)
    path = tmp_path / "celeba" / "list_attr_celeba.txt"
    path.write_text("\n".join(edit(path.read_text().splitlines())) + "\n")
    with pytest.raises(DatasetError, match=message):
        load("celeba", "train", tmp_path)


def test_celeba_unknown_ids_between_files(tmp_path):
    write_celeba(tmp_path / "celeba", n=12)
    path = tmp_path / "celeba" / "list_eval_partition.txt"
    path.write_text(path.read_text().replace("000003.jpg", "999999.jpg"))
    with pytest.raises(DatasetError, match="2 image ids appear in only one"):
        load("celeba", "train", tmp_path)


def test_corrupt_jpeg(tmp_path):
    write_celeba(tmp_path / "celeba", n=4)
    jpg = tmp_path / "celeba" / "img_align_celeba" / "000002.jpg"
    jpg.write_bytes(jpg.read_bytes()[:300])
    with pytest.raises(DatasetError, match="000002.jpg: unreadable or truncated image"):
        load("celeba", "train", tmp_path)


def test_safe_extract_refuses_escaping_members(tmp_path):
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        data = b"x"
        info = tarfile.TarInfo("../escaped.txt")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    with pytest.raises(DatasetError, match="refusing to extract"):
        safe_extract(archive, tmp_path / "target")
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "target").exists()
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"not an archive at all")
    with pytest.raises(DatasetError, match="not a readable archive") as caught:
        safe_extract(garbage, tmp_path / "target")
    assert "\n" not in str(caught.value) and not (tmp_path / "target").exists()
    truncated = tmp_path / "truncated.tar.gz"
    with tarfile.open(truncated, "w:gz") as tf:
        info = tarfile.TarInfo("a.txt")
        payload = np.random.default_rng(0).bytes(100_000)
        info.size = len(payload)
        tf.addfile(info, io.BytesIO(payload))
    truncated.write_bytes(truncated.read_bytes()[:30_000])
    with pytest.raises(DatasetError, match="not a readable archive"):
        safe_extract(truncated, tmp_path / "target")
    assert not (tmp_path / "target").exists()


def test_safe_extract_checks_a_zip_before_writing_anything(tmp_path):
    import zipfile

    archive = tmp_path / "images.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("img/000001.jpg", b"A" * 1000)
        zf.writestr("img/000002.jpg", b"B" * 1000)
    data = bytearray(archive.read_bytes())
    data[data.index(b"B" * 1000) + 10] = ord("C")  # one byte of the second member
    archive.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match="'img/000002.jpg' is damaged"):
        safe_extract(archive, tmp_path / "target")
    assert not (tmp_path / "target").exists()


def test_download_verifies_and_renames_only_when_correct(tmp_path, monkeypatch):
    from halibench.data import download as dl

    payload = b"official bytes"
    monkeypatch.setattr(dl, "_stream", lambda url, dest, label: dest.write_bytes(payload))
    good = SourceFile("f.bin", md5="0bb7a9f6a2a4e4e7a4ba7d8e0a9f0e51", urls=("http://x/f",))
    with pytest.raises(DatasetError, match="download failed from every address"):
        dl.download(good, tmp_path)
    assert list(tmp_path.iterdir()) == []
    import hashlib

    ok = SourceFile("f.bin", md5=hashlib.md5(payload).hexdigest(), urls=("http://x/f",))
    assert dl.download(ok, tmp_path).read_bytes() == payload


def test_cli_data_commands(tiny_mnist_root):
    runner = CliRunner()
    listing = runner.invoke(cli, ["data", "list", "--data-root", str(tiny_mnist_root)])
    assert listing.exit_code == 0 and "mnist" in listing.output
    info = runner.invoke(cli, ["data", "info", "mnist", "--data-root", str(tiny_mnist_root)])
    assert info.exit_code == 0 and "train: 300 images of shape [1, 28, 28]" in info.output
    bad = runner.invoke(cli, ["data", "info", "nope"])
    assert bad.exit_code == 2 and bad.output.startswith("error: unknown dataset 'nope'")
    prep = runner.invoke(cli, ["data", "prepare", "svhn", "--no-download",
                               "--data-root", str(tiny_mnist_root)])
    assert prep.exit_code == 2 and "train_32x32.mat: missing" in prep.output
