"""Which torch device a user's name means: the one rule of the node, the CLI, the estimator and training."""
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
