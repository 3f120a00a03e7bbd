"""Peaks -> limbs: score every candidate pair of every limb in one batch on the device, then match.

A candidate is a pair (peak of part A, peak of part B) of a limb A->B.  Its score is the line
integral of the limb's PAF along the segment: the mean over sample points of ``dot(PAF(p), u)``
with ``u`` the unit vector A->B.  The dot product makes it direction-aware: a PAF pointing B->A
gives negative samples and never connects.  A candidate is kept when

* at least ``paf_min_fraction`` of its samples exceed ``paf_threshold`` (a real limb is supported
  all along, not only where it crosses another person's limb),
* ``mean + min(0, max_limb_length * H / length - 1) >= match_threshold`` (and > 0): the second
  term penalises segments longer than a plausible limb, ``H`` is the map height in input pixels.

The PAFs are sampled bilinearly straight from the network's coarse grid (cell centres at
``stride*j + (stride-1)/2``), which equals sampling the bilinearly upsampled map without computing
it.  Every pair of every limb is scored at once on the maps' device; only the small
``(limbs, P, P)`` score tensor goes to the host, where each limb is matched one-to-one.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from .config import DecodeConfig
from .skeletons import Skeleton

#: Samples per candidate segment: one per map cell of length (the PAF between cell centres is the
#: bilinear blend of its neighbours, so denser samples add little), at least 10 (the original's
#: count) so the fraction test stays meaningful on short limbs, at most 24.
MIN_SAMPLES = 10
MAX_SAMPLES = 24
SAMPLES_PER_CELL = 1.0
#: Pass 1 takes this many samples more than the fraction test tolerates to fail, so a wrong pair
#: that crosses a little PAF near one end is still dropped there (measured: 2 is the fastest).
EXTRA_PROBES = 2
#: Below this many candidate pairs one full pass is cheaper than two (per-operation overhead wins;
#: measured: ~5 people).
PRUNE_FROM_PAIRS = 600


def score_limbs(pafs: torch.Tensor, xy: torch.Tensor, valid: torch.Tensor, skeleton: Skeleton,
                limb_ids: Sequence[int], config: DecodeConfig, stride: float = 8.0) -> torch.Tensor:
    """Scores ``(len(limb_ids), P, P)`` of every candidate pair; 0 where a pair is rejected.

    ``pafs`` is ``(2L, h, w)`` on any device, ``xy`` ``(K, P, 2)`` peak positions in input pixels and
    ``valid`` ``(K, P)`` (on the same device).  Entry ``[n, i, j]`` scores peak ``i`` of limb
    ``limb_ids[n]``'s part A with peak ``j`` of its part B.

    Two passes keep the work near the number of true limbs rather than of all pairs (which grows
    with the square of the people): the first samples a few of each pair's own sample points, more
    than the fraction test lets fail, and drops the pairs where too many fail already (exact: those
    points are among the full set); the second samples the survivors fully.
    """
    device = pafs.device
    n_limbs, p = len(limb_ids), xy.shape[1]
    scores = torch.zeros((n_limbs, p, p), dtype=torch.float32, device=device)
    if n_limbs == 0 or p == 0:
        return scores
    ends, offsets = _limb_tensors(skeleton, tuple(limb_ids), pafs.shape[-2] * pafs.shape[-1], device)
    # Candidates: only the pairs of valid peaks (one host sync to know how many there are).
    pair_ok = valid[ends[:, 0]][:, :, None] & valid[ends[:, 1]][:, None, :]
    limb, ia, ib = pair_ok.nonzero(as_tuple=True)
    if limb.numel() == 0:
        return scores
    a = xy[ends[limb, 0], ia]  # (M, 2)
    d = xy[ends[limb, 1], ib] - a
    length = torch.linalg.vector_norm(d, dim=1)
    n = (length / stride * SAMPLES_PER_CELL).ceil().clamp(MIN_SAMPLES, MAX_SAMPLES)
    # (6, M) per pair: start, step (cell units), unit vector; rows stay contiguous so that (M, 1)
    # broadcasts are cheap.  (2, M): where the pair's x / y PAF channels start in the flat maps.
    half = (stride - 1) / 2.0
    geometry = torch.cat(((a.T - half) / stride, d.T / stride, d.T / length.clamp_min(1e-6)))
    channels = offsets[:, limb]
    flat = pafs.reshape(-1)
    hw = pafs.shape[1:]

    # Pass 1: q evenly spread samples, EXTRA_PROBES more than the fraction test lets fail.
    allowed = n - (n * config.paf_min_fraction - 1e-6).ceil()
    q = int(allowed.max().item()) + 1 + EXTRA_PROBES
    if q < int(n.max().item()) and limb.numel() >= PRUNE_FROM_PAIRS:
        j = torch.arange(1, q + 1, device=device, dtype=torch.float32)
        index = ((n[:, None] - 1) * (j / (q + 1))).round()  # sample numbers among the pair's n
        fails = line_dots(flat, hw, geometry, channels, index / (n[:, None] - 1)) <= config.paf_threshold
        fails[:, 1:] &= index[:, 1:] != index[:, :-1]  # a short pair may get a sample twice: count once
        alive = (fails.sum(1) <= allowed).nonzero(as_tuple=True)[0]
        if alive.numel() == 0:
            return scores
        limb, ia, ib, n, length = limb[alive], ia[alive], ib[alive], n[alive], length[alive]
        geometry, channels = geometry[:, alive], channels[:, alive]

    # Pass 2: all n samples of the survivors.
    steps = torch.arange(int(n.max().item()), device=device, dtype=torch.float32)
    used = steps[None, :] < n[:, None]  # (M', S): the first n[m] samples of pair m
    dots = line_dots(flat, hw, geometry, channels, (steps[None, :] / (n[:, None] - 1)).clamp(max=1.0))
    supported = ((dots > config.paf_threshold) & used).sum(1) / n
    mean = (dots * used).sum(1) / n
    height = hw[0] * stride
    penalty = (config.max_limb_length * height / length.clamp_min(1e-6) - 1.0).clamp(max=0.0)
    score = mean + penalty
    ok = (supported >= config.paf_min_fraction) & (score > 0) & (score >= config.match_threshold) \
        & (length > 1e-6)
    scores[limb, ia, ib] = torch.where(ok, score, torch.zeros_like(score))
    return scores


@lru_cache(maxsize=64)
def _limb_tensors(skeleton: Skeleton, limb_ids: tuple[int, ...], cells: int,
                  device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Per used limb: its end parts ``(L, 2)``, and where its x / y PAF start in the flat maps ``(2, L)``."""
    ends = torch.tensor([skeleton.limbs[i] for i in limb_ids], dtype=torch.long).reshape(-1, 2).to(device)
    channels = torch.tensor([skeleton.paf_channels[i] for i in limb_ids], dtype=torch.long).reshape(-1, 2)
    return ends, (channels.T * cells).to(device)


def line_dots(flat: torch.Tensor, hw: Sequence[int], geometry: torch.Tensor, channels: torch.Tensor,
              t: torch.Tensor) -> torch.Tensor:
    """``dot(PAF(start + t*step), unit)`` ``(M, S)``, the PAF sampled bilinearly from the coarse grid.

    ``flat`` is the PAF maps flattened; ``geometry`` rows are start x, y and step x, y in cell units
    (cell ``(i, j)`` at ``(j, i)``) and the unit vector x, y; ``channels`` rows the offsets of each
    pair's x and y channel in ``flat``.  Points outside the grid take the border cells' values (as
    an upsampled map's edge would).  Bilinear is linear, so each corner's dot product is blended
    rather than its vector.
    """
    h, w = int(hw[0]), int(hw[1])
    x = torch.addcmul(geometry[0, :, None], t, geometry[2, :, None]).clamp_(0, w - 1)
    y = torch.addcmul(geometry[1, :, None], t, geometry[3, :, None]).clamp_(0, h - 1)
    x0, y0 = x.floor(), y.floor()
    fx, fy = x - x0, y - y0
    x0, y0 = x0.long(), y0.long()
    x1, y1 = (x0 + 1).clamp_(max=w - 1), (y0 + 1).clamp_(max=h - 1)
    row0 = y0 * w + channels[0, :, None]
    row1 = y1 * w + channels[0, :, None]
    ix = torch.stack((row0 + x0, row0 + x1, row1 + x0, row1 + x1))  # (4, M, S): x channel
    iy = ix + (channels[1] - channels[0])[:, None]                    # same cells, y channel
    v = flat.take(torch.stack((ix, iy)))                              # (2, 4, M, S)
    d00, d01, d10, d11 = (v[0] * geometry[4, :, None] + v[1] * geometry[5, :, None]).unbind(0)
    return torch.lerp(torch.lerp(d00, d01, fx), torch.lerp(d10, d11, fx), fy)


def match_scipy(scores: np.ndarray) -> list[tuple[int, int, float]]:
    """One-to-one matches ``(i, j, score)`` maximising the total score; 0 entries never match.

    A zero entry is "no candidate": a maximum-weight assignment of the full matrix restricted to its
    positive entries is a maximum-weight matching of the candidates, so no special handling is needed.
    """
    if scores.size == 0 or not (scores > 0).any():
        return []
    rows, cols = linear_sum_assignment(scores, maximize=True)
    return [(int(i), int(j), float(scores[i, j])) for i, j in zip(rows, cols) if scores[i, j] > 0]


def match_munkres(scores: np.ndarray) -> list[tuple[int, int, float]]:
    """The same matching with the ``munkres`` package (pure Python; the reference for the tests)."""
    from munkres import Munkres

    if scores.size == 0 or not (scores > 0).any():
        return []
    top = float(scores.max())
    cost = (top - scores).tolist()  # minimising top - score maximises the score
    pairs = Munkres().compute(cost)
    return [(int(i), int(j), float(scores[i, j])) for i, j in pairs if scores[i, j] > 0]


MATCHERS = {"scipy": match_scipy, "munkres": match_munkres}


def match_limbs(scores: np.ndarray, counts_a: Sequence[int], counts_b: Sequence[int],
                matcher: str = "scipy") -> list[list[tuple[int, int, float]]]:
    """Per limb, the one-to-one matches of its ``(counts_a[n], counts_b[n])`` score block.

    scipy's ``linear_sum_assignment`` is the default: it solves the same problem as Munkres exactly
    (test_decode checks identical assignments) in C: 0.26 ms instead of 1.2 ms for 10 people with
    the pure-Python ``munkres`` package, and the gap grows with the crowd.
    """
    match = MATCHERS[matcher]
    out = []
    for n in range(scores.shape[0]):
        block = scores[n, :counts_a[n], :counts_b[n]]
        out.append(match(block))
    return out

