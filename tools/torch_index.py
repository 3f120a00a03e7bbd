"""Which package index tools/setup.sh installs PyTorch from.

``TORCH_CPU=1`` asks for PyTorch's CPU-only wheels (about 0.2 GB for torch, where PyPI's Linux wheels
pull 5-6 GB of CUDA libraries).  This prints that index's URL when it offers the pinned torch version,
and prints nothing otherwise (without TORCH_CPU, or where the index cannot be reached): setup.sh then
installs the default wheels as before.  The reason goes to stderr.  ``TORCH_CPU_INDEX`` overrides the
index URL (a mirror).  The probe reads the index page only; nothing is downloaded.
"""
from __future__ import annotations

import os
import re
import ssl
import sys
import urllib.request
from pathlib import Path

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
REQUIREMENTS = Path(__file__).resolve().parent / "requirements.txt"


def pinned(name: str, requirements: Path = REQUIREMENTS) -> str:
    """The version ``requirements`` pins ``name`` to (``name==X``)."""
    match = re.search(rf"^{re.escape(name)}==(\S+)", requirements.read_text(), re.MULTILINE)
    if match is None:
        raise ValueError(f"{requirements} does not pin {name}")
    return match.group(1)


def offers(index: str, version: str, timeout: float = 10.0) -> bool:
    """True when ``index`` (a PEP 503 simple index) lists a torch ``version`` wheel (``+cpu`` or plain)."""
    url = index.rstrip("/") + "/torch/"
    context = ssl.create_default_context(cafile=os.environ.get("PIP_CERT") or None)
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as response:
            page = response.read().decode("utf-8", "replace")
    except (OSError, ValueError):  # unreachable, refused, timed out, HTTP error, bad URL
        return False
    # Index pages URL-encode the local version's "+" as %2B.
    return re.search(rf"torch-{re.escape(version)}(?:(?:\+|%2B)cpu)?-", page) is not None


def main() -> int:
    if os.environ.get("TORCH_CPU", "0") != "1":
        return 0
    index = os.environ.get("TORCH_CPU_INDEX") or CPU_INDEX
    version = pinned("torch")
    if offers(index, version):
        print(index)
        print(f"[setup] TORCH_CPU=1: torch {version} CPU-only wheels from {index}", file=sys.stderr)
    else:
        print(f"[setup] TORCH_CPU=1: {index} cannot be reached or lacks torch {version}: installing the "
              "default wheels", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
