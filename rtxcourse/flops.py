"""Parameters and FLOPs of convolutions, dense layers and attention, from their formulas.

Framework-free: the formulas here are what lesson 06 derives, and what the framework counters
(:mod:`rtxcourse.flops_torch`, :mod:`rtxcourse.flops_tf`) are checked against. Conventions:

* ``macs`` are multiply-adds for **one example**; ``flops = 2 * macs`` (one multiply, one add),
  the convention of ``torch.utils.flop_counter.FlopCounterMode`` and of most papers.
* Only the products of matmuls and convolutions are counted: bias adds, normalisation,
  activations, pooling and softmax are left out (they are memory-bound and small), as
  ``FlopCounterMode`` leaves them out.
* ``params`` include the bias where there is one.

API (every function returns a :class:`Count`; sizes are positive ints)::

    conv2d(h, w, c_in, c_out, k, *, stride=1, padding="same", groups=1, bias=True)
    depthwise_conv2d(h, w, c, k, *, stride=1, padding="same", multiplier=1, bias=True)
    pointwise_conv2d(h, w, c_in, c_out, *, bias=True)
    separable_conv2d(h, w, c_in, c_out, k, *, stride=1, padding="same", bias=True)  # depthwise (no bias) + pointwise
    dense(in_features, out_features, *, tokens=1, bias=True)       # tokens: positions sharing the weights
    attention(seq_len, d_model, n_heads, *, kv_len=None, bias=True) # Q, K, V, output projections + QK^T + AV
    separable_reduction(c_out, k) -> float                          # 1/c_out + 1/k^2: separable / standard
    arithmetic_intensity(count, batch=1, itemsize=4) -> float       # FLOPs per byte moved (inputs, weights, outputs)
    roofline(intensity, peak_flops, bandwidth) -> FLOP/s             # min(peak, bandwidth * intensity), arrays too

:class:`Count` adds (``a + b`` for layers in sequence) and :class:`ModelCount` is what the
framework counters return for a whole model (``.params``, ``.flops``, ``.layers``, ``.table()``).
Bad input (groups that do not divide the channels, a kernel larger than the input, a size that
is not a positive int) raises ``ValueError`` saying what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rtxcourse.validate import positive_ints


@dataclass(frozen=True)
class Count:
    """Parameters and multiply-adds of one layer (or of several in sequence), per example."""

    params: int
    macs: int
    in_elems: int = 0  # input values read, per example (for arithmetic intensity)
    out_elems: int = 0  # output values written, per example
    out_shape: tuple[int, ...] = ()  # (H, W, C) for convolutions, (tokens, features) for dense

    @property
    def flops(self) -> int:
        """FLOPs per example: 2 per multiply-add."""
        return 2 * self.macs

    def __add__(self, other: Count) -> Count:
        """Two layers in sequence: the second's output shape, both layers' costs and traffic."""
        return Count(self.params + other.params, self.macs + other.macs, self.in_elems + other.in_elems,
                     self.out_elems + other.out_elems, other.out_shape)


def _out_size(size: int, k: int, stride: int, padding) -> int:
    """Output length of one spatial axis: Keras/torch rules for 'same', 'valid' or an int padding."""
    if padding == "same":
        return -(-size // stride)  # ceil(size / stride)
    pad = 0 if padding == "valid" else padding
    if isinstance(pad, bool) or not isinstance(pad, int) or pad < 0:
        raise ValueError(f"padding must be 'same', 'valid' or an int >= 0, got {padding!r}")
    return (size + 2 * pad - k) // stride + 1


def _check_kernel(h: int, w: int, k: int) -> None:
    if k > h or k > w:
        raise ValueError(f"kernel {k}x{k} is larger than the {h}x{w} input: expected kernel size <= input height "
                         f"and width (did a kernel size go where the input or the filters belong?)")


def conv2d(h: int, w: int, c_in: int, c_out: int, k: int, *, stride: int = 1, padding="same", groups: int = 1,
           bias: bool = True) -> Count:
    """A k x k convolution of an h x w x c_in input to c_out channels, in ``groups`` groups.

    Each output value sums k*k*(c_in/groups) products: macs = H_out*W_out*c_out*k*k*c_in/groups,
    params = k*k*(c_in/groups)*c_out (+ c_out biases). groups=c_in=c_out is a depthwise conv.
    """
    positive_ints(h=h, w=w, c_in=c_in, c_out=c_out, k=k, stride=stride, groups=groups)
    if c_in % groups or c_out % groups:
        raise ValueError(f"groups={groups} must divide both c_in={c_in} and c_out={c_out}: expected a common divisor "
                         f"(groups=c_in for a depthwise convolution)")
    _check_kernel(h, w, k)
    ho, wo = _out_size(h, k, stride, padding), _out_size(w, k, stride, padding)
    weights = k * k * (c_in // groups) * c_out
    return Count(params=weights + (c_out if bias else 0), macs=ho * wo * weights, in_elems=h * w * c_in,
                 out_elems=ho * wo * c_out, out_shape=(ho, wo, c_out))


def depthwise_conv2d(h: int, w: int, c: int, k: int, *, stride: int = 1, padding="same", multiplier: int = 1,
                     bias: bool = True) -> Count:
    """One k x k filter per input channel (``multiplier`` of them): no mixing across channels."""
    positive_ints(c=c, multiplier=multiplier)
    return conv2d(h, w, c, c * multiplier, k, stride=stride, padding=padding, groups=c, bias=bias)


def pointwise_conv2d(h: int, w: int, c_in: int, c_out: int, *, bias: bool = True) -> Count:
    """A 1x1 convolution: a dense layer applied at every pixel, mixing channels only."""
    return conv2d(h, w, c_in, c_out, 1, bias=bias)


def separable_conv2d(h: int, w: int, c_in: int, c_out: int, k: int, *, stride: int = 1, padding="same",
                     bias: bool = True) -> Count:
    """Depthwise k x k (no bias) then pointwise 1x1 (with ``bias``): Keras ``SeparableConv2D``."""
    dw = depthwise_conv2d(h, w, c_in, k, stride=stride, padding=padding, bias=False)
    return dw + pointwise_conv2d(dw.out_shape[0], dw.out_shape[1], c_in, c_out, bias=bias)


def dense(in_features: int, out_features: int, *, tokens: int = 1, bias: bool = True) -> Count:
    """A dense (linear) layer applied to ``tokens`` positions of one example (1 for an MLP)."""
    positive_ints(in_features=in_features, out_features=out_features, tokens=tokens)
    return Count(params=in_features * out_features + (out_features if bias else 0),
                 macs=tokens * in_features * out_features, in_elems=tokens * in_features,
                 out_elems=tokens * out_features, out_shape=(tokens, out_features))


def attention(seq_len: int, d_model: int, n_heads: int, *, kv_len: int | None = None, bias: bool = True) -> Count:
    """Multi-head attention of seq_len queries over kv_len keys (self-attention: kv_len = seq_len).

    Four d_model x d_model projections (Q, K, V, output), then per head the scores Q K^T
    (seq_len * kv_len * head_dim) and the weighted sum A V (the same again): together
    2*seq_len*kv_len*d_model multiply-adds, which grow with the square of the sequence.
    """
    kv_len = seq_len if kv_len is None else kv_len
    positive_ints(seq_len=seq_len, kv_len=kv_len, d_model=d_model, n_heads=n_heads)
    if d_model % n_heads:
        raise ValueError(f"d_model={d_model} must be divisible by n_heads={n_heads}: expected equal head sizes")
    q = dense(d_model, d_model, tokens=seq_len, bias=bias)
    kv = dense(d_model, d_model, tokens=kv_len, bias=bias)
    out = dense(d_model, d_model, tokens=seq_len, bias=bias)
    mixing = 2 * seq_len * kv_len * d_model
    return Count(params=q.params + 2 * kv.params + out.params, macs=q.macs + 2 * kv.macs + out.macs + mixing,
                 in_elems=seq_len * d_model, out_elems=seq_len * d_model, out_shape=(seq_len, d_model))


def separable_reduction(c_out: int, k: int) -> float:
    """Cost of a separable conv over a standard one (params and macs, no bias): 1/c_out + 1/k^2.

    Standard: k^2 * C_in * N per pixel. Separable: k^2 * C_in (depthwise) + C_in * N
    (pointwise). Ratio: (k^2 C_in + C_in N) / (k^2 C_in N) = 1/N + 1/k^2.
    """
    positive_ints(c_out=c_out, k=k)
    return 1 / c_out + 1 / k**2


def arithmetic_intensity(count: Count, batch: int = 1, itemsize: int = 4) -> float:
    """FLOPs per byte moved by a layer: batch*flops / ((batch*(inputs + outputs) + params) * itemsize).

    The lower bound on traffic (each value read or written once); a layer whose intensity is
    below the machine's ridge point (peak FLOP/s / bandwidth) is memory-bound.
    """
    positive_ints(batch=batch, itemsize=itemsize)
    moved = (batch * (count.in_elems + count.out_elems) + count.params) * itemsize
    if moved == 0:
        raise ValueError("the count moves no data (in_elems, out_elems and params are all 0): expected a layer's Count")
    return batch * count.flops / moved


def roofline(intensity, peak_flops: float, bandwidth: float):
    """Attainable FLOP/s at an arithmetic intensity: min(peak FLOP/s, bandwidth B/s * FLOP/B).

    Left of the ridge point (``peak_flops / bandwidth`` FLOP/B) memory traffic caps the speed,
    right of it the arithmetic does. Works on a number or an array of intensities.
    """
    if not peak_flops > 0 or not bandwidth > 0:
        raise ValueError(f"peak_flops and bandwidth must be > 0 (FLOP/s and B/s), got {peak_flops!r} and {bandwidth!r}")
    return np.minimum(peak_flops, bandwidth * np.asarray(intensity, dtype=float))


@dataclass(frozen=True)
class LayerCount:
    """One row of a model count: the layer's name and kind, its parameters and FLOPs for the batch."""

    name: str
    kind: str
    params: int
    flops: int


@dataclass(frozen=True)
class ModelCount:
    """Parameters and forward FLOPs of a whole model for a batch, with the per-layer rows."""

    params: int
    flops: int  # forward FLOPs of the whole batch
    batch: int
    layers: list[LayerCount] = field(default_factory=list)
    source: str = ""  # how the FLOPs were counted

    @property
    def flops_per_example(self) -> float:
        return self.flops / self.batch

    def table(self) -> str:
        """One line per layer with parameters or FLOPs, then the totals and how they were counted."""
        rows = [(r.name, r.kind, f"{r.params:,}", f"{r.flops / self.batch:,.0f}") for r in self.layers if r.params or r.flops]
        rows = [("layer", "kind", "params", "FLOPs/example")] + rows + [("total", "", f"{self.params:,}", f"{self.flops_per_example:,.0f}")]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = ["  ".join(c.ljust(wd) if j < 2 else c.rjust(wd) for j, (c, wd) in enumerate(zip(r, widths))) for r in rows]
        return "\n".join(lines[:1] + ["  ".join("-" * wd for wd in widths)] + lines[1:] + [f"({self.source})"])
