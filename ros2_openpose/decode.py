"""Maps -> people: the whole post-processing of a PAF network's output.

``decode(heatmaps, pafs, skeleton, config, stride)`` takes the raw maps of one image as the network
emits them, ``(K+1, h, w)`` heatmaps (background last) and ``(2L, h, w)`` PAFs at ``stride`` input
pixels per cell, numpy arrays or torch tensors (CUDA ones are copied to the host: the decode is a
CPU algorithm, numpy on the calling thread), and returns people with keypoints in input pixels.
Cell ``(i, j)`` is centred on input pixel ``(stride*j + (stride-1)/2, stride*i + (stride-1)/2)``: the
point an align_corners=False upsampling by ``stride`` puts there.

Steps (docs/decoding.md explains the choices and has the timings):

1. unblur (``unblur.py``): a frame whose peaks show that its maps were blurred is deconvolved first;
2. peaks (``peaks.py``): NMS on the coarse heatmaps, every peak kept, log-parabola sub-cell fit
   (``config.upsample_heatmaps`` instead upsamples the heatmaps bicubically by ``stride`` first);
3. limbs (``limbs.py``, ``matching.py``): every candidate pair scored by bilinear samples of the
   coarse PAFs; optimal one-to-one matching per limb; limbs shorter than a cell by proximity;
4. people (``people.py``): greedy assembly across limbs, extra limbs as evidence.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .config import DecodeConfig
from .limbs import score_limbs
from .matching import match_limbs
from .peaks import Maxima, Peaks, find_peaks, maxima
from .people import Person, assemble
from .skeletons import Skeleton, get_skeleton
from .unblur import unblurred


def as_array(maps: Any) -> np.ndarray:
    """Float32 numpy maps on the host (a view when they already are; CUDA maps are copied over)."""
    if isinstance(maps, torch.Tensor):
        return maps.detach().to("cpu", torch.float32).numpy()
    return np.ascontiguousarray(maps, dtype=np.float32)


def _check(heatmaps: np.ndarray, pafs: np.ndarray, skeleton: Skeleton) -> None:
    k, c = skeleton.num_keypoints, skeleton.num_pafs
    if heatmaps.shape[-3] not in (k, k + 1):
        raise ValueError(f"{skeleton.name} needs {k + 1} heatmap channels (K + background), "
                         f"got {heatmaps.shape[-3]}")
    if pafs.shape[-3] != c:
        raise ValueError(f"{skeleton.name} needs {c} PAF channels, got {pafs.shape[-3]}")
    if heatmaps.shape[-2:] != pafs.shape[-2:]:
        raise ValueError(f"heatmaps {tuple(heatmaps.shape[-2:])} and PAFs {tuple(pafs.shape[-2:])} "
                         "must share their grid")


def batch_peaks(heatmaps: np.ndarray, k: int, config: DecodeConfig, stride: int, found: Maxima | None = None,
                clear: dict[int, np.ndarray] | None = None) -> Peaks:
    """Peaks of ``(B, K(+1), h, w)`` heatmaps in input pixels (see ``config.upsample_heatmaps``, which
    neither reads ``found`` nor undoes a blur); ``found``: their keypoint channels' maxima, ``clear``:
    the blurred images' deconvolved keypoint heatmaps (``unblur.unblurred``), when the caller has them."""
    maps = heatmaps[:, :k]
    if config.upsample_heatmaps and stride > 1:
        # align_corners=False puts cell j's value at pixel stride*j + (stride-1)/2, our convention.
        up = F.interpolate(torch.from_numpy(np.ascontiguousarray(maps)), scale_factor=stride, mode="bicubic",
                           align_corners=False)
        return find_peaks(up.numpy(), config.heatmap_threshold, config.max_peaks, stride=1.0,
                          peak_sigma=config.peak_sigma * stride)
    return find_peaks(maps, config.heatmap_threshold, config.max_peaks, stride=float(stride),
                      peak_sigma=config.peak_sigma, found=found, unblurred=clear)


def unblurred_peaks(heatmaps: np.ndarray, pafs: np.ndarray, k: int, config: DecodeConfig,
                    stride: int) -> tuple[Peaks, np.ndarray]:
    """Steps 1 and 2 for ``(B, K+1, h, w)`` heatmaps and ``(B, 2L, h, w)`` PAFs: the peaks, each blurred
    image's found on its deconvolved heatmaps, and the PAFs as the limbs then read them."""
    if config.upsample_heatmaps:  # kept for comparison: its own maxima on finer maps, no blur undone
        return batch_peaks(heatmaps, k, config, stride), pafs
    found = maxima(heatmaps[:, :k], config.heatmap_threshold)
    clear, pafs = unblurred(heatmaps[:, :k], pafs, found, config.peak_sigma)
    return batch_peaks(heatmaps, k, config, stride, found, clear), pafs


def decode(heatmaps: Any, pafs: Any, skeleton: Skeleton | str, config: DecodeConfig = DecodeConfig(),
           stride: int = 8) -> list[Person]:
    """People in one image's maps, keypoints in input pixels, best score first."""
    hm, pf = as_array(heatmaps), as_array(pafs)
    if hm.ndim != 3 or pf.ndim != 3:
        raise ValueError(f"decode takes (C, h, w) maps, got {tuple(hm.shape)} and {tuple(pf.shape)}")
    return decode_batch(hm[None], pf[None], skeleton, config, stride)[0]


def decode_batch(heatmaps: Any, pafs: Any, skeleton: Skeleton | str, config: DecodeConfig = DecodeConfig(),
                 stride: int = 8) -> list[list[Person]]:
    """People per image of ``(B, K+1, h, w)`` heatmaps and ``(B, 2L, h, w)`` PAFs (peaks in one pass)."""
    skeleton = get_skeleton(skeleton)
    config = config.validated()
    hm, pf = as_array(heatmaps), as_array(pafs)
    if hm.ndim != 4 or pf.ndim != 4 or hm.shape[0] != pf.shape[0]:
        raise ValueError(f"decode_batch takes (B, C, h, w) maps, got {tuple(hm.shape)} and "
                         f"{tuple(pf.shape)}")
    _check(hm, pf, skeleton)
    if hm.shape[0] == 0:
        return []
    if hm.shape[-1] == 0 or hm.shape[-2] == 0:
        return [[] for _ in range(hm.shape[0])]
    k = skeleton.num_keypoints
    peaks, pf = unblurred_peaks(hm, pf, k, config, stride)
    counts = peaks.counts  # (B, K); valid peaks come first in each row
    limb_ids = skeleton.limb_ids(config.use_extra_pafs)
    ends = skeleton.limb_ends(limb_ids)
    results: list[list[Person]] = []
    for b in range(hm.shape[0]):
        p = int(counts[b].max(initial=0))
        if p == 0:
            results.append([])
            continue
        xy, score = peaks.xy[b, :, :p], peaks.score[b, :, :p]
        scores = score_limbs(pf[b], xy, peaks.valid[b, :, :p], skeleton, limb_ids, config, float(stride))
        matches = match_limbs(scores, counts[b][ends[:, 0]], counts[b][ends[:, 1]], score[ends[:, 0]],
                              score[ends[:, 1]], xy_a=xy[ends[:, 0]], xy_b=xy[ends[:, 1]],
                              short=config.short_limb * stride)
        results.append(assemble(xy, score, counts[b], matches, limb_ids, skeleton, config, scores,
                                short=config.short_limb * stride))
    return results
