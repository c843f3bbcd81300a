"""What machine is this? CPU features, GPUs, Tensor Cores and what to run here.

The detection behind ``rtxcourse doctor``, usable from notebooks::

    from rtxcourse import hardware
    print(hardware.format_report(hardware.report()))

Driver-level facts (GPU count, names, memory) come from ``nvidia-smi`` or ``/proc/driver/nvidia``
and cost milliseconds. Framework facts (what torch and TensorFlow can see and use) import the
framework, so :func:`report` only does that when asked. Nothing here raises on a strange
machine: every probe that fails is recorded under ``errors`` and the report goes on.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from typing import Any

from rtxcourse.gpus import TensorCores, fp16_speedup, parse_capability, tensor_cores  # public here too (the doctor's view)

# CPU flags (as /proc/cpuinfo spells them) that matter for training on the CPU.
CPU_FEATURES = {
    "avx2": "AVX2 (fp32 SIMD)",
    "avx512f": "AVX-512",
    "avx512_bf16": "AVX512_BF16 (bf16 dot products)",
    "avx512_fp16": "AVX512_FP16",
    "amx_bf16": "AMX-BF16 (bf16 tile matmul)",
    "amx_int8": "AMX-INT8",
}


@dataclass
class GPU:
    """One GPU as seen by the driver or a framework."""

    index: int
    name: str
    memory_gib: float | None = None
    capability: tuple[int, int] | None = None
    seen_by: list[str] = field(default_factory=list)
    uuid: str | None = None  # from the driver; CUDA_VISIBLE_DEVICES may name GPUs by it

    @property
    def tensor_cores(self) -> TensorCores:
        return tensor_cores(self.capability, self.name)  # the name tells GTX 16xx (no Tensor Cores) from RTX 20

    def to_dict(self) -> dict[str, Any]:
        tc = self.tensor_cores
        d = asdict(self)
        d["capability"] = ".".join(map(str, self.capability)) if self.capability else None
        d["tensor_cores"] = {"architecture": tc.architecture, "generation": tc.generation, "precisions": list(tc.precisions)}
        return d


# --------------------------------------------------------------------------- CPU


@lru_cache(maxsize=None)
def cpu_info() -> dict[str, Any]:
    """CPU model, core counts and the training-relevant ISA features."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and value.strip():
                    model = value.strip()
                elif key in ("flags", "Features") and not flags:
                    flags = set(value.split())
    except OSError:
        pass  # not Linux: model from platform, features unknown
    physical = None
    try:
        import psutil

        physical = psutil.cpu_count(logical=False)
    except Exception:  # psutil missing or unsupported platform: logical count only
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "model": model,
        "logical_cores": os.cpu_count(),
        "usable_cores": usable,
        "physical_cores": physical,
        "features": {k: (k in flags) for k in CPU_FEATURES},
        "features_known": bool(flags),
    }


def cpu_has_fast_bf16() -> bool:
    """True when the CPU computes bf16 natively (AVX512_BF16 or AMX), so bf16 beats fp32 there."""
    f = cpu_info()["features"]
    return bool(f.get("avx512_bf16") or f.get("amx_bf16"))


# --------------------------------------------------------------------------- driver


def _run(cmd: list[str], timeout: float = 10.0) -> str | None:
    if shutil.which(cmd[0]) is None:
        return None
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout


@lru_cache(maxsize=None)
def driver_gpus() -> tuple[GPU, ...]:
    """GPUs the NVIDIA driver reports (all of them, before CUDA_VISIBLE_DEVICES)."""
    out = _run(
        ["nvidia-smi", "--query-gpu=index,name,memory.total,compute_cap,uuid", "--format=csv,noheader,nounits"]
    )
    gpus: list[GPU] = []
    if out:
        for line in out.strip().splitlines():
            parts = [p.strip() for p in line.split(",")]
            if len(parts) < 2 or not parts[0].isdigit():
                continue
            mem = float(parts[2]) / 1024 if len(parts) > 2 and _is_number(parts[2]) else None
            cap = parse_capability(parts[3]) if len(parts) > 3 else None
            uuid = parts[4] if len(parts) > 4 and parts[4].startswith("GPU-") else None
            gpus.append(GPU(int(parts[0]), parts[1], mem, cap, ["driver"], uuid))
        return tuple(gpus)
    root = "/proc/driver/nvidia/gpus"
    if os.path.isdir(root):  # driver without nvidia-smi (some containers)
        for i, bus in enumerate(sorted(os.listdir(root))):
            name = "NVIDIA GPU"
            try:
                with open(os.path.join(root, bus, "information"), encoding="utf-8") as f:
                    for line in f:
                        if line.startswith("Model:"):
                            name = line.split(":", 1)[1].strip()
            except OSError:
                pass
            gpus.append(GPU(i, name, None, None, ["driver"]))
    return tuple(gpus)


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def visible_driver_gpus() -> list[GPU]:
    """The driver's GPUs that CUDA_VISIBLE_DEVICES leaves to this process, in CUDA's order (fresh copies).

    Follows CUDA's parsing (as ``torch.cuda._parse_visible_devices`` mirrors it): a list of
    indices, of ``GPU-`` UUIDs (unique prefixes allowed) or of ``MIG-`` slices; it stops at the
    first entry that names no GPU, and an entry given twice hides every GPU. ``MIG-`` slices are
    not listed by ``nvidia-smi --query-gpu``; each counts as one device of unknown kind.
    """
    drv = driver_gpus()
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is None:
        return [replace(g, seen_by=list(g.seen_by)) for g in drv]
    kind = "GPU-" if env.startswith("GPU-") else "MIG-" if env.startswith("MIG-") else None
    chosen: list[GPU] = []
    seen: set = set()
    for tok in (t.strip() for t in env.split(",")):
        if kind is None:
            m = re.match(r"[+-]?\d+", tok)  # CUDA reads each entry like strtoul: "1gpu" is 1
            key = int(m.group()) if m else -1
            found = [g for g in drv if g.index == key]
        elif not tok.startswith(kind):
            break
        else:
            key = tok
            found = ([g for g in drv if g.uuid and g.uuid.startswith(tok)] if kind == "GPU-"
                     else [GPU(len(chosen), f"MIG slice {tok}", None, None, ["driver"])] if drv else [])
        if key in seen:
            return []  # CUDA: a repeated entry leaves no GPU visible
        if len(found) != 1:
            break  # CUDA stops at the first entry that names no GPU (or more than one)
        seen.add(key)
        chosen.append(found[0])
    return [replace(g, seen_by=list(g.seen_by)) for g in chosen]


def visible_gpu_count() -> int:
    """Number of NVIDIA GPUs this process may use, without importing a framework."""
    return len(visible_driver_gpus())


def missing_kernels(capability, archs) -> str | None:
    """Say why a CUDA build has no ready kernels for a GPU of ``capability``; None when it has them.

    ``archs`` is the build's list, e.g. TensorFlow's ``['sm_60', 'sm_80', 'sm_89', 'compute_90']``.
    Machine code for ``sm_XY`` runs on GPUs of the same major X and minor >= Y; any other GPU
    needs PTX (``compute_XY`` with XY at most its capability), compiled on first use.
    """
    cap = parse_capability(capability)
    if cap is None or not archs:
        return None
    cubins = [parse_capability(a) for a in archs if a.startswith("sm_")]
    if any(c and c[0] == cap[0] and c[1] <= cap[1] for c in cubins):
        return None
    built = ", ".join(archs)
    ptx = [parse_capability(a.removeprefix("compute_")) for a in archs if a.startswith("compute_")]
    if any(p and p <= cap for p in ptx):
        return (f"has no kernels built for compute capability {cap[0]}.{cap[1]} (built for {built}): the first "
                "run compiles them from PTX, which can take many minutes and look like a hang; "
                "export CUDA_CACHE_MAXSIZE=4294967296 so that this happens once")
    return f"cannot run on compute capability {cap[0]}.{cap[1]} (built for {built})"


# Hardware tiers, smallest first: the one rule that maps a GPU count to a tier is tier_for().
TIERS = ("cpu", "1-gpu", "multi-gpu")


def tier_for(n_gpus: int) -> str:
    """The tier of a machine with ``n_gpus`` usable GPUs."""
    return TIERS[min(max(n_gpus, 0), 2)]


# The course's frameworks: catalog name -> (module, name for people, top-level modules it brings).
FRAMEWORKS = {"torch": ("torch", "PyTorch", ("torch", "torchvision")),
              "tf": ("tensorflow", "TensorFlow", ("tensorflow", "keras", "tf_keras"))}


def hidden_frameworks() -> set[str]:
    """Frameworks hidden by ``RTXCOURSE_FRAMEWORKS`` (e.g. ``torch``: behave as a torch-only install).

    Unset or empty: nothing is hidden. The tests use it to prove each one-framework install
    from one environment; a learner never needs it.
    """
    raw = os.environ.get("RTXCOURSE_FRAMEWORKS", "").strip()
    if not raw:
        return set()
    keep = {x.strip() for x in raw.split(",") if x.strip()}
    unknown = keep - set(FRAMEWORKS)
    if unknown:
        raise ValueError(f"RTXCOURSE_FRAMEWORKS names {sorted(unknown)}; use a comma list of {sorted(FRAMEWORKS)}")
    return set(FRAMEWORKS) - keep


def _hidden_modules() -> set[str]:
    return {m for fw in hidden_frameworks() for m in FRAMEWORKS[fw][2]}


def installed(module: str) -> bool:
    """True when ``module`` can be imported (checked without importing it; hidden ones count as absent)."""
    if module.split(".")[0] in _hidden_modules():
        return False
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def available_frameworks() -> set[str]:
    """Catalog names (``torch``, ``tf``) of the frameworks installed here and not hidden."""
    return {name for name, (module, _, _) in FRAMEWORKS.items() if installed(module)}


# --------------------------------------------------------------------------- importing frameworks


def quiet_frameworks() -> None:
    """Silence framework start-up noise (CUDA probing, oneDNN notices) before they are imported.

    TensorFlow reads ``TF_CPP_MIN_LOG_LEVEL`` once, at import, so this must run first. Level 3
    hides all of TensorFlow's C++ log lines, errors included (on a CPU its "errors" are notices
    such as oneDNN falling back from fp16); failures still raise Python exceptions, and the GPU
    problems those lines would report are what ``rtxcourse doctor`` diagnoses (and
    :func:`import_tensorflow` says when a GPU lacks ready kernels). An explicit value set by the
    user is kept: ``TF_CPP_MIN_LOG_LEVEL=0`` shows everything.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    os.environ.setdefault("KMP_WARNINGS", "0")


# C++ start-up notices TensorFlow writes straight to file descriptor 2 before its logging is
# configured, so TF_CPP_MIN_LOG_LEVEL cannot hide them. Matched lines are dropped; others pass.
_TF_NOISE = (
    "All log messages before absl::InitializeLog()",
    "oneDNN custom operations are on",
    "Could not find cuda drivers",
    "failed call to cuInit",
    "Unable to register cu",
    "computation placer already registered",
    "This TensorFlow binary is optimized to use available CPU instructions",
    "To enable the following instructions",
    "TF-TRT Warning",
)


def import_tensorflow():
    """Import TensorFlow quietly and return the module.

    Framework noise on a machine without a GPU ("failed call to cuInit", oneDNN notices) is
    filtered from the process's stderr during the import; any other message is kept.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    import tempfile

    quiet_frameworks()
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf

            # Grow GPU memory on demand instead of TensorFlow's default of taking nearly all of it,
            # so torch (same kernel, lessons 01 and 05) and other processes still get memory.
            gaps = set()
            for gpu in tf.config.list_physical_devices("GPU"):  # also the CUDA probe, filtered
                try:
                    tf.config.experimental.set_memory_growth(gpu, True)
                except RuntimeError:  # devices already initialised: the setting is fixed now
                    pass
                gaps.add(_tf_kernel_gap(tf, gpu))
            # In an interactive session (a notebook) TensorFlow sets its Python logger to INFO,
            # which floods cells with tf.distribute chatter; warnings and errors still show.
            tf.get_logger().setLevel("WARNING")
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [ln for ln in captured.read().decode(errors="replace").splitlines(keepends=True)
                    if ln.strip() and not any(n in ln for n in _TF_NOISE)]
            if kept:
                sys.stderr.write("".join(kept))
    for gap in sorted(g for g in gaps if g):  # hidden by the quiet log level, and it looks like a hang
        print(f"rtxcourse: TensorFlow {tf.__version__} {gap}", file=sys.stderr)
    return tf


def _tf_kernel_gap(tf, gpu) -> str | None:
    """:func:`missing_kernels` for one of TensorFlow's GPUs (None when all is well)."""
    try:
        cap = tf.config.experimental.get_device_details(gpu).get("compute_capability")
        archs = tf.sysconfig.get_build_info().get("cuda_compute_capabilities")
    except Exception:  # a diagnosis must never stop the import
        return None
    return missing_kernels(cap, archs)



def torch_info() -> dict[str, Any]:
    """What torch sees: version, CUDA build, GPUs, bf16, NCCL. Imports torch."""
    if not installed("torch"):
        return {"installed": False, "hint": "pip install -e '.[torch]'  (or '.[all]')"}
    import torch

    info: dict[str, Any] = {
        "installed": True,
        "version": torch.__version__,
        "cuda_build": torch.version.cuda,
        "cuda_available": torch.cuda.is_available(),
        "mkldnn": torch.backends.mkldnn.is_available(),
        "threads": torch.get_num_threads(),
        "gpus": [],
    }
    try:
        import torch.distributed as dist

        info["distributed"] = dist.is_available()
        info["nccl"] = dist.is_available() and dist.is_nccl_available()
        info["gloo"] = dist.is_available() and dist.is_gloo_available()
    except Exception as e:  # a broken build must not stop the doctor
        info["distributed_error"] = repr(e)
    if info["cuda_available"]:
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            info["gpus"].append(GPU(i, p.name, p.total_memory / 2**30, (p.major, p.minor), ["torch"]).to_dict())
        if info.get("nccl"):
            v = torch.cuda.nccl.version()  # a tuple in current torch, an int (e.g. 21805) in old ones
            info["nccl_version"] = ".".join(map(str, v)) if isinstance(v, tuple) else str(v)
    return info


def tf_info() -> dict[str, Any]:
    """What TensorFlow sees: version, Keras, CUDA build, GPUs. Imports TensorFlow (seconds)."""
    if not installed("tensorflow"):
        return {"installed": False, "hint": "pip install -e '.[tf]'  (or '.[all]')"}

    tf = import_tensorflow()

    build = tf.sysconfig.get_build_info()
    info: dict[str, Any] = {
        "installed": True,
        "version": tf.__version__,
        "keras": _version_of("keras"),
        "cuda_build": build.get("cuda_version") if build.get("is_cuda_build") else None,
        "cuda_archs": list(build.get("cuda_compute_capabilities") or []),
        "gpus": [],
    }
    for i, dev in enumerate(tf.config.list_physical_devices("GPU")):
        details = tf.config.experimental.get_device_details(dev)
        cap = details.get("compute_capability")
        info["gpus"].append(GPU(i, details.get("device_name", dev.name), None, tuple(cap) if cap else None, ["tensorflow"]).to_dict())
    return info


def _version_of(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


# --------------------------------------------------------------------------- report


def summary() -> dict[str, Any]:
    """A short description of this machine for benchmark reports; imports no framework.

    Versions are given for frameworks that are already imported (the ones the benchmark used).
    """
    cpu = cpu_info()
    gpus = visible_driver_gpus()
    feats = [k for k, v in cpu["features"].items() if v and k in ("avx512_bf16", "amx_bf16")]
    cpu_desc = f"{cpu['model']} ({cpu['usable_cores']} cores{', ' + ', '.join(feats) if feats else ''})"
    gpu_desc = ", ".join(f"{g.name}" + (f" {g.memory_gib:.0f} GiB" if g.memory_gib else "") for g in gpus) or "no GPU"
    versions = {"python": platform.python_version()}
    for mod in ("numpy", "torch", "tensorflow", "keras", "cv2"):
        if mod in sys.modules:
            versions[mod] = getattr(sys.modules[mod], "__version__", "?")
    return {
        "description": f"{gpu_desc}; CPU {cpu_desc}",
        "cpu": cpu["model"],
        "cpu_cores": cpu["usable_cores"],
        "gpus": [g.to_dict() for g in gpus],
        "versions": versions,
    }


def report(frameworks: bool = True) -> dict[str, Any]:
    """The machine's facts ``rtxcourse doctor`` shows, as a JSON-ready dict. Never raises.

    The tier, the precision and the lesson lists are added by :func:`rtxcourse.doctor.report`,
    which applies the course's one rule for each.
    """
    errors: dict[str, str] = {}

    def probe(name, fn, default):
        try:
            return fn()
        except Exception as e:  # the doctor must survive any broken install and say what broke
            errors[name] = f"{type(e).__name__}: {e}"
            return default

    cpu = probe("cpu", cpu_info, {"model": "unknown", "features": {}, "usable_cores": os.cpu_count()})
    drv = probe("driver", driver_gpus, ())
    visible = probe("driver", visible_driver_gpus, [])  # copies: seen_by and capability are filled in below
    out: dict[str, Any] = {
        "python": {"version": platform.python_version(), "executable": sys.executable},
        "platform": platform.platform(),
        "cpu": cpu,
        "driver_gpus": [g.to_dict() for g in drv],
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
    }
    if frameworks:
        out["torch"] = probe("torch", torch_info, {"installed": None})
        out["tensorflow"] = probe("tensorflow", tf_info, {"installed": None})
        # Prefer the framework's view (it knows the capability even without nvidia-smi).
        # Frameworks number the visible GPUs 0, 1, ... in CUDA_VISIBLE_DEVICES order.
        for fw in ("torch", "tensorflow"):
            fw_gpus = out[fw].get("gpus") or []
            for position, g in enumerate(visible):
                match = next((x for x in fw_gpus if x["index"] == position), None)
                if match:
                    g.seen_by.append(fw)
                    if g.capability is None and match.get("capability"):
                        g.capability = parse_capability(match["capability"])
            if not visible and fw_gpus:  # framework sees GPUs the driver query missed
                visible = [GPU(x["index"], x["name"], x.get("memory_gib"), parse_capability(x.get("capability")), [fw]) for x in fw_gpus]
    out["gpus"] = [g.to_dict() for g in visible]
    out["advice"] = probe("advice", lambda: advice(out, len(drv)), [])
    out["errors"] = errors
    return out


def _pip_version(version: str) -> str:
    """'2.13.0+cpu' -> '2.13.0': the version to ask pip for."""
    return version.split("+", 1)[0]


def advice(rep: dict[str, Any], n_driver: int) -> list[str]:
    """What stops the frameworks from using the GPUs the driver reports, and the fix; [] when nothing does.

    ``rep`` is a :func:`report` with framework facts; ``n_driver`` the number of GPUs the driver
    reports before ``CUDA_VISIBLE_DEVICES``. These are the mistakes a learner with a GPU makes
    first: a CPU-only wheel, a driver older than the wheel's CUDA, GPUs hidden by the environment.
    """
    tips: list[str] = []
    n_visible = len(rep.get("gpus") or [])
    hidden_by = rep.get("cuda_visible_devices")
    if n_driver and not n_visible and hidden_by is not None:
        tips.append(f"CUDA_VISIBLE_DEVICES={hidden_by!r} hides all {n_driver} GPU(s) the driver reports: "
                    "unset it (or list the GPUs to use) to train on them")
    if not n_visible:
        return tips
    torch_ = rep.get("torch") or {}
    if torch_.get("installed"):
        seen = len(torch_.get("gpus") or [])
        if not torch_.get("cuda_build"):
            tips.append(f"PyTorch {torch_['version']} is a CPU-only build, so it cannot use the {n_visible} GPU(s): "
                        f"install the CUDA wheel into the course's venv, e.g. .venv/bin/pip install "
                        f"torch=={_pip_version(torch_['version'])} --index-url https://download.pytorch.org/whl/cu128 "
                        "(README, 'GPU users')")
        elif not torch_.get("cuda_available"):
            tips.append(f"PyTorch {torch_['version']} is built for CUDA {torch_['cuda_build']} but cannot use the GPU: "
                        "the NVIDIA driver is probably older than that CUDA (nvidia-smi prints the newest CUDA it "
                        "supports); update the driver or install a wheel for an older CUDA")
        elif seen < n_visible:
            tips.append(f"PyTorch sees {seen} of the {n_visible} visible GPU(s): check CUDA_VISIBLE_DEVICES and nvidia-smi")
    tf_ = rep.get("tensorflow") or {}
    if tf_.get("installed"):
        seen = len(tf_.get("gpus") or [])
        if not tf_.get("cuda_build"):
            tips.append(f"TensorFlow {tf_['version']} is a CPU-only build: on Linux install "
                        f".venv/bin/pip install \"tensorflow[and-cuda]=={_pip_version(tf_['version'])}\"")
        elif seen == 0:
            tips.append(f"TensorFlow {tf_['version']} (CUDA {tf_['cuda_build']} build) sees no GPU: its CUDA and "
                        f"cuDNN libraries are missing; .venv/bin/pip install \"tensorflow[and-cuda]=={_pip_version(tf_['version'])}\" "
                        "puts them into the venv")
        elif seen < n_visible:
            tips.append(f"TensorFlow sees {seen} of the {n_visible} visible GPU(s): check CUDA_VISIBLE_DEVICES and nvidia-smi")
        gaps = {gap for g in tf_.get("gpus") or [] if (gap := missing_kernels(g.get("capability"), tf_.get("cuda_archs")))}
        tips.extend(f"TensorFlow {tf_['version']} {gap}" for gap in sorted(gaps))
    return tips


def format_report(rep: dict[str, Any]) -> str:
    """Render :func:`report` as the readable table ``rtxcourse doctor`` prints."""
    rows: list[tuple[str, str]] = []
    add = lambda k, v: rows.append((k, str(v)))  # noqa: E731
    add("Python", f"{rep['python']['version']} ({rep['python']['executable']})")
    add("Platform", rep.get("platform", "?"))
    cpu = rep["cpu"]
    add("CPU", f"{cpu.get('model')}: {cpu.get('usable_cores')} usable cores"
        + (f", {cpu['physical_cores']} physical" if cpu.get("physical_cores") else ""))
    if cpu.get("features_known", True) and cpu.get("features"):
        feats = [f"{CPU_FEATURES[k]}: {'yes' if v else 'no'}" for k, v in cpu["features"].items()]
        add("CPU features", "; ".join(feats))
    else:
        add("CPU features", "unknown on this platform")
    for fw, label in (("torch", "PyTorch"), ("tensorflow", "TensorFlow")):
        info = rep.get(fw)
        if info is None:
            continue
        if not info.get("installed"):
            add(label, f"not installed: {info.get('hint', '')}" if info.get("installed") is False else "failed to load (see errors)")
            continue
        extra = f", Keras {info['keras']}" if info.get("keras") else ""
        cuda = f"CUDA {info['cuda_build']} build" if info.get("cuda_build") else "CPU-only build"
        add(label, f"{info['version']}{extra} ({cuda}); GPUs seen: {len(info.get('gpus', []))}")
        if fw == "torch" and "nccl" in info:
            nccl = f"yes ({info['nccl_version']})" if info.get("nccl_version") else "yes" if info["nccl"] else "no"
            add("torch.distributed", f"NCCL: {nccl}; gloo: {'yes' if info.get('gloo') else 'no'}")
    gpus = rep.get("gpus", [])
    if not gpus:
        add("GPUs", "none found (no NVIDIA driver or no GPU visible): lessons use the CPU path")
    for g in gpus:
        tc = g["tensor_cores"]
        mem = f"{g['memory_gib']:.1f} GiB" if g.get("memory_gib") else "memory ?"
        tcs = (f"Tensor Cores gen {tc['generation']} ({tc['architecture']}): {', '.join(tc['precisions'])}"
               if tc["generation"] else f"no Tensor Cores ({tc['architecture']})")
        add(f"GPU {g['index']}", f"{g['name']}, {mem}, compute capability {g.get('capability') or '?'}; {tcs}; seen by {', '.join(g['seen_by'])}")
    rec = rep.get("recommendation") or {}
    if rec:
        add("Tier", rec["tier"])
        add("Precision", rec["precision"])
    for label, text in (rep.get("lessons") or {}).get("lines", []):
        add(label, text)
    for tip in rep.get("advice") or []:
        add("Fix", tip)
    for k, v in (rep.get("errors") or {}).items():
        add(f"error ({k})", v)
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)
