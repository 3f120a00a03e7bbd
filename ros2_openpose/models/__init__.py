"""Networks: build one by type, or load any known weights file with type detection and strict checks.

The interface every network offers is ``interface.py`` (``PoseNetwork``, ``ModelInfo``); the files
that hold weights, and their checks, are ``checkpoint.py``.  Everything is importable from here.
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..device import resolve_device
from .checkpoint import (
    CHECKPOINT_KEYS,
    INPUT_SIZE_RANGE,
    KWARG_RANGES,
    WeightsError,
    check_checkpoint,
    check_state,
    detect,
    make_checkpoint,
    model_card,
    read_weights,
    trained_input_size,
)
from .cmu import CMUBodyNet
from .interface import ModelInfo, PoseNetwork, TrainableNetwork, network_info
from .light import LightNet
from .seed import SeedNet

__all__ = ["CHECKPOINT_KEYS", "INPUT_SIZE_RANGE", "KWARG_RANGES", "MODEL_TYPES", "CMUBodyNet", "LightNet",
           "ModelInfo", "PoseNetwork", "SeedNet", "TrainableNetwork", "WeightsError", "build_model",
           "check_checkpoint", "load_model", "make_checkpoint", "network_info", "resolve_device",
           "trained_input_size"]

# Parent of the vgg/seed loggers: raising its level quiets them while a checkpoint is loaded.
log = logging.getLogger(__name__)

MODEL_TYPES: dict[str, type[nn.Module]] = {"seed": SeedNet, "cmu": CMUBodyNet, "light": LightNet}


def build_model(model_type: str, **kwargs: Any) -> nn.Module:
    """A fresh network: ``build_model("seed", width=0.25, paf_stages=2)``, ``build_model("cmu")``."""
    try:
        cls = MODEL_TYPES[model_type]
    except KeyError:
        raise ValueError(f"unknown model type {model_type!r}; known: {sorted(MODEL_TYPES)}") from None
    return cls(**kwargs)


def load_model(source: str | Path | Mapping, device: str | torch.device = "cpu",
               trusted: bool = False) -> tuple[nn.Module, ModelInfo]:
    """Build the network a weights file describes, load it strictly, move it to ``device``, eval mode.

    ``source`` is a path or an already loaded object.  Files are read with ``weights_only=True``;
    ``trusted=True`` allows a full unpickle when that fails (only for files you trust).
    Returns ``(network, ModelInfo)``.
    """
    path = None if isinstance(source, Mapping) else Path(source).expanduser()
    name = str(path) if path is not None else "<in-memory weights>"
    obj = source if path is None else read_weights(path, trusted)
    contents = detect(obj, name, MODEL_TYPES)
    try:
        with _quiet(log):  # "backbone starts from scratch" is noise when weights follow
            model = build_model(contents.model_type, **contents.model_kwargs)
    except (TypeError, ValueError) as err:
        raise WeightsError(f"{name}: cannot build {contents.model_type} with {contents.model_kwargs}: {err}") from err
    if not isinstance(model, TrainableNetwork):  # every class of MODEL_TYPES is one
        raise TypeError(f"{type(model).__name__} does not implement models.TrainableNetwork")
    arch = ", ".join(f"{k}={v!r}" for k, v in contents.model_kwargs.items())
    check_state(model, contents.state_dict, name, f"{type(model).__name__}({arch})")
    model.load_state_dict(contents.state_dict, strict=True)
    resolved = resolve_device(device)
    model.to(resolved).eval()
    info = network_info(model, weights=None if path is None else str(path), source_format=contents.source_format,
                        model_kwargs=dict(model.model_kwargs), device=str(resolved),
                        input_size=trained_input_size(obj), card=model_card(obj))
    return model, info


@contextlib.contextmanager
def _quiet(logger: logging.Logger) -> Iterator[None]:
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
