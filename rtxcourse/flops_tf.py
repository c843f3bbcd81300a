"""Parameters and forward FLOPs of a built Keras 3 model, by walking its layers.

    from rtxcourse import flops_tf
    c = flops_tf.count(model, batch=8)   # -> rtxcourse.flops.ModelCount (same as flops_torch.count)
    c.params, c.flops, c.flops_per_example; print(c.table())

Keras has no FLOP counter of its own, so each layer's cost comes from the formulas in
:mod:`rtxcourse.flops`, with the shapes the layer was built for (``layer.input``) and its
hyper-parameters (kernel, strides, padding, groups, depth multiplier, heads). Layers that do
no matmul (activations, pooling, normalisation, dropout, reshapes, adds) count 0 FLOPs, the
convention of ``torch.utils.flop_counter``; normalisation layers still count their parameters.
Parameters are the trainable weights (as torch's ``parameters()``; BatchNorm's moving statistics
are left out, which ``model.count_params()`` would include).
A layer the walker does not know raises ``ValueError`` naming it and the layers it knows,
rather than silently counting 0: a model with a custom layer is counted wrongly otherwise.
Nested models (a ``keras.Model`` used as a layer) are walked recursively.
"""

from __future__ import annotations

import math

from rtxcourse import flops as F
from rtxcourse.flops import LayerCount, ModelCount

# Layers with no matmul: 0 FLOPs, their weights (if any) still counted as parameters.
NO_MATMUL = frozenset({
    "InputLayer", "ReLU", "Activation", "LeakyReLU", "ELU", "Softmax", "Dropout", "SpatialDropout2D", "Flatten",
    "Reshape", "Permute", "Add", "Subtract", "Multiply", "Average", "Concatenate", "Identity", "Rescaling",
    "ZeroPadding2D", "Cropping2D", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling1D",
    "GlobalAveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "BatchNormalization",
    "LayerNormalization", "GroupNormalization", "UpSampling2D",
    "_AddPosition",  # models_tf.transformer_classifier's position embedding: an add
})


def _square(layer, attr: str) -> int:
    values = tuple(getattr(layer, attr))
    if len(set(values)) != 1:
        raise ValueError(f"layer {layer.name!r}: {attr}={values} is not square; the counter expects equal "
                         f"height and width {attr}")
    return values[0]


def _spatial(layer):
    """(h, w, c) of a convolution's NHWC input, with the options its formula needs."""
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise ValueError(f"layer {layer.name!r} uses data_format={layer.data_format!r}; the counter expects channels_last")
    if _square(layer, "dilation_rate") != 1:
        raise ValueError(f"layer {layer.name!r} is dilated; the counter expects dilation_rate=1")
    _, h, w, c = layer.input.shape
    return h, w, c, dict(stride=_square(layer, "strides"), padding=layer.padding, bias=layer.use_bias)


def _conv(layer) -> F.Count:
    h, w, c, opts = _spatial(layer)
    return F.conv2d(h, w, c, layer.filters, _square(layer, "kernel_size"), groups=layer.groups, **opts)


def _depthwise(layer) -> F.Count:
    h, w, c, opts = _spatial(layer)
    return F.depthwise_conv2d(h, w, c, _square(layer, "kernel_size"), multiplier=layer.depth_multiplier, **opts)


def _separable(layer) -> F.Count:
    h, w, c, opts = _spatial(layer)
    if layer.depth_multiplier != 1:
        raise ValueError(f"layer {layer.name!r}: depth_multiplier={layer.depth_multiplier}; the counter expects 1")
    return F.separable_conv2d(h, w, c, layer.filters, _square(layer, "kernel_size"), **opts)


def _dense(layer) -> F.Count:
    shape = layer.input.shape
    return F.dense(shape[-1], layer.units, tokens=math.prod(shape[1:-1]), bias=layer.use_bias)


def _attention(layer) -> F.Count:
    query, value = layer.input[0], layer.input[1]
    d_model, heads = query.shape[-1], layer.num_heads
    if layer.key_dim * heads != d_model or (layer.value_dim or layer.key_dim) != layer.key_dim:
        raise ValueError(f"layer {layer.name!r}: the counter expects key_dim = value_dim = d_model / num_heads "
                         f"({d_model} / {heads}), got key_dim={layer.key_dim}, value_dim={layer.value_dim}")
    return F.attention(math.prod(query.shape[1:-1]), d_model, heads, kv_len=math.prod(value.shape[1:-1]),
                       bias=layer.use_bias)


FORMULAS = {"Conv2D": _conv, "DepthwiseConv2D": _depthwise, "SeparableConv2D": _separable, "Dense": _dense,
            "MultiHeadAttention": _attention}


def _trainable(layer) -> int:
    # Trainable weights only, like torch's parameters(): BatchNorm's moving mean and variance are
    # buffers in torch and non-trainable weights in Keras (model.count_params() includes them).
    return sum(math.prod(v.shape) for v in layer.trainable_weights)


def _rows(model, prefix: str = ""):
    for layer in model.layers:
        kind = type(layer).__name__
        name = prefix + layer.name
        if hasattr(layer, "layers") and kind not in FORMULAS:  # a nested model
            yield from _rows(layer, name + "/")
        elif kind in FORMULAS:
            c, weights = FORMULAS[kind](layer), _trainable(layer)
            if c.params != weights:  # the formula missed an option of this layer
                raise RuntimeError(f"layer {name!r} ({kind}) holds {weights} trainable weights but its formula gives {c.params}")
            yield name, kind, c
        elif kind in NO_MATMUL:
            yield name, kind, F.Count(params=_trainable(layer), macs=0)
        else:
            raise ValueError(f"unknown layer {name!r} of type {kind}: the FLOP counter knows {', '.join(sorted(FORMULAS))} "
                             f"and the matmul-free layers in rtxcourse.flops_tf.NO_MATMUL; add a formula to FORMULAS "
                             f"for it")


def count(model, batch: int = 1) -> ModelCount:
    """Parameters and forward FLOPs of a built Keras model for ``batch`` examples, one row per layer."""
    from rtxcourse.validate import positive_ints

    positive_ints(batch=batch)
    if not hasattr(model, "layers") or not getattr(model, "built", False):
        raise ValueError(f"count() needs a built Keras model (call it or give it an Input), got {type(model).__name__}")
    rows = [LayerCount(name, kind, c.params, batch * c.flops) for name, kind, c in _rows(model)]
    return ModelCount(params=sum(r.params for r in rows), flops=sum(r.flops for r in rows), batch=batch, layers=rows,
                      source="rtxcourse.flops formulas per Keras layer, forward pass")
