"""rviz/pose.rviz for a namespace: the shipped config names the node's topics as ``/poses/...``; a node
launched with ``namespace:=cam1`` publishes ``/cam1/poses/...``, so the launch file hands RViz a copy whose
topics carry the namespace.  Plain text edits (no yaml) keep the config's comments and layout.
"""
from __future__ import annotations

import re
import tempfile
from pathlib import Path

# A display's topic: "Value: /poses/annotated" under "Topic:" (no other value of the file starts with "/").
_TOPIC = re.compile(r"^(\s*Value:\s*)(/\S+)\s*$", re.MULTILINE)


def topics(text: str) -> list[str]:
    """The absolute topic names an RViz config subscribes to."""
    return [m.group(2) for m in _TOPIC.finditer(text)]


def namespaced(text: str, namespace: str) -> str:
    """``text`` with every topic moved under ``namespace`` (``""`` or ``"/"``: unchanged)."""
    ns = "/".join(part for part in namespace.split("/") if part)
    if not ns:
        return text
    return _TOPIC.sub(lambda m: f"{m.group(1)}/{ns}{m.group(2)}", text)


def write_namespaced(config: str | Path, namespace: str) -> Path:
    """The config to give RViz for ``namespace``: ``config`` itself, or a namespaced copy in a temp file."""
    text = Path(config).read_text()
    moved = namespaced(text, namespace)
    if moved == text:
        return Path(config)
    handle, name = tempfile.mkstemp(prefix="ros2_openpose_", suffix=".rviz")
    with open(handle, "w") as out:
        out.write(moved)
    return Path(name)
