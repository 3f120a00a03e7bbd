"""threads.py: the thread count that runs each frame follows the measured speed, both ways.

The unit tests drive ``AdaptiveThreads`` with a test double at its one boundary, time: stand-in
networks that advance a fake clock by the cost we give each thread count (a real load change cannot be
made to happen on cue in a test).  The last test runs the shipped default model's real ONNX twin.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from ros2_openpose.assets import resolve_weights
from ros2_openpose.backend import cores
from ros2_openpose.estimator import PoseEstimator
from ros2_openpose.threads import AdaptiveThreads

PEOPLE = Path(__file__).parent / "data" / "people"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Timed(nn.Module):
    """A stand-in session: each forward advances ``clock`` by the current cost (ms per frame) of its
    thread count; the very first forward costs ``first_ms`` (a session's warm-up)."""

    def __init__(self, clock: Clock, costs: dict[int, float], threads: int, first_ms: float = 0.0) -> None:
        super().__init__()
        self.clock, self.costs, self.threads, self.first_ms, self.runs = clock, costs, threads, first_ms, 0

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.runs += 1
        self.clock.now += (self.first_ms if self.runs == 1 else self.costs[self.threads]) / 1000
        return x, x


def run(adaptive: AdaptiveThreads, frames: int) -> list[int]:
    used = []
    for _ in range(frames):
        adaptive(torch.zeros(1, 3, 8, 8))
        used.append(adaptive.threads)
    return used


def test_the_faster_thread_count_runs_and_a_change_of_load_moves_it_both_ways() -> None:
    clock, costs = Clock(), {1: 100.0, 2: 60.0}  # free cores: two threads are faster
    # Each session's first run is slow (a warm-up) and must not count against it.
    adaptive = AdaptiveThreads({t: Timed(clock, costs, t, first_ms=1000.0) for t in (1, 2)}, probe_every=10,
                               clock=clock)
    assert run(adaptive, 4) == [1, 1, 2, 2]  # each session warmed up, then measured
    used = run(adaptive, 30)
    assert used.count(2) >= 27 and used.count(1) >= 2  # the faster, with the slower re-measured now and then
    costs.update({1: 110.0, 2: 160.0})  # other processes took the cores: one thread is faster now
    used = run(adaptive, 30)
    switched = used.index(1)
    assert switched <= 12 and used[-10:].count(1) >= 9
    costs.update({1: 100.0, 2: 60.0})  # the load went away: back to two threads at the next probe
    used = run(adaptive, 30)
    assert used[-10:].count(2) >= 9 and used.index(2) <= 11


def test_one_thread_count_is_not_a_choice() -> None:
    with pytest.raises(ValueError, match="at least two"):
        AdaptiveThreads({1: nn.Identity()})


def test_the_shipped_model_finds_the_same_people_whichever_thread_count_runs() -> None:
    weights = resolve_weights("default")
    fixed = PoseEstimator(weights=weights, device="cpu", backend="onnxruntime", cpu_threads=1)
    adaptive = PoseEstimator(weights=weights, device="cpu", backend="onnxruntime", cpu_threads=1,
                             adaptive_threads=True)
    assert fixed.threads_in_use is None
    image = cv2.imread(str(sorted(PEOPLE.glob("*.jpg"))[0]))
    expected = fixed.estimate(image)
    assert expected, "the fixture photo shows people the default model finds (test_default_model)"
    seen = set()
    for _ in range(5):  # warm-up and first measurement of both sessions
        people = adaptive.estimate(image)
        seen.add(adaptive.threads_in_use)
        assert len(people) == len(expected)
        for got, want in zip(people, expected, strict=True):
            np.testing.assert_allclose(np.asarray(got.keypoints), np.asarray(want.keypoints), atol=1e-3)
    if cores() < 2:  # nothing to choose between on one core
        assert seen == {None} and "threads chosen" not in adaptive.info["backend_reason"]
    else:
        assert seen == {1, cores()} and "threads chosen per frame from 1 and" in adaptive.info["backend_reason"]
