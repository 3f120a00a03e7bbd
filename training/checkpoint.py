"""Training checkpoints: what ``last.pt`` / ``best.pt`` hold, writing them safely, resuming from them.

``last.pt`` = ``models.make_checkpoint`` (model_type, model_kwargs, skeleton, state_dict) + config,
metrics, epoch, step, best_ap, history + optimizer, scheduler, scaler and RNG states; ``best.pt`` is
the same without the last four (what the node needs).  Every value is a type that
``torch.load(weights_only=True)`` accepts, so no checkpoint needs a full unpickle to resume.
"""
from __future__ import annotations

import logging
import os
import random
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from ros2_openpose.assets import resolve_weights
from ros2_openpose.models import make_checkpoint

log = logging.getLogger("training")

#: The entries a checkpoint needs beyond the model's to resume (``best.pt`` lacks them).
RESUME_KEYS = ("optimizer", "scheduler", "scaler", "rng", "epoch", "step", "config")


class Progress(NamedTuple):
    """Where a run stands: the next epoch (from 0), iterations done, best AP so far, per-epoch metrics."""

    epoch: int
    step: int
    best_ap: float
    history: list[dict[str, float]]


def rng_state() -> dict[str, Any]:
    """Python, numpy and torch RNG states in types that torch.load(weights_only=True) accepts."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {"python": random.getstate(),
             "numpy": (name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss),
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    name, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def save(obj: dict, path: Path) -> None:
    """Write then rename: a run killed mid-save never leaves a truncated checkpoint behind."""
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load_resume(path: str | Path) -> dict[str, Any]:
    """A ``last.pt`` (or a run folder's) to continue from; a clear error for a file that cannot resume
    (e.g. a ``best.pt``)."""
    path = resolve_weights(path, run_file="last.pt")
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    missing = [k for k in RESUME_KEYS if not isinstance(ckpt, dict) or k not in ckpt]
    if missing:
        raise ValueError(f"{path}: cannot resume from it, it lacks {missing} (resume from a last.pt; a best.pt "
                         "or other weights go in model.init_weights)")
    return ckpt


def restore(resume: dict[str, Any], optimizer: torch.optim.Optimizer, scheduler: Any,
            scaler: torch.amp.GradScaler) -> Progress:
    """Load the optimiser, scheduler, scaler and RNG states of ``resume``; where the run stands."""
    optimizer.load_state_dict(resume["optimizer"])
    scheduler.load_state_dict(resume["scheduler"])
    scaler.load_state_dict(resume["scaler"])
    set_rng_state(resume["rng"])
    return Progress(int(resume["epoch"]), int(resume["step"]), float(resume.get("best_ap", -1.0)),
                    list(resume.get("history", [])))


def save_epoch(out: Path, net: nn.Module, cfg: dict, metrics: dict[str, float], progress: Progress,
               optimizer: torch.optim.Optimizer, scheduler: Any, scaler: torch.amp.GradScaler) -> float:
    """Write ``last.pt`` (and ``best.pt`` when the AP improved) after epoch ``metrics["epoch"]``.

    ``progress`` is the state after this epoch, with the best AP before it; returns the new best AP.
    """
    best_ap = progress.best_ap
    ckpt = make_checkpoint(net, config=cfg, metrics=metrics, epoch=progress.epoch, step=progress.step,
                           best_ap=max(best_ap, metrics.get("AP", -1.0)), history=progress.history)
    if "AP" in metrics and metrics["AP"] > best_ap:
        best_ap = metrics["AP"]
        save(ckpt, out / "best.pt")  # weights + config + metrics only: what the node needs
        log.info("new best AP %.4f -> %s", best_ap, out / "best.pt")
    ckpt.update(optimizer=optimizer.state_dict(), scheduler=scheduler.state_dict(),
                scaler=scaler.state_dict(), rng=rng_state())
    save(ckpt, out / "last.pt")
    return best_ap
