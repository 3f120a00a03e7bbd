"""unblur.py: a blurred frame's blur measured from its own peaks and undone before the decode.

The maps are the benchmark matrix's renderings of real held-out people (``benchmarks/mapsets.py``):
the paper's maps, the same blurred by one cell (as a smooth network or a defocused camera would), and
Gaussians of sigma 9 px (a network trained on wider Gaussians: wide, but no blur); and the shipped
model's own maps of the committed photos (test/data).
"""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from ros2_openpose import decode as decode_module
from ros2_openpose.assets import resolve_weights
from ros2_openpose.config import DecodeConfig
from ros2_openpose.estimator import PoseEstimator
from ros2_openpose.peaks import maxima
from ros2_openpose.skeletons import COCO17
from ros2_openpose.unblur import blur_variances, deblurred, unblur_matrix

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import mapsets  # the benchmark matrix's scenes and renderings: one definition of both
from bench_matrix import ours, rendered, score_cell

DATA = Path(__file__).resolve().parent / "data"
RENDERING = {r.name: r for r in mapsets.RENDERINGS}
SIGMA = DecodeConfig().peak_sigma


@pytest.fixture(scope="module")
def photos(real_data: Path) -> mapsets.SceneSet:
    return mapsets.load_split(real_data, "held-out")


def _maps(photos: mapsets.SceneSet, name: str) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(box.crop(heat), box.crop(pafs))
            for heat, pafs, box in rendered(photos, RENDERING[name], COCO17, "368").values()]


def test_the_inverse_undoes_the_blur_up_to_the_border() -> None:
    # A cell's impulse blurred (sigma 1 cell, the edge cells repeated outwards, as scipy's "nearest")
    # and unblurred is the impulse again, in the middle and on the edge cell.
    n, variance = 30, 1.0
    taps = np.arange(-4, 5)
    kernel = np.exp(-taps ** 2 / 2) / np.exp(-taps ** 2 / 2).sum()
    for cell in (0, 15):
        blurred = np.convolve(np.pad(np.eye(n)[cell], 4, mode="edge"), kernel, mode="valid")
        restored = unblur_matrix(n, variance, floor=1e-8) @ blurred
        np.testing.assert_allclose(restored, np.eye(n)[cell], atol=1e-3)


def test_a_blur_is_measured_and_wide_gaussians_are_no_blur(photos: mapsets.SceneSet) -> None:
    heat = {name: np.stack([h[:17] for h, _ in _maps(photos, name)[:2]])  # two photos of one size
            for name in ("blurred", "paper", "sigma 9")}
    for name, expected in (("blurred", 1.0), ("paper", 0.0), ("sigma 9", 0.0)):
        variances = blur_variances(heat[name], maxima(heat[name], 0.1), SIGMA)
        np.testing.assert_allclose(variances, expected, atol=0.02, err_msg=name)
    # Switched off with the rest of the width rules.
    assert not blur_variances(heat["blurred"], maxima(heat["blurred"], 0.1), 0.0).any()


def test_blurred_maps_of_real_people_come_back(photos: mapsets.SceneSet) -> None:
    # Deconvolved by the blur its own peaks show, every blurred frame is the paper's frame again to
    # about a hundredth (blurred: half the peak height off), and its PAFs to a tenth.
    for (heat, pafs), (sharp_heat, sharp_pafs) in zip(_maps(photos, "blurred"), _maps(photos, "paper"), strict=True):
        variance = float(blur_variances(heat[None, :17], maxima(heat[None, :17], 0.1), SIGMA)[0])
        assert np.abs(heat - sharp_heat)[:17].max() > 0.5
        assert np.abs(deblurred(heat, variance) - sharp_heat)[:17].max() < 0.03
        assert np.abs(deblurred(pafs, variance) - sharp_pafs).max() < 0.1


def test_blurred_crowds_of_real_people_decode_like_sharp_ones(real_data: Path) -> None:
    # Held-out people (never tuned on) pasted into crowds of 20 and 40 at 368, their maps blurred by a
    # cell: neighbours' same parts run into one another, and the decode finds them only once the frame
    # is deconvolved; it then scores within a hundredth of the same crowds' sharp maps.
    crowds = mapsets.pasted_crowds(mapsets.load_split(real_data, "held-out"), sizes=(20, 40))

    def ap(name: str, sigma: float) -> float:
        config = dataclasses.replace(DecodeConfig(), peak_sigma=sigma)
        return score_cell(crowds, rendered(crowds, RENDERING[name], COCO17, "368"), COCO17, ours(COCO17, config),
                          False)[0]

    blurred_off, blurred_on, sharp = ap("blurred", 0.0), ap("blurred", SIGMA), ap("paper", SIGMA)
    print(f"\nblurred crowds of 20 and 40 at 368, coco17: AP {blurred_off:.3f} -> {blurred_on:.3f} (sharp {sharp:.3f})")
    assert blurred_on > blurred_off + 0.2
    assert blurred_on > sharp - 0.01


def test_the_shipped_models_frames_are_no_blur_until_blurred(monkeypatch: pytest.MonkeyPatch) -> None:
    # The shipped model's own maps of the committed photos (people and people-free) are never taken for
    # a blur, so no frame of it is deconvolved; the same maps blurred by one cell are.
    seen: list[tuple[np.ndarray, dict]] = []
    original = decode_module.unblurred

    def recording(heatmaps, pafs, found, peak_sigma):
        clear, pafs = original(heatmaps, pafs, found, peak_sigma)
        seen.append((np.array(heatmaps), clear))
        return clear, pafs

    monkeypatch.setattr(decode_module, "unblurred", recording)
    estimator = PoseEstimator(weights=resolve_weights("default"), device="cpu")
    for photo in sorted((DATA / "people").glob("*.jpg")) + sorted((DATA / "no_people").glob("*.jpg")):
        estimator.estimate(cv2.imread(str(photo)))
    assert len(seen) >= 20 and not any(clear for _, clear in seen)
    threshold = estimator.config.heatmap_threshold
    measured = []
    for heat, _ in seen:
        blurred = gaussian_filter(heat, (0, 0, 1, 1), mode="nearest")
        found = maxima(blurred, threshold)
        if len(found.index[0]) >= 10:  # photos with people: enough peaks to measure
            measured.append(float(blur_variances(blurred, found, SIGMA)[0]))
    print(f"\nthe shipped model's maps blurred by one cell: measured blur variance {np.round(measured, 2)}")
    # Each is taken for a blur; by about one cell's variance, plus the model's own excess width.
    assert len(measured) >= 6 and min(measured) > 0.5 and 0.7 < np.median(measured) < 1.3, measured
