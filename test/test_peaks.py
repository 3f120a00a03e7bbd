"""peaks.py: a peak's width from its curvature, and frames of wide peaks sharpened before NMS.

(A frame whose wide peaks are a blur's is deconvolved before it reaches the peaks: test_unblur.py.)"""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter

from ros2_openpose.config import DecodeConfig
from ros2_openpose.decode import batch_peaks
from ros2_openpose.peaks import find_peaks, local_maxima, peak_widths
from ros2_openpose.skeletons import COCO17
from ros2_openpose.targets import render_heatmaps

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import mapsets  # the benchmark matrix's scenes and renderings: one definition of both
from bench_matrix import ours, rendered, score_cell

WIDE = next(r for r in mapsets.RENDERINGS if r.name == "sigma 9")


def test_a_peaks_width_is_its_gaussians_sigma() -> None:
    # The log of a Gaussian is a parabola, so three cells across the peak give its sigma exactly,
    # wherever the keypoint lies within its cell.
    keypoints = np.array([[[37.3, 41.9, 2], [90.0, 60.5, 2]]], np.float32)
    for sigma in (7.0, 9.0):
        heat = render_heatmaps(keypoints, (20, 20), 8, sigma, num_keypoints=2)[None, :2]
        np.testing.assert_allclose(peak_widths(heat, local_maxima(heat, 0.1)), sigma / 8, rtol=1e-3)


def test_blurred_neighbours_are_told_apart() -> None:
    # Two people's same part 2.5 cells apart: their Gaussians (sigma 7 px at stride 8), blurred by one
    # cell as a smooth network or a defocused camera would, run into one peak 1.7 cells wide.  Sharpened
    # by the excess width they are two peaks again, each within a cell of its keypoint.
    keypoints = np.array([[[60.0, 80.0, 2]], [[80.0, 84.0, 2]]], np.float32)
    heat = gaussian_filter(render_heatmaps(keypoints, (24, 24), 8, 7.0, num_keypoints=1)[None, :1],
                           (0, 0, 1, 1), mode="nearest")
    as_they_are = find_peaks(heat, 0.1, 64, 8.0, peak_sigma=0.0)
    sharpened = find_peaks(heat, 0.1, 64, 8.0, peak_sigma=0.875)
    assert as_they_are.counts[0, 0] == 1
    assert sharpened.counts[0, 0] == 2
    found = sharpened.xy[0, 0][sharpened.valid[0, 0]]
    distance = np.hypot(*(found[:, None] - keypoints[None, :, 0, :2]).transpose(2, 0, 1))
    assert distance.min(0).max() < 8.0, distance


def test_sharp_maps_are_left_as_they_are(real_data: Path) -> None:
    # The paper's maps of real photos: every peak exactly 7 px wide, so no frame is sharpened and the
    # peaks are those of plain NMS, bit for bit.
    photos = mapsets.load_split(real_data, "held-out")
    on, off = DecodeConfig(), DecodeConfig(peak_sigma=0.0)
    for heat, _, box in rendered(photos, mapsets.RENDERINGS[0], COCO17, "native").values():
        heat = box.crop(heat)[None]
        a, b = batch_peaks(heat, 17, on, 8), batch_peaks(heat, 17, off, 8)
        np.testing.assert_array_equal(a.valid, b.valid)
        np.testing.assert_array_equal(a.xy, b.xy)


def test_wide_crowds_of_real_people_decode_better(real_data: Path) -> None:
    # Held-out people (never tuned on) pasted into crowds of 20 and 40 at 368, drawn with Gaussians of
    # sigma 9 px (a network trained on wider Gaussians): too tall to be a blur, so not deconvolved, but
    # neighbours' same parts merge into one peak unless the frame is sharpened first.
    crowds = mapsets.pasted_crowds(mapsets.load_split(real_data, "held-out"), sizes=(20, 40))
    maps = rendered(crowds, WIDE, COCO17, "368")
    ap = {sigma: score_cell(crowds, maps, COCO17, ours(COCO17, dataclasses.replace(DecodeConfig(), peak_sigma=sigma)),
                            False)[0] for sigma in (0.0, DecodeConfig().peak_sigma)}
    print(f"\nsigma 9 px crowds of 20 and 40 at 368, coco17: AP {ap[0.0]:.3f} -> {ap[0.875]:.3f}")
    assert ap[0.875] > ap[0.0] + 0.03
