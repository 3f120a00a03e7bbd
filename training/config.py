"""Training configuration: every hyper-parameter with its default, and how YAML files and ``--set`` change them.

One parser for ``--set key=value`` serves training (nested keys into :data:`DEFAULTS`) and
evaluation (flat DecodeConfig fields), so a value reads the same way in both.
"""
from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from .augment import AugmentConfig

#: Every hyper-parameter and its default; a YAML config and --set overrides may only change these.
DEFAULTS: dict[str, Any] = {
    "model": {
        "type": "seed",
        "kwargs": {"skeleton": "coco17", "width": 1.0, "paf_stages": 4, "heatmap_stages": 2},
        "backbone_weights": None,  # local torchvision vgg19 state_dict (vgg19-dcbb9e9d.pth)
        "init_weights": None,      # any file load_model reads, to fine-tune from
        "warm_start": None,        # a checkpoint of a narrower network of the same type (see network.warm_start)
    },
    "data": {
        "input_size": 368,
        "stride": 8,
        "sigma": None,             # px at the input; None = 7 * input_size / 368
        "paf_width": 1.0,          # limb half-width in map cells
        "batch_size": 16,          # per process
        "workers": 8,              # per process
        "train_split": "train2017",  # with --coco ROOT
        "val_split": "val2017",
        "max_train_images": None,  # per training set
        "unlabelled_margin": 0.3,  # region of a person's unlabelled parts: its keypoint box grown by this
    },
    "augment": AugmentConfig().as_dict(),
    "optim": {
        "optimizer": "adam",       # adam | adamw | sgd
        "lr": 1.0e-4,
        "backbone_lr_ratio": 1.0,  # the pretrained front's lr as a fraction of lr
        "momentum": 0.9,           # sgd only
        "weight_decay": 5.0e-4,
        "schedule": "cosine",      # cosine | step | constant, after a linear warmup
        "warmup_iters": 1000,
        "min_lr_ratio": 0.01,      # cosine floor
        "milestones": [],          # step: epochs where lr *= gamma
        "gamma": 0.1,
        "grad_clip": 5.0,          # max gradient norm; 0 = off
    },
    "train": {
        "epochs": 80,
        "freeze_backbone_epochs": 5,  # keep the ImageNet VGG fixed while the stages settle
        "amp": True,               # float16 autocast + GradScaler, CUDA only
        "sync_bn": False,          # SyncBatchNorm across GPUs (CUDA + DDP only)
        "seed": 0,
        "device": "auto",
        "log_every": 20,           # iterations between TensorBoard scalars
        "image_every": 500,        # iterations between predicted-vs-target images
        "tensorboard": True,
        "deterministic": False,    # cudnn.deterministic instead of cudnn.benchmark
    },
    "eval": {
        "every": 1,                # epochs between AP evaluations (needs a validation set)
        "input_size": None,        # None = data.input_size
        "max_images": 500,
        "fp16": True,
    },
}

# Sections whose contents are free-form (the model's constructor arguments).
FREE_SECTIONS = {("model", "kwargs")}


def merge(base: dict, update: dict, path: tuple[str, ...] = (), replace_free: bool = False) -> dict:
    """``base`` with ``update`` merged in; keys unknown to ``base`` raise (typos fail loudly).

    ``replace_free``: a free-form section (the model's constructor arguments) is replaced whole, as
    a config file states them all (``cmu`` takes none); ``--set model.kwargs.x=...`` merges instead.
    """
    out = copy.deepcopy(base)
    for key, value in (update or {}).items():
        sub = (*path, key)
        if path in FREE_SECTIONS:
            out[key] = value
        elif key not in out:
            raise ValueError(f"unknown config key {'.'.join(sub)}")
        elif sub in FREE_SECTIONS and replace_free:
            out[key] = copy.deepcopy(dict(value or {}))
        elif isinstance(out[key], dict) and isinstance(value, dict):
            out[key] = merge(out[key], value, sub, replace_free)
        else:
            out[key] = value
    return out


def parse_setting(text: str) -> tuple[str, Any]:
    """``"optim.lr=1e-3"`` -> ``("optim.lr", 0.001)``: the value is read as YAML."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"--set expects key=value, got {text!r}")
    value: Any = yaml.safe_load(raw)
    if isinstance(value, str):
        try:  # YAML 1.1 reads "1e-3" (no dot) as a string
            value = float(value)
        except ValueError:
            pass
    return key.strip(), value


def parse_override(text: str) -> dict:
    """``"optim.lr=1e-3"`` -> ``{"optim": {"lr": 0.001}}``."""
    key, value = parse_setting(text)
    for part in reversed(key.split(".")):
        value = {part: value}
    return value


def load_config(path: str | Path | None = None, overrides: Sequence[str] = (),
                base: dict | None = None) -> dict:
    """DEFAULTS <- ``base`` (a saved config) <- YAML file <- ``--set`` overrides."""
    cfg = merge(DEFAULTS, base or {}, replace_free=True)
    if path is not None:
        with open(path, encoding="utf-8") as f:
            cfg = merge(cfg, yaml.safe_load(f) or {}, replace_free=True)
    for text in overrides:
        cfg = merge(cfg, parse_override(text))
    AugmentConfig.from_dict(cfg["augment"])  # validate now, not in a worker
    return cfg
