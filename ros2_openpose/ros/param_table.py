"""A node's parameters as one table of ``Param`` rows: declared from it, and printed for ``--help``.

pose_node's table is ``params.PARAMS``; video_publisher and pose_listener keep theirs beside their
code.  Light on purpose (no torch): ``--help`` of the demo executables must not load a network stack.
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.node import Node


@dataclass(frozen=True)
class Param:
    name: str
    default: Any
    description: str
    live: bool = True                      # False -> read_only: needs a restart (model, device, QoS)
    range: tuple[float, float, float] | None = None  # (from, to, step); step 0 = any value
    choices: tuple[str, ...] = ()          # allowed strings (checked by the node)
    #: Declared once the model is loaded, its default then the model's own (``ModelInfo.decode_config``);
    #: ``default`` is the original's, what a model without its own settings runs with.
    from_model: bool = False

    def descriptor(self) -> ParameterDescriptor:
        text = self.description + (f" One of: {', '.join(self.choices)}." if self.choices else "")
        desc = ParameterDescriptor(name=self.name, description=text, read_only=not self.live)
        if self.range is not None and not isinstance(self.default, bool):
            lo, hi, step = self.range
            if isinstance(self.default, int):
                desc.integer_range = [IntegerRange(from_value=int(lo), to_value=int(hi), step=int(step))]
            else:
                desc.floating_point_range = [FloatingPointRange(from_value=float(lo), to_value=float(hi),
                                                                step=float(step))]
        return desc


def declare(node: Node, params: tuple[Param, ...], defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    """Declare ``params`` on ``node`` (``defaults`` replace their defaults); returns name -> value
    (overrides and yaml applied)."""
    defaults = defaults or {}
    declared = node.declare_parameters("", [(p.name, defaults.get(p.name, p.default), p.descriptor())
                                            for p in params])
    return {p.name: p.value for p in declared}


def usage(program: str, summary: str, params: tuple[Param, ...]) -> str:
    """The ``--help`` text of an executable: how to set parameters, then each one with its default."""
    lines = [f"usage: {program} [--ros-args [-p NAME:=VALUE ...] [--params-file FILE] [-r FROM:=TO ...]]", "",
             summary, "", "parameters:"]
    for p in params:
        default = "''" if p.default == "" else str(p.default).lower() if isinstance(p.default, bool) else p.default
        if p.from_model:
            default = f"the model's own; the original's {default}"
        lines.append(f"  {p.name} (default {default}{'' if p.live else ', read-only'})")
        lines += textwrap.wrap(p.descriptor().description, 96, initial_indent=" " * 6, subsequent_indent=" " * 6)
    return "\n".join(lines)
