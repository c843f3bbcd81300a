import numpy as np
import pytest

from rtxcourse import data


def test_digits_real_and_resizable():
    x, y = data.digits()
    assert x.shape == (1797, 8, 8, 1) and x.dtype == np.float32 and y.dtype == np.int64
    assert 0.0 <= x.min() and x.max() <= 1.0 and set(np.unique(y)) == set(range(10))
    # scikit-learn's pixels are 0..16 and every class has a 16 somewhere: /16 puts the maximum at 1.0
    assert all(x[y == c].max() == 1.0 for c in range(10))
    from sklearn.datasets import load_digits

    np.testing.assert_array_equal(x[:3, ..., 0] * 16, load_digits().images[:3])  # same order, exact
    x32, _ = data.digits(image_size=32, channels=3)
    assert x32.shape == (1797, 32, 32, 3)
    grey32, _ = data.digits(image_size=32)
    for ch in range(3):  # colour = the grey level repeated, not a channel-shifted copy
        np.testing.assert_array_equal(x32[..., ch], grey32[..., 0])
    with pytest.raises(ValueError, match="channels must be 1 or 3"):
        data.digits(channels=2)


def test_sample_photos_are_real_uint8_images():
    photos = data.sample_photos(("astronaut", "camera"))
    assert photos["astronaut"].shape == (512, 512, 3) and photos["astronaut"].dtype == np.uint8
    assert photos["camera"].ndim == 2
    with pytest.raises(ValueError, match="unknown photo"):
        data.sample_photos(("lena",))


def test_synthetic_images_deterministic_and_sized():
    a = data.synthetic_images(64, size=16, num_classes=4, seed=3)
    b = data.synthetic_images(64, size=16, num_classes=4, seed=3)
    c = data.synthetic_images(64, size=16, num_classes=4, seed=4)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    assert a[0].shape == (64, 16, 16, 3) and a[0].dtype == np.float32 and a[1].max() < 4
    with pytest.raises(ValueError, match="n must be a positive integer"):
        data.synthetic_images(0)


def test_synthetic_images_are_learnable_but_not_by_mean_colour():
    from sklearn.linear_model import LogisticRegression

    x, y = data.synthetic_images(1200, size=16, num_classes=4, channels=1, seed=0)
    (xtr, ytr), (xte, yte) = data.train_test_split(x, y, 0.25)
    # Orientation and frequency show in the Fourier magnitude (phase-free): learnable structure.
    spectrum = lambda a: np.abs(np.fft.rfft2(a[..., 0])).reshape(len(a), -1)  # noqa: E731
    acc_fft = LogisticRegression(max_iter=1000).fit(spectrum(xtr), ytr).score(spectrum(xte), yte)
    means = LogisticRegression(max_iter=300).fit(xtr.mean(axis=(1, 2, 3))[:, None], ytr)
    acc_mean = means.score(xte.mean(axis=(1, 2, 3))[:, None], yte)
    assert acc_mean < 0.5, "classes must not be separable by brightness alone"
    assert acc_fft > 0.9


def test_split_and_shape_checks():
    x, y = data.digits()
    (xtr, ytr), (xte, yte) = data.train_test_split(x, y, 0.2, seed=1)
    assert len(xtr) + len(xte) == len(x) and abs(len(xte) - 0.2 * len(x)) <= 1
    # A partition with each image still next to its own label: tag example i by its pixel [0, 0, 0].
    tagged = np.zeros((len(y), 2, 2, 1), np.float32)
    tagged[:, 0, 0, 0] = np.arange(len(y))
    (ttr, ltr), (tte, lte) = data.train_test_split(tagged, y, 0.2, seed=1)
    idx_tr, idx_te = ttr[:, 0, 0, 0].astype(int), tte[:, 0, 0, 0].astype(int)
    assert sorted(np.concatenate([idx_tr, idx_te])) == list(range(len(y)))  # every example once
    assert (y[idx_tr] == ltr).all() and (y[idx_te] == lte).all()
    # Stratified: each class (174 to 183 examples) gives 20% of its examples to the test set, +-1.
    for c in range(10):
        assert abs((lte == c).sum() - 0.2 * (y == c).sum()) <= 1, c
    with pytest.raises(ValueError, match=r"y must have shape \(1797,\)"):
        data.check_xy(x, y[:-1])
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        data.check_xy(x[..., 0], y)


def test_real_datasets_fall_back_offline(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("RTXCOURSE_DATA", str(tmp_path))
    m = data.mnist(download=False, limit=50)
    assert not m.is_real and m.x_train.shape == (50, 28, 28, 1)
    c = data.cifar10(download=False, limit=20)
    assert not c.is_real and c.x_test.shape == (20, 32, 32, 3) and len(c.class_names) == 10
    out = capsys.readouterr().out
    assert out.count("\n") == 2 and "MNIST not cached" in out and "CIFAR-10 not cached" in out


def test_cached_mnist_is_used(monkeypatch, tmp_path):
    monkeypatch.setenv("RTXCOURSE_DATA", str(tmp_path))
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "mnist.npz", x_train=rng.integers(0, 256, (10, 28, 28), dtype=np.uint8), y_train=np.arange(10),
             x_test=rng.integers(0, 256, (5, 28, 28), dtype=np.uint8), y_test=np.arange(5))
    m = data.mnist(download=False)
    assert m.is_real and m.x_train.shape == (10, 28, 28, 1) and m.x_train.max() <= 1.0


def test_torch_adapter():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).random((10, 6, 8, 3), dtype=np.float32)  # H != W: a swapped axis shows
    y = np.arange(10)  # label i = example i: the batch says which images it holds
    loader = data.as_torch_loader(x, y, batch_size=4, seed=0, transform=lambda im: im[::-1])
    xb, yb = next(iter(loader))
    assert xb.shape == (4, 3, 6, 8) and xb.dtype == torch.float32 and yb.dtype == torch.int64
    for image, label in zip(xb, yb):  # CHW of the transformed HWC image of that very example
        np.testing.assert_array_equal(image.numpy(), x[int(label)][::-1].transpose(2, 0, 1))
    u8 = data.as_torch_dataset(np.arange(48, dtype=np.uint8).reshape(1, 4, 4, 3) * 5, np.zeros(1, np.int64))
    np.testing.assert_allclose(u8[0][0].numpy(), np.arange(48).reshape(4, 4, 3).transpose(2, 0, 1) * 5 / 255,
                               rtol=1e-6)  # uint8 scaled to [0, 1] like torchvision's ToTensor: 255 -> 1.0
    order = lambda seed: [int(t) for _, b in data.as_torch_loader(x, y, 5, seed=seed) for t in b]  # noqa: E731
    assert order(2) == order(2) and sorted(order(2)) == list(range(10))  # a permutation, fixed by the seed
    assert order(2) != order(3) and order(2) != list(range(10))
    assert [int(t) for _, b in data.as_torch_loader(x, y, 5, shuffle=False) for t in b] == list(range(10))


@pytest.mark.slow
def test_tf_adapter():
    pytest.importorskip("tensorflow")
    x = np.random.default_rng(0).random((10, 6, 8, 3), dtype=np.float32)
    y = np.arange(10)  # label i = example i
    xb, yb = next(iter(data.as_tf_dataset(x, y, batch_size=4, seed=0)))
    assert tuple(xb.shape) == (4, 6, 8, 3) and yb.dtype.name == "int64"  # NHWC, as Keras expects
    for image, label in zip(xb.numpy(), yb.numpy()):  # each image still next to its own label
        np.testing.assert_array_equal(image, x[label])
    labels = [int(t) for _, b in data.as_tf_dataset(x, y, batch_size=4, seed=0) for t in b]
    assert sorted(labels) == list(range(10)) and labels != list(range(10))  # every example once, shuffled
