"""The course's one GPU table: Tensor Core generations, dense peaks, memory, bandwidth, links.

Used by the doctor (:mod:`rtxcourse.hardware`: which Tensor Cores a GPU has), by MFU
(:mod:`rtxcourse.bench`: the peak a measurement is divided by), by the estimator
(:mod:`rtxcourse.estimate`: where a model fits) and by lesson 11's hardware table::

    from rtxcourse import gpus
    spec = gpus.lookup("NVIDIA H100 80GB HBM3")       # the row a device name belongs to
    spec.tflops["bf16"], spec.memory_gb, spec.nvlink_gbs
    gpus.tensor_cores((8, 6))                         # what a compute capability's Tensor Cores do

Every figure is a datasheet (or architecture whitepaper) number, cited per row in ``source``.
Peaks are DENSE: datasheets print Tensor Core figures "with sparsity" (2:4 structured
sparsity), twice the dense rate and never reached by dense training, so every sparse figure
was halved. GeForce Tensor Core figures are for fp16/bf16/fp8 inputs with FP32 accumulate
(what autocast does); their FP16-accumulate figures are twice as high. Clocks are boost
clocks: a long run at a lower clock reaches less. Framework-free: imports nothing heavy.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

# --------------------------------------------------------------------------- Tensor Cores by compute capability

# (first capability, architecture, Tensor Core generation, precisions its Tensor Cores run dense)
# from NVIDIA's architecture whitepapers and the CUDA programming guide. FP64 Tensor Cores exist
# only on the data-centre chips GA100 (8.0), GH100 (9.0) and GB100/GB200 (10.0); the other
# chips of the same generation (8.6, 8.9, 12.0) have none.
_ARCHITECTURES = [
    ((7, 0), "Volta", 1, ("fp16",)),
    ((7, 5), "Turing", 2, ("fp16", "int8", "int4")),
    ((8, 0), "Ampere", 3, ("fp16", "bf16", "tf32", "int8", "fp64")),
    ((8, 6), "Ampere", 3, ("fp16", "bf16", "tf32", "int8")),
    ((8, 9), "Ada Lovelace", 4, ("fp16", "bf16", "tf32", "fp8", "int8")),
    ((9, 0), "Hopper", 4, ("fp16", "bf16", "tf32", "fp8", "int8", "fp64")),
    ((10, 0), "Blackwell", 5, ("fp16", "bf16", "tf32", "fp8", "fp6", "fp4", "int8", "fp64")),
    ((12, 0), "Blackwell", 5, ("fp16", "bf16", "tf32", "fp8", "fp6", "fp4", "int8")),
]
# GeForce GTX 16xx (TU116/TU117) and MX450/550 (TU117) report capability 7.5 like the RTX 20
# cards and T4, but their chips have no Tensor Cores (dedicated fp16 units instead).
_TURING_WITHOUT_TENSOR_CORES = r"\bGTX\s*16\d\d|\bMX\s*[45]50\b"


@dataclass(frozen=True)
class TensorCores:
    """What the Tensor Cores of one GPU (or compute capability) do."""

    architecture: str
    generation: int  # 0 = no Tensor Cores
    precisions: tuple[str, ...]

    @property
    def bf16(self) -> bool:
        return "bf16" in self.precisions


def parse_capability(capability) -> tuple[int, int] | None:
    """Parse ``(8, 6)``, ``"8.6"`` or ``"sm_86"`` into a tuple; None when unknown."""
    if capability is None:
        return None
    if isinstance(capability, (tuple, list)) and len(capability) == 2:
        return int(capability[0]), int(capability[1])
    m = re.fullmatch(r"(?:sm_?)?(\d+)[._]?(\d)", str(capability).strip())
    if not m:
        return None
    return int(m.group(1)), int(m.group(2))


def tensor_cores(capability: tuple[int, int] | str | None, name: str | None = None) -> TensorCores:
    """Return the Tensor Core generation and precisions for a compute capability like (8, 6).

    ``name`` (the device name, e.g. ``'NVIDIA GeForce GTX 1660 Ti'``) tells apart the GPUs a
    capability cannot: GTX 16xx are capability 7.5 like the RTX 20 cards but have no Tensor Cores.
    """
    cap = parse_capability(capability)
    if cap is None:
        return TensorCores("unknown", 0, ())
    found = TensorCores("pre-Volta", 0, ())
    for first, arch, gen, precisions in _ARCHITECTURES:
        if cap >= first:  # ordered table: 7.2 is Volta, 8.7 Ampere, 10.3 and 11.0 Blackwell
            found = TensorCores(arch, gen, precisions)
    if name and found.architecture == "Turing" and re.search(_TURING_WITHOUT_TENSOR_CORES, name, re.IGNORECASE):
        return TensorCores("Turing", 0, ())
    return found


# --------------------------------------------------------------------------- the table of GPU models


@dataclass(frozen=True)
class GpuSpec:
    """One GPU model: its chip, Tensor Cores, dense peaks, memory, links, with the source.

    ``tflops`` maps a precision to the dense peak in TFLOP/s: ``fp32`` (CUDA cores), ``tf32``,
    ``fp16``, ``bf16``, ``fp8``, ``fp4`` (Tensor Cores where it has them; fp16 on the CUDA cores
    of P100 and GTX 16xx, which have none), ``fp64`` (CUDA cores) and ``fp64_tc`` (FP64 Tensor
    Cores). A precision missing from it has no fast path on that GPU.
    """

    name: str
    pattern: str  # regular expression matched against device names (case-insensitive)
    architecture: str
    chip: str
    capability: tuple[int, int]
    segment: str  # "data centre" or "GeForce"
    tflops: dict[str, float]
    memory_gb: float  # the largest variant's memory as datasheets print it: "80 GB" of GPU memory is 80 GiB
    memory_type: str
    bandwidth_gbs: float  # memory bandwidth in GB/s
    pcie: int | None  # PCIe generation of the host link; None when the host link is not PCIe
    nvlink_gbs: float | None  # NVLink bandwidth per GPU in GB/s, both directions; None = no NVLink
    ecc: bool
    source: str
    note: str = ""
    has_tensor_cores: bool = field(default=True)

    @property
    def tensor_cores(self) -> TensorCores:
        tc = tensor_cores(self.capability)
        return tc if self.has_tensor_cores else TensorCores(tc.architecture, 0, ())

    @property
    def memory_gbs(self) -> float:
        """Memory bandwidth in GB/s (the name ``bench.GpuPeaks`` used)."""
        return self.bandwidth_gbs

    @property
    def memory_bytes(self) -> float:
        """Memory in bytes: GPU memory sizes are binary (an "80 GB" H100 reports 81,559 MiB)."""
        return self.memory_gb * 2**30


def _row(name, pattern, architecture, chip, capability, segment, tflops, memory_gb, memory_type,
         bandwidth_gbs, pcie, nvlink_gbs, ecc, source, note="", has_tensor_cores=True) -> GpuSpec:
    return GpuSpec(name, pattern, architecture, chip, capability, segment, tflops, memory_gb, memory_type,
                   bandwidth_gbs, pcie, nvlink_gbs, ecc, source, note, has_tensor_cores)


_DC, _GF = "data centre", "GeForce"
_HOPPER_SXM = {"fp64": 34, "fp64_tc": 67, "fp32": 67, "tf32": 494.5, "fp16": 989.5, "bf16": 989.5, "fp8": 1979}
_HOPPER_NVL = {"fp64": 30, "fp64_tc": 60, "fp32": 60, "tf32": 417.5, "fp16": 835.5, "bf16": 835.5, "fp8": 1670.5}
_A100 = {"fp64": 9.7, "fp64_tc": 19.5, "fp32": 19.5, "tf32": 156, "fp16": 312, "bf16": 312}

# Newest first within each segment. Patterns are written so that no name matches two rows
# (tests/test_gpus.py checks it): \bB200 does not match "GB200", \bV100\b not "V100S".
GPUS: list[GpuSpec] = [
    _row("GB200", r"\bGB200\b", "Blackwell", "GB100", (10, 0), _DC,
         {"fp64": 45, "fp64_tc": 45, "fp32": 90, "tf32": 1250, "fp16": 2500, "bf16": 2500, "fp8": 5000, "fp4": 10000},
         186, "HBM3e", 8000, None, 1800, True,
         "NVIDIA GB200 NVL72 datasheet, per Blackwell GPU at 1,200 W (superchip figures / 2, sparse halved)",
         "host link is NVLink-C2C to the Grace CPU (900 GB/s)"),
    _row("B200", r"\bB200\b", "Blackwell", "GB100", (10, 0), _DC,
         {"fp64": 37, "fp64_tc": 37, "fp32": 75, "tf32": 1100, "fp16": 2250, "bf16": 2250, "fp8": 4500, "fp4": 9000},
         180, "HBM3e", 7700, 5, 1800, True,
         "NVIDIA HGX B200 datasheet, per-GPU (8-GPU figures / 8) at 1,000 W (sparse halved)"),
    _row("GH200 144GB", r"\bGH200\b.*(144|HBM3e)", "Hopper", "GH100", (9, 0), _DC, _HOPPER_SXM,
         144, "HBM3e", 4900, None, 900, True,
         "NVIDIA GH200 Grace Hopper datasheet, HBM3e column (sparse halved)",
         "host link is NVLink-C2C to the Grace CPU (900 GB/s)"),
    _row("GH200", r"\bGH200\b", "Hopper", "GH100", (9, 0), _DC, _HOPPER_SXM,
         96, "HBM3", 4000, None, 900, True,
         "NVIDIA GH200 Grace Hopper datasheet, HBM3 column (sparse halved)",
         "host link is NVLink-C2C to the Grace CPU (900 GB/s)"),
    _row("H200 NVL", r"\bH200\b.*\bNVL\b", "Hopper", "GH100", (9, 0), _DC, _HOPPER_NVL,
         141, "HBM3e", 4800, 5, 900, True, "NVIDIA H200 datasheet, H200 NVL column (sparse halved)",
         "NVLink through 2- or 4-way bridges"),
    _row("H200 SXM", r"\bH200\b", "Hopper", "GH100", (9, 0), _DC, _HOPPER_SXM,
         141, "HBM3e", 4800, 5, 900, True, "NVIDIA H200 datasheet, H200 SXM column (sparse halved)"),
    _row("H100 NVL", r"\bH100\b.*\bNVL\b", "Hopper", "GH100", (9, 0), _DC, _HOPPER_NVL,
         94, "HBM3", 3900, 5, 600, True, "NVIDIA H100 datasheet, H100 NVL column (sparse halved)",
         "NVLink through 2-way bridges"),
    _row("H100 PCIe", r"\bH100\b.*PCI", "Hopper", "GH100", (9, 0), _DC,
         {"fp64": 26, "fp64_tc": 51, "fp32": 51, "tf32": 378, "fp16": 756, "bf16": 756, "fp8": 1513},
         80, "HBM2e", 2000, 5, 600, True, "NVIDIA H100 datasheet, H100 PCIe column (sparse halved)",
         "NVLink through 2-way bridges"),
    _row("H100 SXM", r"\bH100\b", "Hopper", "GH100", (9, 0), _DC, _HOPPER_SXM,
         80, "HBM3", 3350, 5, 900, True, "NVIDIA H100 datasheet, H100 SXM column (sparse halved)"),
    _row("L40S", r"\bL40S\b", "Ada Lovelace", "AD102", (8, 9), _DC,
         {"fp64": 1.43, "fp32": 91.6, "tf32": 183, "fp16": 362, "bf16": 362, "fp8": 733},
         48, "GDDR6", 864, 4, None, True,
         "NVIDIA L40S datasheet (sparse halved); FP64 at Ada's 1/64 of FP32 (Ada whitepaper)"),
    _row("L4", r"\bL4\b", "Ada Lovelace", "AD104", (8, 9), _DC,
         {"fp64": 0.47, "fp32": 30.3, "tf32": 60, "fp16": 121, "bf16": 121, "fp8": 242.5},
         24, "GDDR6", 300, 4, None, True,
         "NVIDIA L4 datasheet (sparse halved); FP64 at Ada's 1/64 of FP32 (Ada whitepaper)"),
    _row("A100 80GB PCIe", r"\bA100\b.*80\s*GB.*PCI|\bA100\b.*PCI.*80\s*GB", "Ampere", "GA100", (8, 0), _DC, _A100,
         80, "HBM2e", 1935, 4, 600, True, "NVIDIA A100 datasheet, 80GB PCIe column (sparse halved)",
         "NVLink through 2-way bridges"),
    _row("A100 80GB SXM", r"\bA100\b.*80\s*GB", "Ampere", "GA100", (8, 0), _DC, _A100,
         80, "HBM2e", 2039, 4, 600, True, "NVIDIA A100 datasheet, 80GB SXM column (sparse halved)"),
    _row("A100 40GB", r"\bA100\b", "Ampere", "GA100", (8, 0), _DC, _A100,
         40, "HBM2", 1555, 4, 600, True, "NVIDIA A100 datasheet, 40GB PCIe/SXM columns (sparse halved)",
         "the PCIe card links by 2-way bridges"),
    _row("A10", r"\bA10\b", "Ampere", "GA102", (8, 6), _DC,
         {"fp64": 0.49, "fp32": 31.2, "tf32": 62.5, "fp16": 125, "bf16": 125},
         24, "GDDR6", 600, 4, None, True,
         "NVIDIA A10 datasheet (sparse halved); FP64 at GA10x's 1/64 of FP32 (Ampere GA102 whitepaper)"),
    _row("T4", r"\bT4\b", "Turing", "TU104", (7, 5), _DC, {"fp64": 0.25, "fp32": 8.1, "fp16": 65},
         16, "GDDR6", 320, 3, None, True,
         "NVIDIA T4 datasheet (FP16/FP32 mixed precision); FP64 at Turing's 1/32 of FP32"),
    _row("V100S PCIe", r"\bV100S\b", "Volta", "GV100", (7, 0), _DC, {"fp64": 8.2, "fp32": 16.4, "fp16": 130},
         32, "HBM2", 1134, 3, None, True, "NVIDIA V100S datasheet"),
    _row("V100 PCIe", r"\bV100\b.*PCI", "Volta", "GV100", (7, 0), _DC, {"fp64": 7, "fp32": 14, "fp16": 112},
         32, "HBM2", 900, 3, None, True, "NVIDIA V100 datasheet, PCIe column", "16 GB variant too"),
    _row("V100 SXM2", r"\bV100\b", "Volta", "GV100", (7, 0), _DC, {"fp64": 7.8, "fp32": 15.7, "fp16": 125},
         32, "HBM2", 900, 3, 300, True, "NVIDIA V100 datasheet, SXM2 column", "16 GB variant too"),
    _row("P100 PCIe", r"\bP100\b.*PCI", "Pascal", "GP100", (6, 0), _DC, {"fp64": 4.7, "fp32": 9.3, "fp16": 18.7},
         16, "HBM2", 732, 3, None, True, "NVIDIA Tesla P100 datasheet, PCIe 16GB column",
         "no Tensor Cores; packed fp16 on the CUDA cores at twice the fp32 rate", False),
    _row("P100 SXM2", r"\bP100\b", "Pascal", "GP100", (6, 0), _DC, {"fp64": 5.3, "fp32": 10.6, "fp16": 21.2},
         16, "HBM2", 732, 3, 160, True, "NVIDIA Tesla P100 datasheet, NVLink (SXM2) column",
         "no Tensor Cores; packed fp16 on the CUDA cores at twice the fp32 rate", False),
    # GeForce: no ECC on the memory, FP64 at 1/32 (Turing) or 1/64 (later) of FP32, NVLink only
    # on RTX 2080/2080 Ti/3090, none on RTX 40 and 50.
    _row("GeForce RTX 5090", r"RTX 5090(?!\s*D\b)", "Blackwell", "GB202", (12, 0), _GF,
         {"fp64": 1.64, "fp32": 104.8, "tf32": 104.8, "fp16": 209.5, "bf16": 209.5, "fp8": 419},
         32, "GDDR7", 1792, 5, None, False,
         "NVIDIA RTX Blackwell GPU architecture whitepaper, RTX 5090 (FP32 accumulate, dense)"),
    _row("GeForce RTX 4090", r"RTX 4090(?!\s*D\b)", "Ada Lovelace", "AD102", (8, 9), _GF,
         {"fp64": 1.29, "fp32": 82.6, "tf32": 82.6, "fp16": 165.2, "bf16": 165.2, "fp8": 330.3},
         24, "GDDR6X", 1008, 4, None, False,
         "NVIDIA Ada Lovelace architecture whitepaper, RTX 4090 (FP32 accumulate, dense)"),
    _row("GeForce RTX 4080", r"RTX 4080(?!\s*(SUPER|Ti)\b)", "Ada Lovelace", "AD103", (8, 9), _GF,
         {"fp64": 0.76, "fp32": 48.7, "tf32": 48.7, "fp16": 97.5, "bf16": 97.5, "fp8": 194.9},
         16, "GDDR6X", 716.8, 4, None, False,
         "NVIDIA Ada Lovelace architecture whitepaper, RTX 4080 16GB (FP32 accumulate, dense)"),
    _row("GeForce RTX 3090", r"RTX 3090(?!\s*Ti\b)", "Ampere", "GA102", (8, 6), _GF,
         {"fp64": 0.56, "fp32": 35.6, "tf32": 35.6, "fp16": 71, "bf16": 71},
         24, "GDDR6X", 936, 4, 112.5, False,
         "NVIDIA Ampere GA102 whitepaper, RTX 3090 (FP32 accumulate, dense)"),
    _row("GeForce RTX 3080", r"RTX 3080(?!\s*Ti\b)", "Ampere", "GA102", (8, 6), _GF,
         {"fp64": 0.47, "fp32": 29.8, "tf32": 29.8, "fp16": 59.5, "bf16": 59.5},
         10, "GDDR6X", 760, 4, None, False,
         "NVIDIA Ampere GA102 whitepaper, RTX 3080 10GB (FP32 accumulate, dense)",
         "the 12 GB card has the same name and 3% more SMs"),
    _row("GeForce RTX 2080 Ti", r"RTX 2080 Ti", "Turing", "TU102", (7, 5), _GF,
         {"fp64": 0.42, "fp32": 13.4, "fp16": 53.8},
         11, "GDDR6", 616, 3, 100, False,
         "NVIDIA Turing architecture whitepaper, RTX 2080 Ti reference clocks (FP32 accumulate)"),
    _row("GeForce GTX 1660 Ti", r"GTX 1660 Ti", "Turing", "TU116", (7, 5), _GF,
         {"fp64": 0.17, "fp32": 5.44, "fp16": 10.88},
         6, "GDDR6", 288, 3, None, False,
         "NVIDIA product page (1536 CUDA cores, 1770 MHz boost): 2 x cores x clock; fp16 units at 2x",
         "no Tensor Cores: TU116 has dedicated fp16 units instead", False),
    _row("GeForce GTX 1660 SUPER", r"GTX 1660 SUPER", "Turing", "TU116", (7, 5), _GF,
         {"fp64": 0.157, "fp32": 5.03, "fp16": 10.05},
         6, "GDDR6", 336, 3, None, False,
         "NVIDIA product page (1408 CUDA cores, 1785 MHz boost): 2 x cores x clock; fp16 units at 2x",
         "no Tensor Cores: TU116 has dedicated fp16 units instead", False),
    _row("GeForce GTX 1660", r"GTX 1660(?!\s*(Ti|SUPER)\b)", "Turing", "TU116", (7, 5), _GF,
         {"fp64": 0.157, "fp32": 5.03, "fp16": 10.05},
         6, "GDDR5", 192, 3, None, False,
         "NVIDIA product page (1408 CUDA cores, 1785 MHz boost): 2 x cores x clock; fp16 units at 2x",
         "no Tensor Cores: TU116 has dedicated fp16 units instead", False),
    _row("GeForce GTX 1650", r"GTX 1650(?!\s*(Ti|SUPER)\b)", "Turing", "TU117", (7, 5), _GF,
         {"fp64": 0.093, "fp32": 2.98, "fp16": 5.97},
         4, "GDDR5", 128, 3, None, False,
         "NVIDIA product page (896 CUDA cores, 1665 MHz boost): 2 x cores x clock; fp16 units at 2x",
         "no Tensor Cores: TU117 has dedicated fp16 units instead", False),
]
# Laptop parts share desktop names but run at a fraction of their power and clocks.
_NOT_IN_TABLE = r"Laptop|Mobile|Max-Q"


def lookup(gpu_name: str) -> GpuSpec | None:
    """The row of the table a device name (``torch.cuda.get_device_name()``, nvidia-smi) belongs to.

    Returns None for GPUs not in the table and for laptop parts (same names, lower clocks):
    nothing is guessed.
    """
    if not isinstance(gpu_name, str):
        raise TypeError(f"gpu_name must be a string such as 'NVIDIA H100 80GB HBM3', got {type(gpu_name).__name__}")
    if re.search(_NOT_IN_TABLE, gpu_name, re.IGNORECASE):
        return None
    return next((g for g in GPUS if re.search(g.pattern, gpu_name, re.IGNORECASE)), None)


def find(name: str) -> GpuSpec:
    """The row for ``name`` (a device name or a table name such as 'H100' or 'RTX 4090').

    Raises ValueError that lists the closest table names when nothing matches: this is the
    lookup for names a person typed (``rtxcourse estimate --gpu``).
    """
    spec = lookup(name) or next((g for g in GPUS if g.name.lower() == str(name).strip().lower()), None)
    if spec is not None:
        return spec
    names = [g.name for g in GPUS]
    close = difflib.get_close_matches(str(name), names, n=4, cutoff=0.3) or names[:4]
    raise ValueError(f"unknown GPU {name!r}; closest in the table: {', '.join(close)} "
                     f"(all: rtxcourse.gpus.GPUS)")


def fp16_speedup(gpu_name: str) -> float | None:
    """How many times faster the table says fp16 runs than fp32 on ``gpu_name``; None if unknown."""
    spec = lookup(gpu_name)
    if spec is None or "fp16" not in spec.tflops:
        return None
    return spec.tflops["fp16"] / spec.tflops["fp32"]
