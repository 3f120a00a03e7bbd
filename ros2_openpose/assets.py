"""Files the package ships, how a user names them, and how a model says what it is."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: this module stays free of torch for light importers
    from .models import ModelInfo

DATA_DIR = Path(__file__).resolve().parent / "data"
#: The default model: LightNet trained on real photographs (docs/model.md).
DEFAULT_WEIGHTS = DATA_DIR / "default.pt"
#: A small model trained by training/ on the package's own synthetic people: it finds synthetic
#: figures, not real people (kept for tests and the synthetic demo).
DEMO_WEIGHTS = DATA_DIR / "demo_synthetic.pt"
#: Names a user may give instead of a path.
SHIPPED: dict[str, Path] = {"default": DEFAULT_WEIGHTS, "demo": DEMO_WEIGHTS}

SYNTHETIC_WARNING = ("this model was trained on synthetic figures only and does not find real people; "
                     "use weights 'default' or a COCO-trained checkpoint")


def resolve_weights(weights: str | Path | None, run_file: str = "best.pt") -> Path | None:
    """Turn a user's ``weights`` value into an existing file: the one resolver of every entry point
    (node, CLI, demo, ``training.evaluate``, ``training.train`` ``--resume`` / ``model.init_weights``,
    ``onnx_export``).

    ``"default"`` and ``"demo"`` name shipped models; a training run's folder names its ``run_file``
    (``best.pt`` for inference, ``last.pt`` to resume); anything else is a path (``~`` expanded).
    Returns None for None/"" (no weights configured).  Anything that does not lead to a file raises
    FileNotFoundError with one line naming the file, so a typo never silently runs without a model.
    """
    if weights is None or str(weights).strip() == "":
        return None
    name = str(weights).strip()
    if name in SHIPPED:
        path = SHIPPED[name]
        if not path.is_file():
            raise FileNotFoundError(f"shipped weights {name!r} are not installed: {path} does not exist "
                                    f"(this build ships {', '.join(shipped_names()) or 'none'})")
        return path
    path = Path(name).expanduser()
    if path.is_dir():
        if (path / run_file).is_file():
            return path / run_file
        raise FileNotFoundError(f"weights folder {path} holds no {run_file}")
    if not path.is_file():
        hint = "" if path.suffix or "/" in name else f" (shipped names: {', '.join(SHIPPED)})"
        raise FileNotFoundError(f"weights file not found: {path}{hint}")
    return path


def shipped_names() -> list[str]:
    """The shipped names whose files this installation holds."""
    return [name for name, path in SHIPPED.items() if path.is_file()]


def describe_model(model: ModelInfo) -> str:
    """One line for logs: which model runs and what it was trained on (from the checkpoint's card)."""
    card = model.card or {}
    name = card.get("name") or Path(model.weights or "in-memory network").name
    trained_on = card.get("trained_on") or "unknown data (the file carries no model card)"
    size = model.input_size
    own = ", ".join(f"{k}={v}" for k, v in (card.get("decode") or {}).items())
    return (f"model {name}: {model.model_type} network, {model.skeleton} layout"
            f"{f', input {size}' if size else ''}, on {model.device}; trained on {trained_on}"
            f"{f'; its own decode settings: {own}' if own else ''}")


def is_synthetic_only(model: ModelInfo) -> bool:
    """True when the model's card says it never saw a real person."""
    return bool((model.card or {}).get("synthetic_only"))
