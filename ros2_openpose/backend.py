"""Which runtime runs the network on a CPU: PyTorch (channels_last) or ONNX Runtime, by measurement.

``choose_backend`` returns the network to run and a one-line reason, which ``PoseEstimator`` puts in
``info["backend"]`` / ``info["backend_reason"]``.  Rules:

* an ``.onnx`` file: ONNX Runtime (nothing else can run it).
* a network object (``PoseEstimator(network=...)``) with ``backend="auto"``: run as it is.
* CUDA: PyTorch (fp16 autocast).
* ``backend="torch"``: PyTorch in ``channels_last`` memory format (measured 0.74-0.92x the
  contiguous forward time on this project's networks, identical outputs).
* ``backend="onnxruntime"``: the weights' ONNX twin (``<weights>.onnx`` beside them, else exported
  to ``~/.cache/ros2_openpose/onnx/`` once), after a parity check against PyTorch.
* ``backend="auto"`` (default): when a twin exists, both are run on the estimator's input size and
  the faster is kept, if their outputs agree within ``onnx_export.PARITY_TOLERANCE``; without a twin
  PyTorch, since exporting takes tens of seconds (the reason says how to make a twin).

ONNX Runtime sessions get ``intra_op_num_threads`` = the threads PyTorch uses, one inter-op thread
and no spinning: its default spinning workers hold cores while idle and raised the tail latency
when torch shared the process (issue 10).  With ``adaptive=True`` (pose_node's ``adaptive_threads``) a
CPU session with fewer threads than the cores gets a twin session with one thread per core, and every
frame runs on whichever has been faster lately (``threads.AdaptiveThreads``).
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import statistics
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .models import ModelInfo
from .onnx_export import METADATA_KEYS, PARITY_TOLERANCE, OnnxNetwork, export_onnx, require
from .threads import AdaptiveThreads

BACKENDS = ("auto", "torch", "onnxruntime")
#: Timed forwards per candidate (after one warm-up) when choosing.
TIMED_RUNS = 5


def onnx_network(path: str | Path, threads: int | None = None, cuda: bool = False) -> OnnxNetwork:
    """An ``OnnxNetwork`` whose CPU session uses ``threads`` intra-op threads, 1 inter-op, no spinning."""
    require("running an .onnx model", "onnxruntime")
    import onnxruntime as ort

    providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if cuda else ["CPUExecutionProvider"]
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads or torch.get_num_threads())
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return OnnxNetwork(path, providers, options)  # reads and checks the file's metadata


class ChannelsLast(nn.Module):
    """A PyTorch network run in channels_last memory format (outputs made contiguous again).  Only its
    forward is used: the estimator knows the network's interface from its ``ModelInfo``."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.inner = network.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pafs, heatmaps = self.inner(x.contiguous(memory_format=torch.channels_last))
        return pafs.contiguous(), heatmaps.contiguous()


def onnx_twin(weights: Any) -> Path | None:
    """The weights' ONNX export if one exists: ``<weights>.onnx`` beside them or in the cache.

    File times say nothing after a git checkout or an install (the shipped ``default.onnx`` may look
    older than ``default.pt``), so a twin is never trusted on its name: ``choose_backend`` compares its
    output with the weights' before using it, and a stale one falls back to PyTorch."""
    if not isinstance(weights, (str, Path)):
        return None
    path = Path(weights)
    beside = path.with_suffix(".onnx")
    if beside.is_file():
        return beside
    cached = _cache_path(path)
    return cached if cached.is_file() else None


def _cache_path(weights: Path) -> Path:
    # The export's metadata keys are part of the key: a twin cached by an older export (without, e.g.,
    # the trained input size) would give the same outputs but run at the wrong size when read alone.
    digest = hashlib.sha1(weights.read_bytes() + ",".join(METADATA_KEYS).encode()).hexdigest()[:16]
    root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ros2_openpose" / "onnx"
    return root / f"{weights.stem}-{digest}.onnx"


def _median_ms(network: nn.Module, x: torch.Tensor) -> float:
    times = []
    with torch.inference_mode():
        for i in range(TIMED_RUNS + 1):
            start = time.perf_counter()
            network(x)
            if i:
                times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


def _difference(a: nn.Module, b: nn.Module, x: torch.Tensor) -> float:
    with torch.inference_mode():
        return max(float((p - q).abs().max()) for p, q in zip(a(x), b(x), strict=True))


def cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def adapt(runner: OnnxNetwork, threads: int | None, adaptive: bool) -> tuple[nn.Module, str]:
    """``runner`` beside a twin session with one thread per core (``AdaptiveThreads``), and the words
    the backend reason gains; ``runner`` itself when not ``adaptive`` or it already has that many threads."""
    base, most = int(threads or torch.get_num_threads()), cores()
    if not adaptive or most <= base:
        return runner, ""
    return AdaptiveThreads({base: runner, most: onnx_network(runner.path, most)}), \
        f"; threads chosen per frame from {base} and {most} by measured speed"


def choose_backend(network: nn.Module, model: ModelInfo, weights: Any, backend: str, device: torch.device,
                   probe_hw: tuple[int, int], threads: int | None = None,
                   adaptive: bool = False) -> tuple[nn.Module, str, str]:
    """``(network to run, backend name, reason)`` following the module docstring's rules; ``model`` is
    the network's ModelInfo (the metadata of an export)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if isinstance(network, OnnxNetwork):
        if backend == "torch":
            raise ValueError(f"{network.path} is an ONNX file: it runs on onnxruntime, not torch")
        runner, more = adapt(network, threads, adaptive and device.type == "cpu")
        return runner, "onnxruntime", "the weights are an ONNX file" + more
    if weights is None and backend == "auto":
        return network, "torch", "a network object was given: run as it is"
    if device.type != "cpu":
        if backend == "onnxruntime":
            raise ValueError("backend='onnxruntime' runs on the CPU here; pass device='cpu' or an .onnx file")
        return network, "torch", f"{device.type} device: PyTorch"
    if backend == "torch":
        return ChannelsLast(network).eval(), "torch", "asked for: PyTorch, channels_last"
    twin = onnx_twin(weights)
    if twin is not None and backend == "auto" and importlib.util.find_spec("onnxruntime") is None:
        return ChannelsLast(network).eval(), "torch", (f"ONNX twin {twin.name} found but onnxruntime is not "
                                                        "installed (pip install 'ros2_openpose[onnx]'): PyTorch")
    if twin is None and backend == "auto":
        return ChannelsLast(network).eval(), "torch", ("no ONNX twin of these weights to compare with (python -m "
                               "ros2_openpose.onnx_export WEIGHTS WEIGHTS.onnx makes one): PyTorch, channels_last")
    if twin is None:
        if not isinstance(weights, (str, Path)):
            raise ValueError("backend='onnxruntime' needs weights given as a file (to export once)")
        twin = export_onnx(network, _cache_path(Path(weights)), input_size=probe_hw[0], info=model)
    runner = onnx_network(twin, threads)
    fast = ChannelsLast(network).eval()  # after the export: it converts the weights in place
    x = torch.rand(1, 3, *probe_hw)
    diff = _difference(network, runner, x)
    if diff > PARITY_TOLERANCE:
        if backend == "onnxruntime":
            raise ValueError(f"{twin} disagrees with the weights (max |diff| {diff:.2g} > {PARITY_TOLERANCE})")
        return fast, "torch", f"ONNX twin {twin.name} disagrees with the weights ({diff:.2g}): PyTorch, channels_last"
    if backend == "onnxruntime":
        adapted, more = adapt(runner, threads, adaptive)
        return adapted, "onnxruntime", f"asked for: {twin.name}, max |diff| to PyTorch {diff:.1e}{more}"
    ms_torch, ms_onnx = _median_ms(fast, x), _median_ms(runner, x)
    shape = "x".join(map(str, probe_hw))
    measured = (f"forward at {shape}: onnxruntime {ms_onnx:.1f} ms, torch channels_last {ms_torch:.1f} ms "
                f"({torch.get_num_threads()} threads), max |diff| {diff:.1e}")
    if ms_onnx < ms_torch:
        adapted, more = adapt(runner, threads, adaptive)
        return adapted, "onnxruntime", f"faster: {measured}{more}"
    return fast, "torch", f"faster: {measured}"
