"""Network forward latency: SeedNet (width 1) and CMUBodyNet at input heights 184 and 368.

Prints one markdown table row per (model, size) with the machine it ran on, e.g.::

    .venv/bin/python benchmarks/bench_forward.py --iterations 10 --threads 1

Random weights (latency does not depend on their values); square inputs; batch 1; float32 on CPU,
fp16 autocast on CUDA unless --no-fp16.  Reports the median of ``--iterations`` timed runs after
``--warmup`` untimed ones.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runs from a checkout, uninstalled
sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import cpu_model
from ros2_openpose.maps import infer_maps
from ros2_openpose.models import build_model, resolve_device


def machine(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}"
    return f"{cpu_model()}, {os.cpu_count()} cores, {torch.get_num_threads()} threads"


def time_forward(net: torch.nn.Module, size: int, device: torch.device, fp16: bool,
                 iterations: int, warmup: int) -> float:
    x = torch.randn(1, 3, size, size, device=device)
    times = []
    for i in range(warmup + iterations):
        start = time.perf_counter()
        infer_maps(net, x, fp16)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["seed", "cmu"], choices=["seed", "cmu"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[184, 368])
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0 = torch's default)")
    parser.add_argument("--device", default="cpu", help='"cpu", "cuda" or "auto"')
    parser.add_argument("--no-fp16", action="store_true")
    args = parser.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    fp16 = device.type == "cuda" and not args.no_fp16
    print("| model | input | device | machine | torch | precision | median ms | iterations |")
    print("|---|---|---|---|---|---|---|---|")
    for model_type in args.models:
        net = build_model(model_type, **({"freeze_backbone": False} if model_type == "seed" else {}))
        net = net.to(device).eval()
        for size in args.sizes:
            ms = time_forward(net, size, device, fp16, args.iterations, args.warmup)
            print(f"| {model_type} | {size}x{size} | {device.type} | {machine(device)} | {torch.__version__} "
                  f"| {'fp16' if fp16 else 'fp32'} | {ms:.1f} | {args.iterations} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
