"""The course's small PyTorch models (twins of rtxcourse.models_tf), for lessons and benchmarks.

All return logits (no softmax): the loss (``nn.CrossEntropyLoss``) applies log-softmax itself,
in float32 under autocast, which is both faster and numerically safer.

Lesson 06's separable models (:class:`SeparableConv2d`, :class:`InvertedResidual`,
:class:`SeparableCNN`) compute the same function as their Keras twins in
:mod:`rtxcourse.models_tf` once :func:`load_keras_weights` has copied the Keras weights in:
their BatchNorm layers share epsilon and momentum, and a strided convolution pads the way
Keras' ``padding="same"`` does (more at the bottom and right than at the top and left).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from rtxcourse.validate import positive_ints


class MLP(nn.Module):
    """Flatten -> [Linear -> ReLU] * len(hidden) -> Linear(num_classes)."""

    def __init__(self, in_features: int, hidden: tuple[int, ...] = (512,), num_classes: int = 10):
        super().__init__()
        positive_ints(in_features=in_features, num_classes=num_classes, **{f"hidden[{i}]": h for i, h in enumerate(hidden)})
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _conv_block(cin: int, cout: int) -> nn.Sequential:
    # bias=False: the BatchNorm that follows has its own shift, a bias would be redundant.
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class SmallCNN(nn.Module):
    """Three conv stages (width, 2*width, 4*width channels), each two 3x3 convs and a 2x2 pool.

    Channel counts are multiples of 8 when ``width`` is, which Tensor Cores need for fp16/bf16.
    Works for any input size of at least 8x8 (global average pooling at the end).
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 10, width: int = 32):
        super().__init__()
        positive_ints(in_channels=in_channels, num_classes=num_classes, width=width)
        w = width
        self.features = nn.Sequential(
            _conv_block(in_channels, w), _conv_block(w, w), nn.MaxPool2d(2),
            _conv_block(w, 2 * w), _conv_block(2 * w, 2 * w), nn.MaxPool2d(2),
            _conv_block(2 * w, 4 * w), _conv_block(4 * w, 4 * w), nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Linear(4 * w, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4:
            raise ValueError(f"SmallCNN expects (N, C, H, W) images, got shape {tuple(x.shape)}")
        return self.head(torch.flatten(self.features(x), 1))


class TransformerBlock(nn.Module):
    """Pre-norm transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, d_model: int = 256, n_heads: int = 4, mlp_ratio: int = 4):
        super().__init__()
        positive_ints(d_model=d_model, n_heads=n_heads, mlp_ratio=mlp_ratio)
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        self.ln1, self.ln2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.attn = nn.MultiheadAttention(d_model, n_heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(d_model, mlp_ratio * d_model), nn.GELU(), nn.Linear(mlp_ratio * d_model, d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.ln1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.ln2(x))


class TransformerClassifier(nn.Module):
    """Float sequences (B, T, d_model) -> learned positions -> n_layers blocks -> mean -> logits."""

    def __init__(self, seq_len: int = 64, d_model: int = 256, n_heads: int = 4, n_layers: int = 2, num_classes: int = 10):
        super().__init__()
        positive_ints(seq_len=seq_len, n_layers=n_layers, num_classes=num_classes)
        self.pos = nn.Parameter(torch.zeros(1, seq_len, d_model))
        self.blocks = nn.Sequential(*[TransformerBlock(d_model, n_heads) for _ in range(n_layers)])
        self.ln = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3 or x.shape[1:] != self.pos.shape[1:]:
            raise ValueError(f"expected input (B, {self.pos.shape[1]}, {self.pos.shape[2]}), got {tuple(x.shape)}")
        return self.head(self.ln(self.blocks(x + self.pos)).mean(dim=1))


# --------------------------------------------------------------------------- lesson 06: separable convolutions


def _bn(channels: int) -> nn.BatchNorm2d:
    # Keras' epsilon (1e-3) so the twins normalise alike; torch's momentum 0.1 (Keras twin: 0.9),
    # since Keras' 0.99 leaves the running statistics near their initial values after a short run.
    return nn.BatchNorm2d(channels, eps=1e-3)


class SamePad2d(nn.Module):
    """Zero padding of Keras/TensorFlow ``padding="same"``: total k - 1 (strided: what ceil(n/s) needs), extra at the end."""

    def __init__(self, kernel_size: int, stride: int = 1):
        super().__init__()
        positive_ints(kernel_size=kernel_size, stride=stride)
        self.kernel_size, self.stride = kernel_size, stride

    def _pads(self, n: int) -> tuple[int, int]:
        total = max((math.ceil(n / self.stride) - 1) * self.stride + self.kernel_size - n, 0)
        return total // 2, total - total // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top, bottom = self._pads(x.shape[-2])
        left, right = self._pads(x.shape[-1])
        return nn.functional.pad(x, (left, right, top, bottom))


def depthwise_conv2d(channels: int, kernel_size: int = 3, stride: int = 1, bias: bool = False) -> nn.Sequential:
    """One k x k filter per channel: ``Conv2d(groups=channels)`` after Keras-style "same" padding."""
    positive_ints(channels=channels)
    return nn.Sequential(SamePad2d(kernel_size, stride),
                         nn.Conv2d(channels, channels, kernel_size, stride=stride, groups=channels, bias=bias))


class SeparableConv2d(nn.Module):
    """Depthwise k x k (no bias) then pointwise 1x1 (with ``bias``): Keras ``SeparableConv2D`` in PyTorch."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1, bias: bool = True):
        super().__init__()
        positive_ints(in_channels=in_channels, out_channels=out_channels)
        self.depthwise = depthwise_conv2d(in_channels, kernel_size, stride)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand -> BN -> ReLU6 -> 3x3 depthwise -> BN -> ReLU6 -> 1x1 project -> BN (+ x).

    The expansion widens the channels ``expansion`` times so the cheap depthwise conv has
    more to work on; the projection is linear (no ReLU: it would destroy information in the
    narrow output). The input is added back when the shapes allow (stride 1, same channels).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, expansion: int = 6):
        super().__init__()
        positive_ints(in_channels=in_channels, out_channels=out_channels, expansion=expansion)
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride!r}")
        hidden = in_channels * expansion
        expand = [nn.Conv2d(in_channels, hidden, 1, bias=False), _bn(hidden), nn.ReLU6()] if expansion != 1 else []
        self.block = nn.Sequential(*expand, depthwise_conv2d(hidden, 3, stride), _bn(hidden), nn.ReLU6(),
                                   nn.Conv2d(hidden, out_channels, 1, bias=False), _bn(out_channels))
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x) if self.residual else self.block(x)


class SeparableCNN(nn.Module):
    """SmallCNN with every 3x3 conv but the first made depthwise-separable (MobileNet's recipe).

    The first conv stays standard: on 1-3 input channels a depthwise conv has almost nothing
    to filter and saves nothing. Same stages and widths as :class:`SmallCNN`.
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 10, width: int = 32):
        super().__init__()
        positive_ints(in_channels=in_channels, num_classes=num_classes, width=width)

        def sep(cin: int, cout: int) -> list[nn.Module]:
            return [SeparableConv2d(cin, cout, 3, bias=False), _bn(cout), nn.ReLU()]

        w = width
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, w, 3, padding=1, bias=False), _bn(w), nn.ReLU(), *sep(w, w), nn.MaxPool2d(2),
            *sep(w, 2 * w), *sep(2 * w, 2 * w), nn.MaxPool2d(2),
            *sep(2 * w, 4 * w), *sep(4 * w, 4 * w), nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Linear(4 * w, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4:
            raise ValueError(f"SeparableCNN expects (N, C, H, W) images, got shape {tuple(x.shape)}")
        return self.head(torch.flatten(self.features(x), 1))


# --------------------------------------------------------------------------- weights from Keras


def _keras_layers_with_weights(keras_model) -> list:
    out = []
    for layer in keras_model.layers:
        if hasattr(layer, "layers"):  # a nested model
            out += _keras_layers_with_weights(layer)
        elif layer.weights:
            out.append(layer)
    return out


def _set(param: torch.Tensor, value, what: str) -> None:
    value = torch.as_tensor(value, dtype=param.dtype)
    if tuple(value.shape) != tuple(param.shape):
        raise ValueError(f"{what}: the Keras weight becomes shape {tuple(value.shape)} but the torch layer expects "
                         f"{tuple(param.shape)} (are the two models built with the same sizes?)")
    with torch.no_grad():
        param.copy_(value)


def _copy_keras_weights(kind: str, layer, weights: list, module: nn.Module) -> None:
    """Copy one Keras layer's weights into its torch twin, transposing to torch's layout."""
    what = f"Keras {kind} {layer.name!r} -> torch {type(module).__name__}"
    if kind == "BatchNormalization" and isinstance(module, nn.BatchNorm2d):
        for target, value in zip((module.weight, module.bias, module.running_mean, module.running_var), weights):
            _set(target, value, what)
        module.eps = layer.epsilon  # same normalisation, or outputs differ by ~1e-3
        return
    if kind in ("Conv2D", "DepthwiseConv2D") and isinstance(module, nn.Conv2d):
        kernel = weights[0]
        if kind == "Conv2D":  # (kh, kw, c_in/groups, c_out) -> (c_out, c_in/groups, kh, kw)
            kernel = kernel.transpose(3, 2, 0, 1)
        else:  # (kh, kw, C, multiplier) -> (C*multiplier, 1, kh, kw): output channel c*multiplier + m in both
            kh, kw, c, mult = kernel.shape
            kernel = kernel.transpose(2, 3, 0, 1).reshape(c * mult, 1, kh, kw)
        _set(module.weight, kernel, what)
    elif kind == "Dense" and isinstance(module, nn.Linear):
        _set(module.weight, weights[0].T, what)  # Keras (in, out), torch (out, in)
    else:
        raise ValueError(f"cannot copy Keras {kind} {layer.name!r} into torch {type(module).__name__}: the models' "
                         f"layers do not line up (expected Conv2D/DepthwiseConv2D -> Conv2d, Dense -> Linear, "
                         f"BatchNormalization -> BatchNorm2d)")
    if (module.bias is None) != (len(weights) < 2):
        raise ValueError(f"{what}: one has a bias and the other has not (use_bias / bias must match)")
    if module.bias is not None:
        _set(module.bias, weights[1], what)


def load_keras_weights(model: nn.Module, keras_model) -> nn.Module:
    """Copy the weights of a Keras twin (e.g. ``models_tf.separable_cnn``) into ``model``; return it.

    Layers are matched in order: each Keras layer with weights goes to the next torch
    Conv2d / Linear / BatchNorm2d, a ``SeparableConv2D`` to two of them (depthwise, then
    pointwise). Kernels are transposed from Keras' channels-last layouts: conv HWIO -> OIHW,
    depthwise HWC1 -> C1HW, dense (in, out) -> (out, in). The Keras object is only read
    (``layers``, ``get_weights()``), so this module never imports TensorFlow.
    """
    sources = []
    for layer in _keras_layers_with_weights(keras_model):
        kind, weights = type(layer).__name__, layer.get_weights()
        if kind == "SeparableConv2D":  # [depthwise kernel, pointwise kernel, (bias)]
            sources += [("DepthwiseConv2D", layer, weights[:1]), ("Conv2D", layer, weights[1:])]
        else:
            sources.append((kind, layer, weights))
    targets = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.BatchNorm2d))]
    if len(sources) != len(targets):
        raise ValueError(f"the Keras model has {len(sources)} layers of weights to copy, the torch model "
                         f"{len(targets)} Conv2d/Linear/BatchNorm2d layers: expected twins built with the same sizes")
    for (kind, layer, weights), module in zip(sources, targets):
        _copy_keras_weights(kind, layer, weights, module)
    return model


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
