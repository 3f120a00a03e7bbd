"""Decode latency on one CPU core for crowds of 1-60 real people, beside trt_pose's compiled parse.

    .venv/bin/python benchmarks/bench_decode.py --peers /work/ext
    .venv/bin/python benchmarks/bench_decode.py --people 1 10 --repeats 100 --skeleton coco17
    .venv/bin/python benchmarks/bench_decode.py --peers /work/ext --kernel numpy --geometry native
    .venv/bin/python benchmarks/bench_decode.py --rendering blurred --people 1 20 60

The maps are the paper's rendering (``mapsets.RENDERINGS[0]``, not this project's training targets;
``--rendering`` picks another) of
pasted crowds of real annotated people (``mapsets.pasted_crowds``, tune split), letterboxed to 368 px
high as the estimator does.  Prints a markdown table: people found, the median decode time and its
split into peaks / limb scoring / matching / assembly, and, with ``--peers``, trt_pose's parse
(``peers.py``; C++ built as a torch extension) on the same coco18 maps, with the ratio of the two.
``--kernel``: limb scoring by the compiled loop (numba, when installed) or the numpy passes.
Both run on one thread (``torch.set_num_threads(1)``; numpy's element-wise operations use one).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # runs from a checkout, uninstalled
sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe  # noqa: E402
from mapsets import RENDERINGS, letterbox, load_split, pasted_crowds, scene_maps  # noqa: E402
from peers import load_peers  # noqa: E402
from ros2_openpose import limbs  # noqa: E402
from ros2_openpose.config import DecodeConfig  # noqa: E402
from ros2_openpose.decode import decode, unblurred_peaks  # noqa: E402
from ros2_openpose.limbs import score_limbs  # noqa: E402
from ros2_openpose.matching import match_limbs  # noqa: E402
from ros2_openpose.people import assemble  # noqa: E402
from ros2_openpose.skeletons import Skeleton, get_skeleton  # noqa: E402

DATA = Path(os.environ.get("ROS2_OPENPOSE_DATA", REPO.parent / "shared" / "data")) / "real-keypoints"


def median_ms(fn, repeats: int) -> float:
    fn()  # warm-up: first-call allocations and caches
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def stage_ms(heat: np.ndarray, pafs: np.ndarray, skeleton: Skeleton, config: DecodeConfig,
             repeats: int) -> dict[str, float]:
    """Median milliseconds of each of decode's steps (the same calls decode_batch makes)."""
    k = skeleton.num_keypoints
    limb_ids = skeleton.limb_ids(config.use_extra_pafs)
    ends = skeleton.limb_ends(limb_ids)
    out: dict[str, list[float]] = {"peaks": [], "limbs": [], "match": [], "people": []}  # peaks: unblur too
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        peaks, pf = unblurred_peaks(heat[None], pafs[None], k, config, 8)
        counts = peaks.counts[0]
        p = int(counts.max())
        xy, score = peaks.xy[0, :, :p], peaks.score[0, :, :p]
        t1 = time.perf_counter()
        scores = score_limbs(pf[0], xy, peaks.valid[0, :, :p], skeleton, limb_ids, config, 8)
        t2 = time.perf_counter()
        matches = match_limbs(scores, counts[ends[:, 0]], counts[ends[:, 1]], score[ends[:, 0]], score[ends[:, 1]],
                              xy_a=xy[ends[:, 0]], xy_b=xy[ends[:, 1]], short=config.short_limb * 8)
        t3 = time.perf_counter()
        assemble(xy, score, counts, matches, limb_ids, skeleton, config, scores,  # with regroup, as decode
                 short=config.short_limb * 8)
        t4 = time.perf_counter()
        for name, dt in zip(out, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            out[name].append(dt)
    return {name: 1000 * statistics.median(v[1:]) for name, v in out.items()}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--people", type=int, nargs="+", default=[1, 5, 10, 20, 40, 60])
    p.add_argument("--repeats", type=int, default=50)
    p.add_argument("--skeleton", default="coco18", help="coco18 (the peers' layout) or coco17")
    p.add_argument("--geometry", default="368", choices=["native", "368", "184"])
    p.add_argument("--peers", type=Path, default=None, help="folder with trt_pose (peers.py); else ours alone")
    p.add_argument("--rendering", default=RENDERINGS[0].name, choices=[r.name for r in RENDERINGS],
                   help="how the maps are drawn (mapsets.RENDERINGS; e.g. blurred: the unblur step's cost)")
    p.add_argument("--kernel", choices=["numba", "numpy"], default=limbs.KERNEL,
                   help=f"limb scoring: the compiled loop or the numpy passes (default here: {limbs.KERNEL})")
    args = p.parse_args(argv)
    limbs.KERNEL = args.kernel
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    skeleton = get_skeleton(args.skeleton)
    config = DecodeConfig()
    peers, missing = load_peers(args.peers)
    trt = peers.get("trt_pose") if skeleton.name == "coco18" else None
    crowds = pasted_crowds(load_split(DATA, "tune"), args.people, per_size=1)
    limbs.warm_kernel()
    rendering = next(r for r in RENDERINGS if r.name == args.rendering)
    print(f"decode, {skeleton.name}, pasted crowds letterboxed to {args.geometry}, {rendering.name} maps, limb scoring "
          f"{args.kernel}, median of {args.repeats}, 1 thread; machine: {describe()}, load average "
          f"{os.getloadavg()[0]:.1f}")
    if trt is None:
        print(f"trt_pose: not run ({missing.get('trt_pose', 'coco18 only')})")
    print("\n| people | found | cells | decode ms | peaks | limbs | match | people | trt_pose ms | found | "
          "ours / trt_pose |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n, scene in zip(args.people, crowds.scenes, strict=True):
        box = letterbox(scene, args.geometry)
        heat, pafs = (box.crop(m) for m in scene_maps(scene, rendering, skeleton, box))
        heat, pafs = np.ascontiguousarray(heat), np.ascontiguousarray(pafs)
        found = len(decode(heat, pafs, skeleton, config))
        total = median_ms(lambda heat=heat, pafs=pafs: decode(heat, pafs, skeleton, config), args.repeats)
        stages = stage_ms(heat, pafs, skeleton, config, args.repeats)
        peer = "not run | |"
        if trt is not None:
            ms = median_ms(lambda heat=heat, pafs=pafs, box=box: trt(heat, pafs, box), args.repeats)
            peer = f"{ms:.2f} | {len(trt(heat, pafs, box))} | {total / ms:.2f}"
        print(f"| {n} | {found} | {heat.shape[1]}x{heat.shape[2]} | {total:.2f} | {stages['peaks']:.2f} | "
              f"{stages['limbs']:.2f} | {stages['match']:.2f} | {stages['people']:.2f} | {peer} |", flush=True)
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
