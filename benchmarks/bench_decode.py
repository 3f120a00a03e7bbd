"""Decode latency on one CPU core: maps -> people for 1, 5, 10, 20 real people at 368 input.

    .venv/bin/python benchmarks/bench_decode.py
    .venv/bin/python benchmarks/bench_decode.py --people 1 10 --repeats 100 --skeleton coco18

The maps are ideal ones (``targets.py``) of real annotated people from the COCO subset
``../shared/data/real-keypoints/coco-mini-train2017``, each scaled as its image would be letterboxed
to 368 px high and placed at a random spot of a 368 x 480 input (46 x 60 map cells), so crowds
overlap the way real ones do.  Prints a markdown table: the median decode time and its split into
peaks / limb scoring / matching / assembly, plus the alternatives (heatmaps upsampled before NMS,
pure-Python Munkres) for comparison, and the machine.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # runs from a checkout, uninstalled
sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import cpu_model  # noqa: E402

from ros2_openpose.config import DecodeConfig  # noqa: E402
from ros2_openpose.decode import as_tensor, batch_peaks, decode  # noqa: E402
from ros2_openpose.limbs import match_limbs, score_limbs  # noqa: E402
from ros2_openpose.people import assemble  # noqa: E402
from ros2_openpose.skeletons import Skeleton, get_skeleton  # noqa: E402
from ros2_openpose.targets import render_heatmaps, render_pafs  # noqa: E402

DEFAULT_SET = Path(os.environ.get("ROS2_OPENPOSE_DATA", REPO.parent / "shared" / "data")) \
    / "real-keypoints" / "coco-mini-train2017"
INPUT_H, INPUT_W, STRIDE = 368, 480, 8


def real_people(annotations: Path, min_parts: int = 8) -> list[np.ndarray]:
    """(17, 3) keypoints of well-labelled real people, scaled as their image letterboxed to 368 high."""
    data = json.loads(annotations.read_text())
    heights = {im["id"]: im["height"] for im in data["images"]}
    people = []
    for a in data["annotations"]:
        if a["iscrowd"] or a["num_keypoints"] < min_parts:
            continue
        kps = np.array(a["keypoints"], np.float32).reshape(17, 3)
        kps[:, :2] *= INPUT_H / heights[a["image_id"]]
        people.append(kps)
    return people


def crowd(pool: list[np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` people from ``pool`` (repeating it if needed), each moved to a random spot inside the input."""
    out = []
    for i in rng.permutation(max(n, len(pool)))[:n]:
        kps = pool[i % len(pool)].copy()
        on = kps[:, 2] > 0
        lo, hi = kps[on, :2].min(0), kps[on, :2].max(0)
        room = np.maximum(np.array([INPUT_W, INPUT_H]) - (hi - lo), 1)
        kps[on, :2] += rng.uniform(0, room) - lo
        out.append(kps)
    return np.stack(out)


def ideal_maps(keypoints17: np.ndarray, skeleton: Skeleton) -> tuple[torch.Tensor, torch.Tensor]:
    kps = skeleton.from_coco17(keypoints17)
    hw = (INPUT_H // STRIDE, INPUT_W // STRIDE)
    return (torch.from_numpy(render_heatmaps(kps, hw, STRIDE, num_keypoints=skeleton.num_keypoints)),
            torch.from_numpy(render_pafs(kps, skeleton, hw, STRIDE)))


def median_ms(fn, repeats: int, device: torch.device) -> float:
    fn()  # warm-up: first-call allocations and lazy imports
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def stage_ms(heat: torch.Tensor, pafs: torch.Tensor, skeleton: Skeleton, config: DecodeConfig,
             repeats: int) -> dict[str, float]:
    """Median milliseconds of each of decode's steps (the same calls decode_batch makes)."""
    k = skeleton.num_keypoints
    limb_ids = skeleton.limb_ids(config.use_extra_pafs)
    ends = np.array([skeleton.limbs[i] for i in limb_ids])
    hm, pf = as_tensor(heat)[None], as_tensor(pafs)
    out: dict[str, list[float]] = {"peaks": [], "limbs": [], "match": [], "people": []}
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        peaks = batch_peaks(hm, k, config, STRIDE)
        counts = peaks.valid.sum(-1).cpu().numpy()[0]
        host = peaks.to("cpu")
        p = int(counts.max())
        t1 = time.perf_counter()
        scores = score_limbs(pf, peaks.xy[0, :, :p], peaks.valid[0, :, :p], skeleton, limb_ids, config,
                             STRIDE).cpu().numpy()
        t2 = time.perf_counter()
        matches = match_limbs(scores, counts[ends[:, 0]], counts[ends[:, 1]])
        t3 = time.perf_counter()
        assemble(host.xy[0, :, :p].numpy(), host.score[0, :, :p].numpy(), counts, matches, limb_ids,
                 skeleton, config)
        t4 = time.perf_counter()
        for name, dt in zip(out, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            out[name].append(dt)
    return {name: 1000 * statistics.median(v[1:]) for name, v in out.items()}


def munkres_ms(heat: torch.Tensor, pafs: torch.Tensor, skeleton: Skeleton, config: DecodeConfig,
               repeats: int) -> float:
    """The matching step alone with the pure-Python munkres package instead of scipy."""
    limb_ids = skeleton.limb_ids(config.use_extra_pafs)
    ends = np.array([skeleton.limbs[i] for i in limb_ids])
    peaks = batch_peaks(heat[None], skeleton.num_keypoints, config, STRIDE)
    counts = peaks.valid.sum(-1).cpu().numpy()[0]
    p = int(counts.max())
    scores = score_limbs(pafs, peaks.xy[0, :, :p], peaks.valid[0, :, :p], skeleton, limb_ids, config,
                         STRIDE).cpu().numpy()
    return median_ms(lambda: match_limbs(scores, counts[ends[:, 0]], counts[ends[:, 1]], "munkres"), repeats,
                     torch.device("cpu"))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--people", type=int, nargs="+", default=[1, 5, 10, 20])
    p.add_argument("--repeats", type=int, default=50)
    p.add_argument("--skeleton", default="coco17")
    p.add_argument("--device", default="cpu", help="where the maps live (cpu, cuda)")
    p.add_argument("--annotations", type=Path, default=DEFAULT_SET / "annotations.json")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    device = torch.device(args.device)
    skeleton = get_skeleton(args.skeleton)
    config = DecodeConfig()  # every limb, extras included
    upsampled = config.updated(upsample_heatmaps=True)
    pool = real_people(args.annotations)
    rng = np.random.default_rng(0)
    few = max(3, args.repeats // 10)
    cells = f"{INPUT_H // STRIDE}x{INPUT_W // STRIDE} cells"
    print(f"decode, {skeleton.name}, {INPUT_H}x{INPUT_W} input ({cells}), "
          f"maps on {device}, median of {args.repeats}, 1 CPU thread\n")
    print("| people | found | decode ms | peaks | limbs | match | people | NMS on upsampled heatmaps ms "
          "| match with munkres ms |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in args.people:
        heat, pafs = (m.to(device) for m in ideal_maps(crowd(pool, n, rng), skeleton))
        found = len(decode(heat, pafs, skeleton, config))
        total = median_ms(lambda: decode(heat, pafs, skeleton, config), args.repeats, device)
        stages = stage_ms(heat, pafs, skeleton, config, args.repeats)
        slow = median_ms(lambda: decode(heat, pafs, skeleton, upsampled), few, device)
        munkres = munkres_ms(heat, pafs, skeleton, config, few)
        print(f"| {n} | {found} | {total:.2f} | {stages['peaks']:.2f} | {stages['limbs']:.2f} | "
              f"{stages['match']:.2f} | {stages['people']:.2f} | {slow:.1f} | {munkres:.1f} |")
    gpu = f", {torch.cuda.get_device_name(device)}" if device.type == "cuda" else ""
    print(f"\nmachine: {cpu_model()}, {os.cpu_count()} cores visible{gpu}, torch {torch.__version__} "
          f"(1 intra-op thread), numpy {np.__version__}, Python {platform.python_version()}")


if __name__ == "__main__":
    main()
