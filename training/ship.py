"""A training checkpoint -> the file the package ships: weights, config, metrics and a model card.

    python -m training.ship runs/light256/best.pt ros2_openpose/data/default.pt --name default \\
        --trained-on "LSP-extended (10k) + fashion (0.5k) photos, research use only; see docs/model.md"

Drops what only resuming needs (optimizer, scheduler, scaler, RNG states) so the file stays a few MB,
and writes the card that the node, the CLI and the demo print at start (``assets.describe_model``).
The result loads with ``ros2_openpose.models.load_model`` exactly as the checkpoint did.
``--input-size`` sets the input height every entry point runs it at by default (the config's
``eval.input_size``), when held-out measurements chose another size than the training crops'.
``--decode KEY=VALUE`` records decode settings the model runs with by default instead of the original
thresholds (the card's ``decode``; ``ModelInfo.decode_config``), chosen on held-out data.
"""
from __future__ import annotations

import argparse
import copy
from pathlib import Path
from typing import Any

import torch

from ros2_openpose.config import DecodeConfig
from ros2_openpose.models import load_model

from .config import parse_setting

#: What a shipped file keeps of a checkpoint.
KEEP = ("model_type", "model_kwargs", "skeleton", "state_dict", "config", "metrics", "epoch", "history", "soup")


def ship(checkpoint: str | Path, out: str | Path, card: dict[str, Any],
         input_size: int | None = None) -> dict[str, Any]:
    """Write the slim file; returns what was written (after checking that it loads)."""
    obj = torch.load(checkpoint, map_location="cpu", weights_only=True)
    missing = [k for k in KEEP[:4] if k not in obj]
    if missing:
        raise SystemExit(f"{checkpoint}: not a training checkpoint (lacks {missing})")
    slim = {k: obj[k] for k in KEEP if k in obj}
    slim["card"] = dict(card)
    if input_size is not None:
        slim["config"] = copy.deepcopy(slim.get("config") or {})
        slim["config"].setdefault("eval", {})["input_size"] = int(input_size)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(slim, out)
    load_model(out)  # the file must load strictly, as the node will load it
    return slim


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.ship", description=__doc__.split("\n")[0])
    p.add_argument("checkpoint", help="best.pt / last.pt of a training run")
    p.add_argument("out", help="the file to write, e.g. ros2_openpose/data/default.pt")
    p.add_argument("--name", required=True, help="the model's name in logs")
    p.add_argument("--trained-on", required=True, help="one line: the data it saw (and their terms)")
    p.add_argument("--synthetic-only", action="store_true", help="it never saw a real person")
    p.add_argument("--input-size", type=int, help="the default input height (else the checkpoint's eval size)")
    p.add_argument("--decode", action="append", default=[], metavar="KEY=VALUE",
                   help="a decode setting the model runs with by default, e.g. heatmap_threshold=0.05")
    args = p.parse_args(argv)
    card: dict[str, Any] = {"name": args.name, "trained_on": args.trained_on,
                            "synthetic_only": bool(args.synthetic_only)}
    if args.decode:
        try:
            card["decode"] = dict(parse_setting(text) for text in args.decode)
            DecodeConfig().updated(**card["decode"])
        except ValueError as err:
            p.error(f"--decode: {err}")
    slim = ship(args.checkpoint, args.out, card, args.input_size)
    size = Path(args.out).stat().st_size / 1e6
    print(f"{args.out}: {slim['model_type']} {slim['model_kwargs']}, epoch {slim.get('epoch')}, {size:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
