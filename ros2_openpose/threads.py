"""How many CPU threads run the network: re-measured while it runs (ONNX Runtime on a CPU).

More intra-op threads are faster only while the cores are free.  Measured on a 2-core machine with the
shipped default model (docs/benchmarks.md, "Adaptive threads"): a frame took 104 ms on one thread and
61 ms on two when nothing else ran, but 145-154 ms on two beside two busy processes (one thread: 106 or
208 ms, as the scheduler gave it a whole core or half), because a parallel region waits for a thread
the other processes hold.  A robot's load changes while the node
runs, so no thread count fixed at start is right for both.

``AdaptiveThreads`` holds one ONNX Runtime session per thread count (the same file: a few MB each) and
runs every frame on the one that has been faster lately: each session's cost is a moving average of
its seconds per input value, and the slower one is run again every ``probe_every`` frames so that a
change of load is noticed both ways.  The first run of each session is a warm-up and is not counted.
Outputs are the same network's on every session (equal within float rounding).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import torch
from torch import nn

#: Frames between two runs of the session that is not the fastest (its cost is re-measured).
PROBE_EVERY = 30
#: Weight of a new measurement in a session's moving average.
DECAY = 0.3


class AdaptiveThreads(nn.Module):
    """Runs each forward on whichever of ``networks`` (thread count -> network with the same outputs) has
    the lowest recent cost; ``threads`` is the count the last forward used."""

    def __init__(self, networks: Mapping[int, nn.Module], probe_every: int = PROBE_EVERY,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        super().__init__()
        if len(networks) < 2:
            raise ValueError("AdaptiveThreads needs at least two thread counts to choose between")
        self.choices = sorted(networks)
        self.runners = dict(networks)  # plain dict: OnnxNetworks hold no parameters to register
        self.probe_every = max(2, int(probe_every))
        self.clock = clock
        self.cost: dict[int, float | None] = {t: None for t in self.choices}  # seconds per input value
        self.warm: set[int] = set()
        self.last_run = {t: 0 for t in self.choices}
        self.calls = 0
        self.threads = self.choices[0]

    def _pick(self) -> int:
        for threads in self.choices:  # every session is warmed up and measured once first
            if self.cost[threads] is None:
                return threads
        best = min(self.choices, key=lambda t: self.cost[t] or 0.0)
        oldest = min(self.choices, key=lambda t: self.last_run[t])
        if oldest != best and self.calls - self.last_run[oldest] >= self.probe_every:
            return oldest
        return best

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.calls += 1
        threads = self._pick()
        start = self.clock()
        out = self.runners[threads](x)
        cost = (self.clock() - start) / max(1, x.numel())
        if threads in self.warm:
            previous = self.cost[threads]
            # A session not run for a probe period measured another load: its old average is stale.
            stale = self.calls - self.last_run[threads] >= self.probe_every
            self.cost[threads] = cost if previous is None or stale else previous + DECAY * (cost - previous)
        self.warm.add(threads)
        self.last_run[threads] = self.calls
        self.threads = threads
        return out
