"""One set of weights in both frameworks: Keras twins copied into torch give the same outputs."""

import numpy as np
import pytest

pytest.importorskip("tensorflow")
torch = pytest.importorskip("torch")
pytestmark = pytest.mark.slow  # imports both frameworks

import keras  # noqa: E402

from rtxcourse import models_tf as k  # noqa: E402
from rtxcourse import models_torch as m  # noqa: E402


def _random_batchnorm_statistics(model, seed=1):
    """Fresh BN layers normalise by 0 and 1, which would hide a mean/variance mix-up."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            g, b, mu, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, g.shape), rng.normal(size=b.shape), rng.normal(size=mu.shape),
                               rng.uniform(0.5, 2.0, var.shape)])


def _nchw(x):
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def test_separable_cnn_twins_agree():
    keras.utils.set_random_seed(0)
    km = k.separable_cnn((16, 16, 1), 10, 8)
    _random_batchnorm_statistics(km)
    tm = m.load_keras_weights(m.SeparableCNN(1, 10, 8), km).eval()
    x = np.random.default_rng(0).standard_normal((4, 16, 16, 1)).astype("float32")
    with torch.no_grad():
        diff = np.abs(np.asarray(km(x, training=False)) - tm(_nchw(x)).numpy()).max()
    assert diff < 1e-5


@pytest.mark.parametrize("stride, cin, cout, size", [(1, 8, 8, 9), (2, 8, 16, 9), (2, 8, 16, 8)])
def test_inverted_residual_twins_agree_including_strided_same_padding(stride, cin, cout, size):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((size, size, cin))
    kb = keras.Model(inputs, k.inverted_residual(inputs, cout, stride))
    _random_batchnorm_statistics(kb)
    tb = m.load_keras_weights(m.InvertedResidual(cin, cout, stride), kb).eval()
    x = np.random.default_rng(0).standard_normal((2, size, size, cin)).astype("float32")
    with torch.no_grad():
        out = tb(_nchw(x)).numpy().transpose(0, 2, 3, 1)
    assert np.abs(np.asarray(kb(x, training=False)) - out).max() < 1e-5


def test_standard_cnn_and_mlp_twins_agree():
    keras.utils.set_random_seed(0)
    km, tm = k.small_cnn((8, 8, 3), 10, 8), m.SmallCNN(3, 10, 8)
    _random_batchnorm_statistics(km)
    m.load_keras_weights(tm, km).eval()
    x = np.random.default_rng(0).standard_normal((2, 8, 8, 3)).astype("float32")
    with torch.no_grad():
        assert np.abs(np.asarray(km(x, training=False)) - tm(_nchw(x)).numpy()).max() < 1e-5
    kmlp, tmlp = k.mlp((64,), (32,), 10), m.MLP(64, (32,), 10)
    m.load_keras_weights(tmlp, kmlp)
    flat = x.reshape(2, -1)[:, :64]
    with torch.no_grad():
        assert np.abs(np.asarray(kmlp(flat)) - tmlp(torch.from_numpy(flat)).numpy()).max() < 1e-5


def test_mismatched_twins_are_refused_with_the_reason():
    km = k.separable_cnn((16, 16, 1), 10, 8)
    with pytest.raises(ValueError, match="expected twins built with the same sizes"):
        m.load_keras_weights(m.SmallCNN(1, 10, 8), km)  # 13 torch layers with weights, 18 Keras ones
    with pytest.raises(ValueError, match=r"becomes shape \(8, 1, 3, 3\) but the torch layer expects \(16, 1, 3, 3\)"):
        m.load_keras_weights(m.SeparableCNN(1, 10, 16), km)
