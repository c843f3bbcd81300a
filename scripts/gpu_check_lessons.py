"""The GPU-size core steps of the torch lessons 03 and 09, without Jupyter (part of scripts/gpu_check.sh).

    python scripts/gpu_check_lessons.py OUT_DIR [--dry]

Runs the package functions the lessons call, at the sizes the lessons use on a GPU, and writes
``OUT_DIR/lessons.json``: what was measured, and each claim with its numbers. ``--dry`` runs the
same code at quick sizes on whatever device there is (the CPU in CI). Exit status 1 when a claim
does not hold, 2 when a step crashed (its traceback is in the JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from pathlib import Path


def lesson03(dry: bool) -> dict:
    """Lesson 03's core: autocast dtypes, GradScaler skipping, fp32 vs mixed step time and accuracy."""
    import torch
    import torch.nn.functional as F

    from rtxcourse import bench, data, precision
    from rtxcourse import precision_torch as pt
    from rtxcourse.benchmarks import precision as bp
    from rtxcourse.models_torch import MLP

    device = pt.default_device()
    plan = pt.plan(device)
    gpu = torch.cuda.get_device_name(0) if device.type == "cuda" else None
    out: dict = {"device": str(device), "gpu": gpu, "plan": str(plan), "claims": []}
    claim = lambda ok, text: out["claims"].append({"ok": bool(ok), "claim": text})  # noqa: E731

    x, w = torch.randn(64, 256, device=device), torch.randn(256, 256, device=device)
    with pt.autocast(plan):
        h = F.linear(x, w)
        ce = F.cross_entropy(h, torch.zeros(64, dtype=torch.long, device=device))
        try:
            F.binary_cross_entropy(torch.sigmoid(h), torch.rand_like(h).float())
            out["bce_under_autocast"] = "ran"
        except RuntimeError as e:
            out["bce_under_autocast"] = f"refused: {str(e).splitlines()[0][:120]}"
    out["autocast"] = {"linear": str(h.dtype), "cross_entropy": str(ce.dtype)}
    if plan.mixed:
        claim(h.dtype == pt.torch_dtype(plan) and ce.dtype == torch.float32, f"autocast: matmul {h.dtype}, loss {ce.dtype}")
    if device.type == "cuda" and plan.mixed:
        claim(out["bce_under_autocast"].startswith("refused"), "CUDA autocast refuses F.binary_cross_entropy")

    # the training step at the lesson's GPU size (lesson 01's MLP), fp32 vs this device's plan, with MFU
    in_f, hidden, batch = (256, (256, 256), 64) if dry else (4096, (8192, 8192), 4096)
    widths = (in_f, *hidden, 10)
    flops = 6 * batch * sum(i * o for i, o in zip(widths[:-1], widths[1:]))
    X, Y = torch.randn(batch, in_f, device=device), torch.randint(0, 10, (batch,), device=device)
    steps = bench.Report(f"torch MLP {widths} training step, batch {batch}")
    plans = precision.distinct_plans([pt.plan(device, "fp32"), plan])
    out["mfu"] = {}
    for p in plans:
        model = MLP(in_f, hidden, 10).to(device)
        step = pt.make_train_step(model, torch.optim.Adam(model.parameters(), 1e-4), F.cross_entropy, p)
        with pt.tf32(p.tf32):
            steps.add(bench.measure(lambda: step(X, Y), name=p.short, work=flops, unit="FLOP", sync="torch", repeats=3))
        m = bp.mfu(steps[p.short].rate, p.short.split("+")[0], device.type, gpu)
        out["mfu"][p.short] = {"value": m.value, "peak_source": m.reason}
        if m.value is not None:
            claim(0 < m.value <= 1, f"MFU of the {p.short} step {m.value:.1%} is a fraction of the peak")
    out["steps"] = steps.to_dict()
    if len(plans) == 2:
        ratio = steps.ratio(plans[1].short, plans[0].short)
        expect = precision.expected_speedup(plan, "train")
        out["train_speedup"], out["train_expected"] = ratio, str(expect)
        if expect.floor is not None and not dry:  # quick sizes say nothing about speed
            claim(ratio >= expect.floor, f"{plan.short} step {ratio:.2f}x faster than fp32 ({expect})")

    # TF32 for the float32 matmuls torch leaves strict by default (Ampere+ only)
    if device.type == "cuda" and "tf32" in bp.sweep_dtypes("cuda", torch.cuda.get_device_capability(0)):
        n = 1024 if dry else 8192
        sweep = bp.matmul_sweep("torch", [n], ["fp32", "tf32", "bf16"], repeats=3)
        out["matmul"] = sweep.to_dict()

    # accuracy: fp32 vs mixed on the digits, same seed
    (x_tr, y_tr), (x_te, y_te) = data.train_test_split(*data.digits(image_size=32))
    to = lambda a: torch.from_numpy(a).flatten(1).to(device)  # noqa: E731
    Xtr, Ytr, Xte, Yte = to(x_tr), torch.from_numpy(y_tr).to(device), to(x_te), torch.from_numpy(y_te).to(device)
    acc = {}
    for p in plans:
        torch.manual_seed(0)
        model = MLP(Xtr.shape[1], (256, 256) if dry else (1024, 1024), 10).to(device)
        step = pt.make_train_step(model, torch.optim.Adam(model.parameters(), 1e-3), F.cross_entropy, p)
        for _ in range(1 if dry else 5):
            for idx in torch.randperm(len(Xtr), generator=torch.Generator().manual_seed(0)).to(device).split(128):
                step(Xtr[idx], Ytr[idx])
        with torch.no_grad(), pt.autocast(p):
            acc[p.short] = (model(Xte).argmax(1) == Yte).float().mean().item()
    out["accuracy"] = acc
    claim(min(acc.values()) >= max(acc.values()) - 0.05 and max(acc.values()) > (0.3 if dry else 0.5),
          f"mixed matches fp32 accuracy: {acc}")

    # the scaler skips a step whose gradients overflow, and halves its scale
    model = MLP(64, (64,), 10).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler(device.type, init_scale=2.0**16)
    before = [q.detach().clone() for q in model.parameters()]
    with torch.autocast(device.type, dtype=torch.float16):
        loss = F.cross_entropy(model(torch.full((8, 64), float("nan"), device=device)), torch.zeros(8, dtype=torch.long, device=device))
    scaler.scale(loss).backward()
    scaler.step(opt)
    scaler.update()
    claim(all(torch.equal(b, q) for b, q in zip(before, model.parameters())) and scaler.get_scale() == 2.0**15,
          f"fp16 + GradScaler skips a NaN step (scale now {scaler.get_scale():g})")
    return out


def lesson09(dry: bool) -> dict:
    """Lesson 09's core: the DDP worker under torchrun on every GPU (2 CPU processes in a dry run)."""
    from rtxcourse import distributed

    n_gpus = distributed.torch_gpu_count()
    nprocs = n_gpus if n_gpus >= 1 and not dry else 2
    epochs = 1 if dry else 5
    job = distributed.launch_torch(module="rtxcourse.workers.ddp_train", nprocs=nprocs, timeout=240,
                                   args=["--epochs", epochs], echo=False)
    ranks = [job.result(r) for r in range(nprocs)]
    out = {"nprocs": nprocs, "device": job.device, "job": str(job), "ranks": ranks, "claims": []}
    sums = [r["param_checksum"] for r in ranks]
    out["claims"].append({"ok": max(sums) - min(sums) <= 1e-6 * max(1.0, abs(sums[0])),
                          "claim": f"every rank ends with the same weights (one model): checksums {sums}"})
    if not dry:
        out["claims"].append({"ok": ranks[0]["test_accuracy"] > 0.5, "claim": f"test accuracy {ranks[0]['test_accuracy']:.3f}"})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--dry", action="store_true", help="quick sizes on any device (CI)")
    args = ap.parse_args(argv)
    import rtxcourse as rc

    rc.setup(seed=0, verbose=True)
    report, status = {"dry": args.dry, "python": sys.version.split()[0]}, 0
    for name, fn in (("lesson03", lesson03), ("lesson09", lesson09)):
        start = time.perf_counter()
        try:
            report[name] = fn(args.dry)
            failed = [c["claim"] for c in report[name]["claims"] if not c["ok"]]
            status = max(status, 1 if failed else 0)
        except Exception:
            report[name] = {"error": traceback.format_exc()}
            failed, status = ["crashed"], 2
        report[name]["seconds"] = round(time.perf_counter() - start, 1)
        print(f"{name}: {'ok' if not failed else 'FAILED: ' + '; '.join(failed)} ({report[name]['seconds']} s)")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "lessons.json").write_text(json.dumps(report, indent=2, default=str))
    return status


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1" if "--dry" not in sys.argv else os.environ.get("OMP_NUM_THREADS", "2"))
    sys.exit(main())
