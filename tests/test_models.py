import numpy as np
import pytest


def test_torch_models_shapes_and_errors():
    torch = pytest.importorskip("torch")
    from rtxcourse import models_torch as m

    assert m.SmallCNN(3, 10, 8)(torch.randn(2, 3, 16, 16)).shape == (2, 10)
    assert m.MLP(64, (32, 16), 5)(torch.randn(2, 1, 8, 8)).shape == (2, 5)
    assert m.TransformerClassifier(8, 32, 4, 1, 3)(torch.randn(2, 8, 32)).shape == (2, 3)
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
