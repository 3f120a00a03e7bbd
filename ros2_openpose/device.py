"""Which torch device a user's name means, and whether this machine has it: the one rule of the node,
the CLI, the estimator and training."""
from __future__ import annotations

import torch


def resolve_device(device: str | torch.device = "auto", local_rank: int | None = None) -> torch.device:
    """``"auto"`` -> cuda when available, else cpu; anything else as torch understands it.

    ``local_rank`` (a torchrun process's GPU): an index-less cuda device becomes ``cuda:<local_rank>``.
    """
    if isinstance(device, str) and device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    resolved = torch.device(device)
    if local_rank is not None and resolved.type == "cuda" and resolved.index is None:
        return torch.device("cuda", local_rank)
    return resolved


def device_problem(device: str) -> str | None:
    """None when ``device`` is auto, cpu or a CUDA device this machine has; else why not, as the end of
    a sentence that starts with the setting (the node and the CLI each name it their way)."""
    try:
        parsed = torch.device("cuda" if device == "auto" else device)
    except (RuntimeError, ValueError, TypeError):
        parsed = None
    if parsed is None or parsed.type not in ("cpu", "cuda"):
        return "is not one of auto, cpu, cuda, cuda:N"
    if device == "auto" or parsed.type == "cpu":
        return None
    if not torch.cuda.is_available():
        return (f"needs a CUDA GPU and torch {torch.__version__} (built for CUDA {torch.version.cuda or 'none'}) "
                "finds none here: use auto or cpu")
    if parsed.index is not None and parsed.index >= torch.cuda.device_count():
        return f"names a CUDA device this machine lacks (it has {torch.cuda.device_count()})"
    return None


def set_cpu_threads(threads: int) -> None:
    """Torch's intra-op threads (process-wide; ONNX Runtime takes as many); 0 leaves torch's default (one
    per core).  One thread keeps a frame from stalling when other processes load the cores: a parallel
    region waits for its slowest thread (docs/benchmarks.md, contention)."""
    if threads > 0 and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
