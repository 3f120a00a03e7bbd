"""Weight averaging ("model soup"): checkpoints of one network -> one checkpoint holding their mean.

    python -m training.soup runs/light256/soup.pt runs/light256_leg6/last.pt runs/light256/last.pt

Why: the default model's last fine-tuning leg got better on the held-out split of its training corpora
but not on real photographs of other kinds (docs/model.md, leg 7); the mean of the weights before and
after it kept the held-out gain and lost nothing elsewhere.  Averaging works for checkpoints that share
a starting point (one warm-started from the other, as the legs are), not for independent runs.

Every input is a training checkpoint (or a file ``training.ship`` wrote) of the same model type,
skeleton and architecture options, with the same state_dict keys and shapes.  Floating-point tensors
are averaged (BatchNorm running statistics too); integer ones (``num_batches_tracked``) are the first
input's.  The output keeps the first input's config and epoch and the last input's history, plus a
``soup`` entry naming its inputs; it drops metrics (they measured other weights) and everything only
resuming needs.  ``training.ship`` turns it into the package's file like any checkpoint.
"""
from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from ros2_openpose.models import load_model
from ros2_openpose.models.checkpoint import CHECKPOINT_KEYS, TRAINING_KWARGS, read_weights


def _architecture(obj: Mapping, name: str) -> tuple[Any, ...]:
    missing = [k for k in CHECKPOINT_KEYS if k not in obj]
    if missing:
        raise SystemExit(f"{name}: not a training checkpoint (lacks {missing})")
    kwargs = {k: v for k, v in dict(obj["model_kwargs"] or {}).items() if k not in TRAINING_KWARGS}
    return obj["model_type"], obj["skeleton"], sorted(kwargs.items())


def average(checkpoints: Sequence[Mapping], names: Sequence[str]) -> dict[str, Any]:
    """One checkpoint with the mean weights of ``checkpoints`` (``names`` label them in errors and in
    the result's ``soup`` entry); SystemExit when they are not the same network."""
    if len(checkpoints) < 2:
        raise SystemExit("soup: give at least two checkpoints to average")
    first = checkpoints[0]
    arch = _architecture(first, names[0])
    states = [ckpt["state_dict"] for ckpt in checkpoints]
    for ckpt, name, state in zip(checkpoints[1:], names[1:], states[1:], strict=True):
        if _architecture(ckpt, name) != arch:
            raise SystemExit(f"soup: {name} is another network than {names[0]} ({_architecture(ckpt, name)} vs {arch})")
        if state.keys() != states[0].keys():
            raise SystemExit(f"soup: {name} has other state_dict keys than {names[0]}")
        for key, tensor in state.items():
            if tensor.shape != states[0][key].shape:
                raise SystemExit(f"soup: {name}: {key} is {tuple(tensor.shape)}, "
                                 f"{names[0]} has {tuple(states[0][key].shape)}")
    mean = {}
    for key, tensor in states[0].items():
        if tensor.is_floating_point():
            mean[key] = torch.stack([state[key].float() for state in states]).mean(0).to(tensor.dtype)
        else:
            mean[key] = tensor.clone()
    return {"model_type": first["model_type"], "model_kwargs": first["model_kwargs"],
            "skeleton": first["skeleton"], "state_dict": mean, "config": first.get("config"),
            "epoch": first.get("epoch"), "history": list(checkpoints[-1].get("history") or []),
            "soup": [str(name) for name in names]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.soup", description=__doc__.split("\n")[0])
    p.add_argument("out", help="the checkpoint to write")
    p.add_argument("checkpoints", nargs="+", help="two or more checkpoints of the same network")
    args = p.parse_args(argv)
    names = [str(path) for path in args.checkpoints]
    soup = average([read_weights(Path(path)) for path in args.checkpoints], names)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(soup, out)
    load_model(out)  # loads strictly, as training.ship and the node will
    print(f"{out}: mean of {len(names)} checkpoints ({soup['model_type']}, {len(soup['state_dict'])} tensors)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
