"""Will it fit, and how long will it take? Training memory and time from a model's size.

The arithmetic behind ``rtxcourse estimate`` and lesson 11, framework-free::

    from rtxcourse import estimate as est
    mem = est.training_memory(7e9, precision="bf16", optimizer="adam", gpus=8, shard="zero3")
    print(mem.table())                                   # bytes per GPU, part by part
    [g.name for g in est.fits(mem)]                      # the GPUs of rtxcourse.gpus it fits on
    est.training_time(est.transformer_flops(7e9, 1e12), gpu="H100", precision="bf16", gpus=8, mfu=0.4)

Memory per GPU, per parameter (P parameters, N GPUs), in the course's recipe (PyTorch autocast
or a Keras ``mixed_*`` policy: the model's weights stay fp32, which *is* the fp32 master copy):

============== ======= ========================= ====================================
part            fp32    mixed (bf16/fp16)         sharded by
============== ======= ========================= ====================================
weights         4 B     4 B fp32 master           ZeRO-3 / FSDP (/N)
16-bit copies   -       2 B (autocast's casts)    ZeRO-3 / FSDP: only the gathered unit
gradients       4 B     4 B (fp32, of fp32 ones)  ZeRO-2, ZeRO-3 / FSDP (/N)
optimizer       0/4/8   0/4/8 (SGD/momentum/Adam) ZeRO-1, -2, -3 / FSDP (/N)
activations     4 B/el  2 B/el (fp32 residuals)   never: each GPU keeps its own micro-batch
============== ======= ========================= ====================================

So Adam costs 16 B/param in fp32 and 18 B/param in mixed precision before activations
(DeepSpeed's fp16 recipe keeps 16-bit gradients: 16 B/param; the ZeRO paper's figure).
Under ZeRO-3/FSDP a GPU also holds the full weights of the unit being computed (gathered).

Time: training FLOPs / (GPUs x dense peak x MFU). A transformer trains in about 6 x params x
tokens FLOPs (forward 2, backward 4; +2 when checkpointing recomputes the forward); a CNN in
3 x its counted forward FLOPs per sample x samples. MFU (model FLOPs utilisation) is between 0
and 1: about 0.3-0.5 for a well-tuned large transformer, less for small models.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

from rtxcourse import gpus as gpu_table
from rtxcourse.validate import positive_ints

PRECISIONS = ("fp32", "bf16", "fp16")  # bf16 / fp16 = mixed precision (fp32 weights, 16-bit compute)
OPTIMIZER_STATES = {"sgd": 0, "momentum": 1, "adam": 2}  # fp32 values kept per parameter
SHARDS = ("none", "zero1", "zero2", "zero3", "fsdp")  # none = plain data parallel (DDP) or one GPU
USABLE = 0.9  # fraction of a GPU's memory a model can use: CUDA context, workspaces, fragmentation take the rest
PARTS = ("weights", "weight copies", "gradients", "optimizer", "activations", "gathered")


def _number(name: str, value, *, allow_zero: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return float(value)


def _choice(name: str, value, options) -> str:
    key = str(value).strip().lower()
    if key not in options:
        raise ValueError(f"{name} must be one of {', '.join(options)}; got {value!r}")
    return key


def _count(name: str, value) -> int:
    positive_ints(**{name: value})
    return int(value)


def activation_bytes_per_element(precision: str) -> int:
    """Bytes of one activation value: 2 under mixed precision (16-bit compute), else 4."""
    return 4 if _choice("precision", precision, PRECISIONS) == "fp32" else 2


@dataclass(frozen=True)
class Memory:
    """Bytes per GPU of each part of training (see the module docstring), and the settings."""

    parts: dict[str, float]
    settings: dict[str, object] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return sum(self.parts.values())

    def fits_on(self, gpu: gpu_table.GpuSpec, usable: float = USABLE) -> bool:
        """True when the total fits into ``usable`` of the GPU's memory."""
        return self.total <= usable * gpu.memory_bytes

    def table(self) -> str:
        """One line per part in GiB (2^30 bytes, the unit of GPU memory sizes) and the total."""
        lines = [f"{part:14s} {self.parts[part] / 2**30:10.3f} GiB" for part in PARTS if part in self.parts]
        lines.append(f"{'total per GPU':14s} {self.total / 2**30:10.3f} GiB")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"bytes": dict(self.parts), "total_bytes": self.total, "settings": dict(self.settings)}


def training_memory(params, *, precision: str = "fp32", optimizer: str = "adam", gpus: int = 1,
                    shard: str = "none", activations: float = 0.0, gathered_params: float = 0.0) -> Memory:
    """Memory per GPU to train ``params`` parameters (the table of the module docstring).

    ``activations`` is the bytes of activations one GPU keeps for its own micro-batch (see
    :meth:`Model.activation_bytes`); data parallelism and ZeRO never divide it. Under ZeRO-3
    or FSDP, ``gathered_params`` is the parameter count of the largest unit gathered at once
    (a layer or block), held in full in the compute dtype while it runs.
    """
    p = _number("params", params, allow_zero=False)
    precision = _choice("precision", precision, PRECISIONS)
    optimizer = _choice("optimizer", optimizer, OPTIMIZER_STATES)
    n = _count("gpus", gpus)
    shard = _choice("shard", shard, SHARDS)
    act = _number("activations", activations)
    gathered = _number("gathered_params", gathered_params)
    if gathered > p:
        raise ValueError(f"gathered_params ({gathered:g}) cannot exceed params ({p:g})")
    mixed = precision != "fp32"
    level = {"none": 0, "zero1": 1, "zero2": 2, "zero3": 3, "fsdp": 3}[shard]
    divide = lambda stage: n if level >= stage else 1  # noqa: E731  (ZeRO stage that shards the part)
    parts = {
        "weights": 4 * p / divide(3),
        "weight copies": (2 * p if mixed and level < 3 else 0.0),
        "gradients": 4 * p / divide(2),
        "optimizer": 4 * OPTIMIZER_STATES[optimizer] * p / divide(1),
        "activations": act,
        "gathered": (gathered * (2 if mixed else 4) if level == 3 else 0.0),
    }
    settings = {"params": p, "precision": precision, "optimizer": optimizer, "gpus": n, "shard": shard}
    return Memory(parts, settings)


def fits(memory: Memory, table=None, usable: float = USABLE) -> list[gpu_table.GpuSpec]:
    """The GPUs of the table (default: :data:`rtxcourse.gpus.GPUS`) ``memory`` fits on, smallest first."""
    rows = gpu_table.GPUS if table is None else table
    return sorted((g for g in rows if memory.fits_on(g, usable)), key=lambda g: (g.memory_gb, g.bandwidth_gbs))


# --------------------------------------------------------------------------- models described by their layers


@dataclass(frozen=True)
class Layer:
    """What one layer (or block) costs per sample: parameters, forward FLOPs, kept activations.

    ``act`` values are kept in the activation dtype (16-bit under mixed precision), ``act32``
    values stay fp32 even under autocast (residual sums, logits), ``act_bytes`` are fixed-size
    extras (max-pool's int64 indices). ``inputs`` is the size of the layer's input, which is
    what activation checkpointing keeps when it recomputes the layer (fp32 when ``input32``).
    """

    name: str
    params: int = 0
    flops: float = 0.0
    act: float = 0.0
    act32: float = 0.0
    act_bytes: float = 0.0
    inputs: float = 0.0
    input32: bool = False

    def kept_bytes(self, precision: str) -> float:
        return self.act * activation_bytes_per_element(precision) + self.act32 * 4 + self.act_bytes

    def input_bytes(self, precision: str) -> float:
        return self.inputs * (4 if self.input32 else activation_bytes_per_element(precision))


@dataclass(frozen=True)
class Model:
    """A model as a list of :class:`Layer`; ``kind`` 'transformer' counts FLOPs as 6 x params x tokens."""

    name: str
    layers: tuple[Layer, ...]
    kind: str = "cnn"
    tokens_per_sample: int = 1

    @property
    def params(self) -> int:
        return sum(layer.params for layer in self.layers)

    @property
    def forward_flops(self) -> float:
        """Forward FLOPs per sample (2 per multiply-add of matmuls and convolutions)."""
        return sum(layer.flops for layer in self.layers)

    def activation_bytes(self, batch: int, precision: str = "fp32", checkpointing: bool = False) -> float:
        """Bytes of activations kept for the backward pass of a micro-batch of ``batch`` samples.

        With ``checkpointing`` (every layer recomputed in the backward pass) only the layer
        inputs are kept, plus the full activations of the one layer being recomputed.
        """
        b = _count("batch", batch)
        if not checkpointing:
            return b * sum(layer.kept_bytes(precision) for layer in self.layers)
        kept = sum(layer.input_bytes(precision) for layer in self.layers)
        return b * (kept + max(layer.kept_bytes(precision) for layer in self.layers))

    def memory(self, batch: int, *, precision: str = "fp32", optimizer: str = "adam", gpus: int = 1,
               shard: str = "none", checkpointing: bool = False) -> Memory:
        """:func:`training_memory` of this model with its activations and its largest layer gathered."""
        mem = training_memory(self.params, precision=precision, optimizer=optimizer, gpus=gpus, shard=shard,
                              activations=self.activation_bytes(batch, precision, checkpointing),
                              gathered_params=max(layer.params for layer in self.layers))
        return Memory(mem.parts, {**mem.settings, "model": self.name, "batch": batch, "checkpointing": checkpointing})

    def training_flops(self, samples: float, checkpointing: bool = False) -> float:
        """FLOPs to train on ``samples`` samples: 6 x params x tokens for transformers, else 3 x forward."""
        if self.kind == "transformer":
            return transformer_flops(self.params, samples * self.tokens_per_sample, checkpointing)
        return cnn_flops(self.forward_flops, samples, checkpointing)


def mlp(in_features: int = 1024, hidden=(4096, 4096), num_classes: int = 10) -> Model:
    """The course's MLP (``models_torch.MLP``): Linear+ReLU per hidden width, then a Linear head.

    Each Linear keeps its input for the weight gradient; each ReLU's output is the next
    Linear's input (one tensor, counted once); the loss keeps the fp32 logits.
    """
    layers, width = [], in_features
    for i, h in enumerate(hidden):
        layers.append(Layer(f"linear{i + 1}+relu", width * h + h, 2 * width * h, act=width, inputs=width))
        width = h
    layers.append(Layer("head", width * num_classes + num_classes, 2 * width * num_classes, act=width,
                        act32=num_classes, inputs=width))
    return Model(f"MLP {in_features}-{'-'.join(map(str, hidden))}-{num_classes}", tuple(layers), "mlp")


def small_cnn(image_size: int = 32, in_channels: int = 3, width: int = 32, num_classes: int = 10) -> Model:
    """The course's SmallCNN (``models_torch.SmallCNN``): 3 stages of two conv-BN-ReLU blocks and a pool.

    Per block, backward keeps the convolution's input (the previous block's output), the
    BatchNorm's input and the ReLU's output; max-pool keeps int64 indices of its output size.
    """
    layers, c_in, size = [], in_channels, image_size
    for stage, c in enumerate((width, 2 * width, 4 * width)):
        for block in (1, 2):
            hw = size * size
            first = stage == 0 and block == 1  # the image itself is the first conv's input
            layers.append(Layer(f"conv{stage + 1}.{block}", 9 * c_in * c + 2 * c, 2 * 9 * c_in * c * hw,
                                act=2 * c * hw + (c_in * hw if first else 0), inputs=c_in * hw))
            c_in = c
        if stage < 2:
            size //= 2
            layers.append(Layer(f"maxpool{stage + 1}", act=c * size * size, act_bytes=8 * c * size * size,
                                inputs=c * 4 * size * size))
    layers.append(Layer("head", c_in * num_classes + num_classes, 2 * c_in * num_classes, act=c_in,
                        act32=num_classes, inputs=c_in))
    return Model(f"SmallCNN width {width}, {image_size}x{image_size}", tuple(layers), "cnn")


def transformer(n_layers: int = 2, d_model: int = 256, n_heads: int = 4, seq_len: int = 64, *,
                vocab: int = 0, num_classes: int = 0, mlp_ratio: int = 4, flash_attention: bool = True,
                tied: bool = True, name: str | None = None) -> Model:
    """A pre-norm transformer (``models_torch.TransformerClassifier``, GPT-like with ``vocab``).

    Per block and token, backward keeps (in values): both LayerNorm inputs (the fp32 residual
    stream under autocast), their outputs, Q, K, V, the attention output, the MLP's hidden
    input and GELU output: (8 + 2 mlp_ratio) x d_model; without flash attention also the
    softmax probabilities, n_heads x seq_len (Korthikanti et al. 2022, without dropout masks).
    """
    h, s, f = d_model, seq_len, mlp_ratio * d_model
    if h % n_heads:
        raise ValueError(f"d_model ({h}) must be divisible by n_heads ({n_heads})")
    block_params = 4 * h * h + 4 * h + 2 * h * f + f + h + 4 * h  # attention, MLP, two LayerNorms
    block_flops = s * (8 * h * h + 4 * h * f) + 4 * s * s * h  # projections, MLP, QK^T and AV
    probs = 0 if flash_attention else n_heads * s
    layers = []
    if vocab:
        layers.append(Layer("embedding", vocab * h + s * h))
    else:
        layers.append(Layer("positions", s * h))
    for i in range(n_layers):
        layers.append(Layer(f"block{i + 1}", block_params, block_flops, act=s * (6 * h + 2 * f + probs),
                            act32=2 * s * h, inputs=s * h, input32=True))
    out = vocab or num_classes or 10
    tokens_out = s if vocab else 1  # a language model predicts every token, a classifier once
    head_params = (0 if tied else h * out) if vocab else h * out + out  # a tied LM head reuses the embedding
    layers.append(Layer("head", head_params + 2 * h, 2 * tokens_out * h * out,
                        act=tokens_out * h, act32=s * h + tokens_out * out, inputs=s * h, input32=True))
    return Model(name or f"transformer {n_layers}x{d_model}, {n_heads} heads, seq {seq_len}", tuple(layers),
                 "transformer", tokens_per_sample=s)


# Presets: the course's three models (lessons 01-09) and two well-known language models.
PRESETS = {
    "mlp": lambda: mlp(),
    "cnn": lambda: small_cnn(),
    "transformer": lambda: transformer(),
    "gpt2-124m": lambda: transformer(12, 768, 12, 1024, vocab=50257, name="GPT-2 124M"),
    "llama2-7b": lambda: transformer(32, 4096, 32, 4096, vocab=32000, tied=False, name="Llama-2-7B-like (MLP 4x)"),
}


def preset(name: str) -> Model:
    """The :class:`Model` of a preset name (``rtxcourse estimate --preset``)."""
    key = _choice("preset", name, tuple(PRESETS))
    return PRESETS[key]()


# --------------------------------------------------------------------------- time


def transformer_flops(params, tokens, checkpointing: bool = False) -> float:
    """Training FLOPs of a transformer: 6 x params x tokens (8 x with full recomputation)."""
    return (8 if checkpointing else 6) * _number("params", params, allow_zero=False) * _number("tokens", tokens)


def cnn_flops(forward_flops_per_sample, samples, checkpointing: bool = False) -> float:
    """Training FLOPs from counted forward FLOPs: backward is about twice the forward (4 x with recompute)."""
    return (4 if checkpointing else 3) * _number("forward_flops_per_sample", forward_flops_per_sample,
                                                 allow_zero=False) * _number("samples", samples)


def peak_flops(gpu: str, precision: str) -> float:
    """Dense peak FLOP/s of one GPU (a table name or a device name) in ``precision``."""
    spec = gpu_table.find(gpu)
    key = _choice("precision", precision, PRECISIONS)
    if key not in spec.tflops:
        raise ValueError(f"{spec.name} has no fast {key} path (table: {', '.join(spec.tflops)}); use fp32 or fp16")
    return spec.tflops[key] * 1e12


def training_time(flops, *, mfu: float, gpu: str | None = None, precision: str = "bf16", gpus: int = 1,
                  peak: float | None = None) -> float:
    """Seconds to do ``flops`` of training on ``gpus`` GPUs at ``mfu`` of the dense peak.

    The peak comes from the table (``gpu`` and ``precision``) or is given (``peak`` FLOP/s per
    device, e.g. a CPU's measured matmul rate; say which ceiling you used).
    """
    work = _number("flops", flops)
    if isinstance(mfu, bool) or not isinstance(mfu, numbers.Real) or not 0 < mfu <= 1:
        raise ValueError(f"mfu is a fraction of the peak, 0 < mfu <= 1; got {mfu!r}")
    if (gpu is None) == (peak is None):
        raise ValueError("give gpu= (looked up in rtxcourse.gpus) or peak= (FLOP/s), not both or neither")
    ceiling = peak_flops(gpu, precision) if gpu is not None else _number("peak", peak, allow_zero=False)
    return work / (_count("gpus", gpus) * ceiling * mfu)


# --------------------------------------------------------------------------- rtxcourse estimate


def add_arguments(parser) -> None:
    """The options of ``rtxcourse estimate``."""
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--params", type=float, help="number of parameters, e.g. 7e9 (activations: --activations-gib)")
    what.add_argument("--preset", choices=sorted(PRESETS), help="a model described layer by layer (activations counted)")
    parser.add_argument("--batch", type=int, default=1, help="micro-batch per GPU, in samples (sequences for LMs)")
    parser.add_argument("--activations-gib", type=float, default=0.0, help="activations per GPU in GiB (with --params)")
    parser.add_argument("--precision", default="bf16", choices=PRECISIONS, help="fp32, or bf16/fp16 mixed precision")
    parser.add_argument("--optimizer", default="adam", choices=sorted(OPTIMIZER_STATES))
    parser.add_argument("--gpus", type=int, default=1, help="data-parallel GPUs")
    parser.add_argument("--shard", default="none", choices=SHARDS, help="ZeRO stage / FSDP sharding over the GPUs")
    parser.add_argument("--checkpointing", action="store_true", help="activation checkpointing (recompute each layer)")
    parser.add_argument("--gpu", help="the GPU to time on (and check), a table or device name, e.g. H100")
    parser.add_argument("--tokens", type=float, help="training tokens (transformers: 6 x params x tokens)")
    parser.add_argument("--samples", type=float, help="training samples (presets: counted FLOPs per sample)")
    parser.add_argument("--mfu", type=float, default=0.4, help="assumed model FLOPs utilisation, 0 < MFU <= 1 (0.4)")
    parser.add_argument("--json", action="store_true", help="print the estimate as JSON")


def _flops(args, model: Model | None) -> float | None:
    if args.tokens is not None and args.samples is not None:
        raise ValueError("give --tokens or --samples, not both")
    if args.tokens is not None:
        params = model.params if model else args.params
        return transformer_flops(params, args.tokens, args.checkpointing)
    if args.samples is not None:
        if model is None:
            raise ValueError("--samples needs --preset (FLOPs per sample are counted from its layers); use --tokens")
        return model.training_flops(args.samples, args.checkpointing)
    return None


def estimate(args) -> dict:
    """Everything ``rtxcourse estimate`` reports, as a JSON-ready dict; ValueError for bad input."""
    if args.preset:
        model = preset(args.preset)
        mem = model.memory(args.batch, precision=args.precision, optimizer=args.optimizer, gpus=args.gpus,
                           shard=args.shard, checkpointing=args.checkpointing)
    else:
        model = None
        if args.checkpointing:
            raise ValueError("--checkpointing changes the activations, which --params cannot know: give --activations-gib "
                             "measured with checkpointing, or use --preset")
        mem = training_memory(args.params, precision=args.precision, optimizer=args.optimizer, gpus=args.gpus,
                              shard=args.shard, activations=_number("--activations-gib", args.activations_gib) * 2**30)
    spec = gpu_table.find(args.gpu) if args.gpu else None
    fitting = fits(mem)
    if not fitting:
        largest = max(gpu_table.GPUS, key=lambda g: g.memory_gb)
        raise ValueError(f"needs {mem.total / 2**30:.1f} GiB per GPU, more than {USABLE:.0%} of the largest GPU in the "
                         f"table ({largest.name}, {largest.memory_gb:g} GB): shard over more GPUs (--gpus N --shard "
                         f"zero3), use activation checkpointing or a smaller --batch")
    out = {"model": model.name if model else f"{mem.settings['params']:.3g} parameters", **mem.to_dict(),
           "fits_on": [g.name for g in fitting], "usable_fraction": USABLE}
    if spec is not None:
        out["gpu"] = {"name": spec.name, "memory_gb": spec.memory_gb, "fits": mem.fits_on(spec)}
    flops = _flops(args, model)
    if flops is not None:
        if spec is None:
            raise ValueError("timing needs --gpu (the table's dense peak), e.g. --gpu H100")
        seconds = training_time(flops, mfu=args.mfu, gpu=spec.name, precision=args.precision, gpus=args.gpus)
        out["time"] = {"flops": flops, "mfu": args.mfu, "peak_flops": peak_flops(spec.name, args.precision),
                       "seconds": seconds, "gpu_hours": seconds * args.gpus / 3600}
    return out


def _days(seconds: float) -> str:
    return f"{seconds / 86400:.1f} days" if seconds > 2 * 86400 else f"{seconds / 3600:.2f} hours"


def format_estimate(out: dict) -> str:
    """The readable report of :func:`estimate`."""
    st = out["settings"]
    lines = [f"{out['model']}: {st['precision']}{' mixed precision' if st['precision'] != 'fp32' else ''}, "
             f"{st['optimizer']}, {st['gpus']} GPU(s), shard {st['shard']}"
             + (f", batch {st['batch']} per GPU" if "batch" in st else "")
             + (", activation checkpointing" if st.get("checkpointing") else "")]
    lines += [Memory(out["bytes"]).table()]
    fit = out["fits_on"]
    more = f" and {len(fit) - 6} more" if len(fit) > 6 else ""
    lines.append(f"fits on ({out['usable_fraction']:.0%} of memory usable), smallest first: {', '.join(fit[:6])}{more}")
    if "gpu" in out:
        g = out["gpu"]
        lines.append(f"{g['name']} ({g['memory_gb']:g} GB): {'fits' if g['fits'] else 'does NOT fit'}")
    if "time" in out:
        t = out["time"]
        lines.append(f"time: {t['flops']:.3g} FLOP / ({st['gpus']} x {t['peak_flops'] / 1e12:g} TFLOP/s x MFU "
                     f"{t['mfu']:.0%}) = {_days(t['seconds'])} ({t['gpu_hours']:,.4g} GPU-hours)")
    return "\n".join(lines)


def run(args) -> int:
    """``rtxcourse estimate``: print the estimate; one readable line and exit code 2 on bad input."""
    import json
    import sys

    try:
        out = estimate(args)
    except ValueError as e:
        print(f"rtxcourse estimate: error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(out, indent=2) if args.json else format_estimate(out))
    return 0
