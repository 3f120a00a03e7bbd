"""Files the package ships, and how a user names weights."""
from __future__ import annotations

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
#: A small model trained by training/ on the package's own synthetic people (see README: it finds
#: synthetic figures, not real people).
DEMO_WEIGHTS = DATA_DIR / "demo_synthetic.pt"


def resolve_weights(weights: str | Path | None) -> Path | None:
    """Turn a user's ``weights`` value into a path: ``"demo"`` names the shipped demo model.

    Returns None for None/"" (no weights configured). A path that does not exist raises
    FileNotFoundError naming it, so a typo never silently runs without a model.
    """
    if weights is None or str(weights).strip() == "":
        return None
    path = DEMO_WEIGHTS if str(weights) == "demo" else Path(weights).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    return path
