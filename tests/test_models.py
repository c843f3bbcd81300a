import numpy as np
import pytest

# Parameter counts by hand (the same models tests/test_estimate.py counts for the estimator).
# SmallCNN(3 -> 10, width 32): six 3x3 convs without bias (BatchNorm shifts instead), BN gamma and
# beta per channel, a 128 -> 10 head.
CNN_PARAMS = (3 * 32 + 32 * 32 + 32 * 64 + 64 * 64 + 64 * 128 + 128 * 128) * 9 + 2 * (32 + 32 + 64 + 64 + 128 + 128) \
    + 128 * 10 + 10
# MLP 64 -> 32 -> 16 -> 5 with biases
MLP_PARAMS = 64 * 32 + 32 + 32 * 16 + 16 + 16 * 5 + 5
# Transformer (64 tokens, d 256, 4 heads, 2 blocks, 10 classes): per block Q, K, V, O (256x256 + bias),
# an MLP 256 -> 1024 -> 256, two LayerNorms; a learned position table 64x256; a final LayerNorm and the head.
BLOCK = 4 * (256 * 256 + 256) + (256 * 1024 + 1024) + (1024 * 256 + 256) + 2 * 2 * 256
TRANSFORMER_PARAMS = 2 * BLOCK + 64 * 256 + 2 * 256 + 256 * 10 + 10


def test_torch_models_shapes_and_errors():
    torch = pytest.importorskip("torch")
    from rtxcourse import models_torch as m

    assert m.SmallCNN(3, 10, 8)(torch.randn(2, 3, 16, 16)).shape == (2, 10)
    assert m.MLP(64, (32, 16), 5)(torch.randn(2, 1, 8, 8)).shape == (2, 5)
    assert m.TransformerClassifier(8, 32, 4, 1, 3)(torch.randn(2, 8, 32)).shape == (2, 3)
    count = lambda model: sum(p.numel() for p in model.parameters())  # noqa: E731
    assert (count(m.SmallCNN(3, 10, 32)), count(m.MLP(64, (32, 16), 5)), count(m.TransformerClassifier(64, 256, 4, 2, 10))) \
        == (CNN_PARAMS, MLP_PARAMS, TRANSFORMER_PARAMS) == (288_746, 2_693, 1_598_986)
    with pytest.raises(ValueError, match="divisible"):
        m.TransformerBlock(30, 4)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        m.SmallCNN()(torch.randn(3, 32, 32))
    with pytest.raises(ValueError, match="expected input"):
        m.TransformerClassifier(8, 32, 4, 1)(torch.randn(2, 9, 32))


@pytest.mark.slow
def test_keras_models_shapes_and_float32_logits():
    pytest.importorskip("tensorflow")
    import keras

    from rtxcourse import models_tf as k

    try:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
        for model, x in ((k.small_cnn((16, 16, 3), 10, 8), np.zeros((2, 16, 16, 3), "float32")),
                         (k.mlp((8, 8, 1), (16,), 4), np.zeros((2, 8, 8, 1), "float32")),
                         (k.transformer_classifier(8, 32, 4, 1, 3), np.zeros((2, 8, 32), "float32"))):
            out = model(x)
            assert out.shape[0] == 2 and keras.backend.standardize_dtype(out.dtype) == "float32", f"{model.name} logits must be float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")
    count = lambda model: sum(int(np.prod(v.shape)) for v in model.trainable_weights)  # noqa: E731
    # the same architectures as the torch models: the same trainable parameters
    assert (count(k.small_cnn((32, 32, 3), 10, 32)), count(k.mlp((8, 8, 1), (32, 16), 5)),
            count(k.transformer_classifier(64, 256, 4, 2, 10))) == (CNN_PARAMS, MLP_PARAMS, TRANSFORMER_PARAMS)


def test_torch_separable_models_shapes_params_and_errors():
    torch = pytest.importorskip("torch")
    from rtxcourse import models_torch as m

    sep = m.SeparableConv2d(8, 16, 3)
    # depthwise 3*3*8 (no bias), pointwise 8*16 + 16: Keras SeparableConv2D's layout of weights
    assert sum(p.numel() for p in sep.parameters()) == 72 + 128 + 16
    assert sep.depthwise[1].groups == 8 and sep(torch.randn(2, 8, 9, 9)).shape == (2, 16, 9, 9)
    assert m.SeparableConv2d(8, 16, 3, stride=2)(torch.randn(1, 8, 9, 9)).shape == (1, 16, 5, 5)  # ceil(9/2)
    block = m.InvertedResidual(8, 8, stride=1, expansion=4)
    assert block.residual and block(torch.randn(2, 8, 6, 6)).shape == (2, 8, 6, 6)
    assert not m.InvertedResidual(8, 16, stride=2).residual
    assert m.SeparableCNN(1, 10, 8)(torch.randn(2, 1, 16, 16)).shape == (2, 10)
    with pytest.raises(ValueError, match="stride must be 1 or 2"):
        m.InvertedResidual(8, 8, stride=3)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        m.SeparableCNN(1)(torch.randn(1, 16, 16))


def test_same_padding_is_keras_padding():
    torch = pytest.importorskip("torch")
    from rtxcourse.models_torch import SamePad2d

    # TensorFlow's rule: total = (ceil(n/s) - 1) * s + k - n, the odd pixel at the end
    x = torch.ones(1, 1, 8, 9)
    assert SamePad2d(3, 2)(x).shape == (1, 1, 8 + 1, 9 + 2)
    assert SamePad2d(3, 2)(x)[0, 0, -1].sum() == 0 and SamePad2d(3, 2)(x)[0, 0, 0].sum() > 0  # 8 rows: pad bottom only
    assert SamePad2d(5, 1)(x).shape == (1, 1, 12, 13)
