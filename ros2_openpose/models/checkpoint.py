"""Weights files: the checkpoint this package writes, the ones it reads, and their strict checks.

Known files (:func:`read_weights` and :func:`detect` tell them apart by their keys):

* a training checkpoint: a dict with ``model_type``, ``model_kwargs``, ``skeleton``, ``state_dict``
  (other entries such as config, metrics or the model card ride along); written by :func:`make_checkpoint`;
* the original project's plain SeedNet state_dict (keys ``F.vgg.*``; width 1, 4 + 2 stages; the
  skeleton is read from the PAF output size: 46 -> coco17, 38 -> coco18);
* CMU's ``body_pose_model.pth`` (flat Caffe names ``conv1_1.weight`` ... ``Mconv7_stage6_L2.weight``).

A checkpoint's metadata is checked against sane ranges before anything is built
(:func:`check_checkpoint`); once built, every key must be present, none extra, every shape equal,
every value finite (:func:`check_state`).  Anything else is a one-line WeightsError naming the file.
"""
from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn

from ..skeletons import SKELETONS
from .interface import TrainableNetwork


class WeightsError(ValueError):
    """A weights file that cannot be read or does not fit the architecture it claims or resembles."""


CHECKPOINT_KEYS = ("model_type", "model_kwargs", "skeleton", "state_dict")
#: Training-only constructor options: not part of the architecture, never replayed at load time.
TRAINING_KWARGS = ("backbone_weights", "freeze_backbone")
#: Sane ranges of the architecture options a checkpoint may carry: a crafted ``paf_stages=1e5`` took a
#: minute and 3 GB to build before failing.  Integers where the bounds are integers.
KWARG_RANGES: dict[str, tuple[float, float]] = {"width": (0.05, 4.0), "alpha": (0.05, 4.0), "channels": (8, 1024),
                                                "paf_stages": (1, 10), "heatmap_stages": (1, 10),
                                                "stage_blocks": (0, 16)}
#: Architecture switches a checkpoint may carry: True or False only.
KWARG_FLAGS = frozenset({"keypoint_prior"})
INPUT_SIZE_RANGE = (8, 2048)
_EXAMPLES = 5


class Contents(NamedTuple):
    """What a weights file holds, once recognised."""

    source_format: str  # "checkpoint", "seed_state_dict" or "cmu_state_dict"
    model_type: str
    model_kwargs: dict[str, Any]
    state_dict: dict[str, Any]


def make_checkpoint(model: nn.Module, **extra: Any) -> dict[str, Any]:
    """The training checkpoint dict for ``model`` (``extra``: config, metrics, card, ... ride along)."""
    if not isinstance(model, TrainableNetwork):
        raise TypeError(f"{type(model).__name__} is not one of this package's networks (models.TrainableNetwork)")
    return {"model_type": model.model_type, "model_kwargs": dict(model.model_kwargs),
            "skeleton": model.skeleton.name, "state_dict": model.state_dict(), **extra}


def read_weights(path: Path, trusted: bool = False) -> Any:
    """The object a weights file holds, read with ``weights_only=True``; ``trusted=True`` allows a full
    unpickle when that fails (only for files you trust)."""
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # corrupt, truncated, not a torch file, unsafe pickle
        failure = err
    if trusted:
        try:
            return torch.load(path, map_location="cpu", weights_only=False)
        except Exception as err:
            failure = err
    first = str(failure).splitlines()[0] if str(failure) else ""
    raise WeightsError(f"{path}: cannot read as a PyTorch weights file ({type(failure).__name__}: {first}); "
                       "expected a ros2_openpose checkpoint, a SeedNet state_dict or CMU's body_pose_model.pth"
                       ) from failure


def detect(obj: Any, name: str, model_types: Collection[str]) -> Contents:
    """Recognise a loaded object (``name`` is for messages; ``model_types`` are the buildable types)."""
    if not isinstance(obj, Mapping):
        raise WeightsError(f"{name}: expected a dict (checkpoint or state_dict), got {type(obj).__name__}")
    if "model_type" in obj and "state_dict" in obj:
        return _from_checkpoint(obj, name, model_types)
    state = _strip_prefix(obj)
    keys = list(state)
    if any(k.startswith("F.vgg.") for k in keys):
        paf_out = state.get("PAF_Stages.Stage1.8.weight")
        skeleton = "coco18" if paf_out is not None and paf_out.shape[0] == 38 else "coco17"
        return Contents("seed_state_dict", "seed", {"skeleton": skeleton}, state)
    if "conv1_1.weight" in state or "Mconv7_stage6_L2.weight" in state:
        return Contents("cmu_state_dict", "cmu", {}, state)
    raise WeightsError(
        f"{name}: unrecognised weights. Expected a ros2_openpose training checkpoint (keys "
        f"{', '.join(CHECKPOINT_KEYS)}), a SeedNet state_dict (keys F.vgg.*, 718 entries) or CMU's "
        f"body_pose_model.pth for CMUBodyNet (keys conv1_1.weight ... Mconv7_stage6_L2.weight, 184 "
        f"entries); found {len(keys)} keys: {_examples(keys)}")


def trained_input_size(obj: Any) -> int | None:
    """The input height a training checkpoint was evaluated (else trained) at, from its config."""
    cfg = obj.get("config") if isinstance(obj, Mapping) else None
    for section in ("eval", "data"):
        part = cfg.get(section) if isinstance(cfg, Mapping) else None
        size = part.get("input_size") if isinstance(part, Mapping) else None
        if size:
            return size if _in_range(size, INPUT_SIZE_RANGE) else None
    return None


def model_card(obj: Any) -> dict[str, Any] | None:
    """The model card a checkpoint carries (``training/ship.py``), if any."""
    card = obj.get("card") if isinstance(obj, Mapping) else None
    return dict(card) if isinstance(card, Mapping) else None


def check_checkpoint(obj: Mapping, name: str, model_types: Collection[str]) -> None:
    """WeightsError unless a training checkpoint's metadata is what this package writes, in sane ranges:
    model_type (one of ``model_types``), model_kwargs, skeleton and the config's input size.  Runs
    before anything is built."""
    model_type, kwargs, skeleton = obj["model_type"], obj["model_kwargs"], obj["skeleton"]
    if not isinstance(model_type, str) or model_type not in model_types:
        raise WeightsError(f"{name}: checkpoint model_type {model_type!r} is not one of {sorted(model_types)}")
    if kwargs is not None and not isinstance(kwargs, Mapping):
        raise WeightsError(f"{name}: checkpoint model_kwargs is a {type(kwargs).__name__}, not a dict")
    if not isinstance(skeleton, str) or skeleton not in SKELETONS:
        raise WeightsError(f"{name}: checkpoint skeleton {skeleton!r} is not one of {sorted(SKELETONS)}")
    for key, value in dict(kwargs or {}).items():
        if key in TRAINING_KWARGS or (key == "skeleton" and value == skeleton):
            continue
        if key in KWARG_FLAGS:
            if not isinstance(value, bool):
                raise WeightsError(f"{name}: checkpoint model_kwargs {key}={value!r} is not true or false")
            continue
        if key not in KWARG_RANGES:
            raise WeightsError(f"{name}: checkpoint model_kwargs has an unknown entry {key}={value!r}")
        if not _in_range(value, KWARG_RANGES[key]):
            lo, hi = KWARG_RANGES[key]
            kind = "an integer" if isinstance(lo, int) else "a number"
            raise WeightsError(f"{name}: checkpoint model_kwargs {key}={value!r} is not {kind} in {lo}..{hi}")
    config = obj.get("config")
    if config is not None and not isinstance(config, Mapping):
        raise WeightsError(f"{name}: checkpoint config is a {type(config).__name__}, not a dict")
    for section in ("eval", "data"):
        part = (config or {}).get(section)
        if part is not None and not isinstance(part, Mapping):
            raise WeightsError(f"{name}: checkpoint config.{section} is a {type(part).__name__}, not a dict")
        size = (part or {}).get("input_size")
        if size is not None and not _in_range(size, INPUT_SIZE_RANGE):
            raise WeightsError(f"{name}: checkpoint config.{section}.input_size={size!r} is not an integer in "
                               f"{INPUT_SIZE_RANGE[0]}..{INPUT_SIZE_RANGE[1]}")


def check_state(model: nn.Module, state: Mapping[str, Any], name: str, arch: str) -> None:
    """WeightsError unless ``state`` fits ``model`` exactly (keys and shapes) and holds finite values;
    ``arch`` names the architecture in the message."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [f"{k}: file {_shape(state[k])} vs model {list(v.shape)}" for k, v in expected.items()
              if k in state and (not isinstance(state[k], torch.Tensor) or state[k].shape != v.shape)]
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing keys: {_examples(missing)}")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected keys: {_examples(unexpected)}")
    if shapes:
        parts.append(f"{len(shapes)} shape mismatches: {_examples(shapes)}")
    if parts:
        raise WeightsError(f"{name}: does not fit {arch} ({len(expected)} state_dict entries): " + "; ".join(parts))
    bad = [k for k, v in state.items()
           if isinstance(v, torch.Tensor) and v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise WeightsError(f"{name}: {len(bad)} weight tensors hold NaN or infinite values: {_examples(bad)}")


def _from_checkpoint(obj: Mapping, name: str, model_types: Collection[str]) -> Contents:
    missing = [k for k in CHECKPOINT_KEYS if k not in obj]
    if missing:
        raise WeightsError(f"{name}: training checkpoint lacks {missing} (needs {list(CHECKPOINT_KEYS)})")
    check_checkpoint(obj, name, model_types)
    model_type, state = obj["model_type"], obj["state_dict"]
    if not isinstance(state, Mapping):
        raise WeightsError(f"{name}: checkpoint state_dict is a {type(state).__name__}, not a dict")
    kwargs = {k: v for k, v in dict(obj["model_kwargs"] or {}).items() if k not in TRAINING_KWARGS}
    skeleton = obj["skeleton"]
    if model_type in ("seed", "light"):
        if kwargs.setdefault("skeleton", skeleton) != skeleton:
            raise WeightsError(f"{name}: checkpoint skeleton {skeleton!r} disagrees with model_kwargs "
                               f"skeleton {kwargs['skeleton']!r}")
    elif skeleton != "coco18":
        raise WeightsError(f"{name}: a cmu checkpoint must use skeleton coco18, not {skeleton!r}")
    return Contents("checkpoint", model_type, kwargs, _strip_prefix(state))


def _strip_prefix(state: Mapping) -> dict[str, Any]:
    # nn.DataParallel / DistributedDataParallel save every key under "module.".
    keys = list(state)
    if keys and all(isinstance(k, str) and k.startswith("module.") for k in keys):
        return {k[len("module."):]: v for k, v in state.items()}
    return dict(state)


def _in_range(value: Any, bounds: tuple[float, float]) -> bool:
    lo, hi = bounds
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if isinstance(lo, int) and not isinstance(value, int):
        return False
    return math.isfinite(value) and lo <= value <= hi


def _shape(value: Any) -> str:
    return str(list(value.shape)) if isinstance(value, torch.Tensor) else f"a {type(value).__name__}"


def _examples(items: list[str]) -> str:
    more = f", ... (+{len(items) - _EXAMPLES} more)" if len(items) > _EXAMPLES else ""
    return ", ".join(str(i) for i in items[:_EXAMPLES]) + more
