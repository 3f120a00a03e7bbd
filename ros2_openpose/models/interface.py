"""The network interface: what every network offers (``PoseNetwork``), what training adds
(``TrainableNetwork``), and the record of a loaded model (``ModelInfo``).

The estimator, the backends and the ONNX export read a network only through ``network_info``, which
turns its interface into a ``ModelInfo``; from then on they use that record, never the module's
attributes.  The package's networks (SeedNet, CMUBodyNet, LightNet) and ``OnnxNetwork`` implement
the interface; a plain module returning ``(pafs, heatmaps)`` runs too, with the skeleton its caller
names and the defaults below.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from torch import Tensor, nn

from ..config import DecodeConfig
from ..skeletons import Skeleton, get_skeleton
from ..tensor import get_input_format

#: The attributes of the interface besides ``forward``.
INTERFACE = ("skeleton", "stride", "input_format", "model_type")
#: Those only a pose network has (torch's own layers have a ``stride``): a module with some of them
#: meant to implement the interface.
CLAIMS = ("skeleton", "input_format", "model_type")
#: What a plain module (none of the interface's attributes) is taken to be: the original design's
#: stride and input normalisation.
PLAIN_STRIDE = 8
PLAIN_INPUT_FORMAT = "rgb_imagenet"


@runtime_checkable
class PoseNetwork(Protocol):
    """A network the estimator can run: ``forward(x) -> (pafs, heatmaps)`` at ``stride``.

    ``x`` is (N, 3, H, W) normalised as ``input_format`` says (``tensor.INPUT_FORMATS``), H and W
    multiples of ``stride``; pafs are (N, 2L, H/stride, W/stride) and heatmaps (N, K+1, ...) in
    ``skeleton``'s layout.  ``model_type`` names the architecture ("seed", "cmu", "light", ...).
    """

    skeleton: Skeleton
    stride: int
    input_format: str
    model_type: str

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]: ...


@runtime_checkable
class TrainableNetwork(PoseNetwork, Protocol):
    """What training and checkpoints need beyond inference: the constructor options that rebuild the
    architecture (``model_kwargs``, saved in every checkpoint), every stage's output (the loss is
    summed over stages) and the pretrained front (frozen first, then trained at a lower rate)."""

    model_kwargs: dict[str, Any]

    def stages(self, x: Tensor) -> tuple[list[Tensor], list[Tensor]]: ...

    def backbone_parameters(self) -> list[nn.Parameter]: ...


@dataclass(frozen=True)
class ModelInfo:
    """What a model is and where it came from: ``load_model`` returns one, ``OnnxNetwork.info`` is one,
    and ``PoseEstimator.model`` is the one it runs (with its device and input size).

    ``as_dict()`` is the json view (the CLI's summary, the estimator's ``info``, diagnostics).
    """

    model_type: str
    skeleton: str
    input_format: str
    stride: int
    #: The file the weights were read from; None for in-memory weights and network objects.
    weights: str | None = None
    #: "checkpoint", "seed_state_dict", "cmu_state_dict", "onnx", or "network" (an object given as is).
    source_format: str = "network"
    #: The constructor options that rebuild the architecture (empty when unknown).
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    #: Number of weights; None where not counted (an ONNX file).
    parameters: int | None = None
    device: str = "cpu"
    #: The input height the model was trained (evaluated) at, when its file says so.
    input_size: int | None = None
    #: The model card (``training/ship.py``): name, trained_on, synthetic_only, ...; None without one.
    card: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def decode_config(self) -> DecodeConfig:
        """The decode settings this model runs with by default: the original's (``DecodeConfig()``) with
        the model card's ``decode`` entries applied.  A model's peaks need not be as high as CMU's:
        the shipped default model's card lowers ``heatmap_threshold`` (measured, docs/model.md).
        ValueError names a card entry that is unknown or out of range."""
        changes = (self.card or {}).get("decode") or {}
        try:
            return DecodeConfig().updated(**changes)
        except (TypeError, ValueError) as err:
            raise ValueError(f"the model card's decode settings {changes}: {err}") from None


def network_info(network: nn.Module, skeleton: str | Skeleton | None = None, **fields: Any) -> ModelInfo:
    """The ModelInfo of a network object, from its interface; ``fields`` fill the rest.

    A ``PoseNetwork`` describes itself (``skeleton`` is not used: the caller compares).  A plain module
    (none of the interface's attributes) is taken as ``skeleton`` (required then), stride 8 and input
    format rgb_imagenet, its class name as its type.
    A module with only some of them (``CLAIMS``) is a ValueError: half an interface is a mistake, not a
    plain module.  ``parameters`` defaults to the module's count.
    """
    fields.setdefault("parameters", sum(p.numel() for p in network.parameters()))
    if isinstance(network, PoseNetwork):
        return ModelInfo(model_type=str(network.model_type), skeleton=get_skeleton(network.skeleton).name,
                         input_format=get_input_format(network.input_format).name, stride=int(network.stride),
                         **fields)
    present = [name for name in INTERFACE if hasattr(network, name)]
    if any(name in present for name in CLAIMS):
        missing = [name for name in INTERFACE if name not in present]
        raise ValueError(f"{type(network).__name__} has {', '.join(present)} but not {', '.join(missing)}: a "
                         f"network gives all of {', '.join(INTERFACE)} (models.PoseNetwork) or none of them")
    if skeleton is None:
        raise ValueError(f"{type(network).__name__} has no .skeleton attribute: pass skeleton=")
    return ModelInfo(model_type=type(network).__name__, skeleton=get_skeleton(skeleton).name,
                     input_format=PLAIN_INPUT_FORMAT, stride=PLAIN_STRIDE, **fields)
