"""Image -> network input tensor: resize, normalise, pad; and the letterbox that undoes it.

One source of truth for input normalisation: inference (:func:`to_tensor`) and training (which calls
:func:`normalize` on its augmented uint8 batches) both go through :func:`normalize`.

Geometry (:func:`fit`): the image is scaled so that its HEIGHT becomes ``input_size`` (aspect kept),
then padded on the right and bottom to a multiple of ``stride``.  Width cap: the scaled width may not
exceed ``max_aspect * input_size`` (default 4x, e.g. 1472 px at 368); a wider image is scaled down
further to fit that width (its height then ends below ``input_size`` and is padded).  So a network
input is never larger than ``input_size`` x ``max_aspect * input_size`` whatever the request (a
1x4000 strip becomes 1x1472, not 368x1472000).

Coordinates use the pixel-index convention (pixel ``x`` spans ``[x - 0.5, x + 0.5)``), the one
``cv2.resize`` uses: a network-input point ``u`` lies at image point ``(u + 0.5) / scale - 0.5``.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .image import as_bgr

#: Default cap on the network input's width, as a multiple of ``input_size``.
MAX_ASPECT = 4.0


@dataclass(frozen=True)
class InputFormat:
    """How a network wants its pixels: channel order and per-channel mean/std in 0..255 units.

    ``(pixel - mean) / std`` per channel, after reordering BGR -> RGB when ``rgb``; ``mean`` and
    ``std`` are given in the network's channel order.  Padding is 0 after normalisation.
    """

    name: str
    rgb: bool
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @property
    def pad_bgr(self) -> tuple[float, float, float]:
        """The BGR pixel value (0..255) that normalises to 0, i.e. what padding looks like."""
        r, g, b = self.mean
        return (b, g, r) if self.rgb else self.mean


INPUT_FORMATS: dict[str, InputFormat] = {
    # The seed design: torchvision's ImageNet statistics on RGB in [0, 1], scaled to 0..255.
    "rgb_imagenet": InputFormat("rgb_imagenet", True, (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)),
    # CMU's Caffe models: BGR, x / 256 - 0.5 == (x - 128) / 256, so padding with 128 gives 0.
    "bgr_256": InputFormat("bgr_256", False, (128.0, 128.0, 128.0), (256.0, 256.0, 256.0)),
    # PoseNet's MobileNetV1 (LightNet): RGB, x / 127.5 - 1.
    "rgb_pm1": InputFormat("rgb_pm1", True, (127.5, 127.5, 127.5), (127.5, 127.5, 127.5)),
}


def get_input_format(fmt: str | InputFormat) -> InputFormat:
    """Look an input format up by name (an InputFormat passes through)."""
    if isinstance(fmt, InputFormat):
        return fmt
    try:
        return INPUT_FORMATS[fmt]
    except KeyError:
        raise ValueError(f"unknown input format {fmt!r}; known: {sorted(INPUT_FORMATS)}") from None


def normalize(batch: torch.Tensor | np.ndarray, fmt: str | InputFormat) -> torch.Tensor:
    """Normalise BGR pixels (N, 3, H, W) or (3, H, W), uint8 or float in 0..255, to float32.

    Stays on the input's device.  Works on any batch of BGR images, augmented or not.
    """
    spec = get_input_format(fmt)
    x = torch.as_tensor(batch)
    if x.dim() not in (3, 4) or x.shape[-3] != 3:
        raise ValueError(f"normalize expects (N, 3, H, W) or (3, H, W) BGR pixels, got {tuple(x.shape)}")
    x = x.to(torch.float32)
    if spec.rgb:
        x = x.flip(-3)
    mean = torch.tensor(spec.mean, dtype=torch.float32, device=x.device).view(3, 1, 1)
    std = torch.tensor(spec.std, dtype=torch.float32, device=x.device).view(3, 1, 1)
    return (x - mean) / std


def denormalize(tensor: torch.Tensor, fmt: str | InputFormat) -> np.ndarray:
    """Inverse of :func:`normalize` for one (3, H, W) tensor: an HxWx3 uint8 BGR image (for drawing)."""
    spec = get_input_format(fmt)
    x = tensor.detach().to("cpu", torch.float32)
    x = x * torch.tensor(spec.std).view(3, 1, 1) + torch.tensor(spec.mean).view(3, 1, 1)
    if spec.rgb:
        x = x.flip(0)
    return np.ascontiguousarray(x.clamp(0, 255).round().to(torch.uint8).permute(1, 2, 0).numpy())


@dataclass(frozen=True)
class Letterbox:
    """Where an image went inside the network input: sizes are (height, width) in pixels.

    ``image_size`` -> resized to ``resized_size`` (top-left aligned) -> padded to ``padded_size``.
    """

    image_size: tuple[int, int]
    resized_size: tuple[int, int]
    padded_size: tuple[int, int]
    stride: int = 8

    @property
    def scale_x(self) -> float:
        return self.resized_size[1] / self.image_size[1]

    @property
    def scale_y(self) -> float:
        return self.resized_size[0] / self.image_size[0]

    @property
    def scale(self) -> float:
        """Nominal scale (network-input pixels per image pixel), the vertical one."""
        return self.scale_y

    @property
    def map_size(self) -> tuple[int, int]:
        """(rows, cols) of the stride-``stride`` map cells that touch the image (not only padding)."""
        return (math.ceil(self.resized_size[0] / self.stride), math.ceil(self.resized_size[1] / self.stride))

    def to_image(self, xy: Any) -> np.ndarray:
        """Network-input pixel coordinates (..., 2+) -> image pixel coordinates; extra columns kept."""
        out = np.array(xy, dtype=np.float32, copy=True)
        out[..., 0] = (out[..., 0] + 0.5) / self.scale_x - 0.5
        out[..., 1] = (out[..., 1] + 0.5) / self.scale_y - 0.5
        return out

    def to_input(self, xy: Any) -> np.ndarray:
        """Image pixel coordinates (..., 2+) -> network-input pixel coordinates (inverse of to_image)."""
        out = np.array(xy, dtype=np.float32, copy=True)
        out[..., 0] = (out[..., 0] + 0.5) * self.scale_x - 0.5
        out[..., 1] = (out[..., 1] + 0.5) * self.scale_y - 0.5
        return out

    def bbox_to_image(self, bbox: Any) -> np.ndarray:
        """An (x, y, w, h) box in network-input pixels -> the same box in image pixels."""
        x, y, w, h = (float(v) for v in bbox)
        x0, y0 = self.to_image([x, y])
        return np.array([x0, y0, w / self.scale_x, h / self.scale_y], dtype=np.float32)

    def crop(self, maps: Any) -> Any:
        """Drop the map cells that hold only padding: ``maps[..., :rows, :cols]`` (numpy or torch)."""
        rows, cols = self.map_size
        return maps[..., :rows, :cols]


def fit(image_size: tuple[int, int], input_size: int, stride: int = 8,
        max_aspect: float = MAX_ASPECT) -> Letterbox:
    """The letterbox for an image of ``image_size`` (h, w): see the module docstring for the rule."""
    h, w = int(image_size[0]), int(image_size[1])
    if h <= 0 or w <= 0:
        raise ValueError(f"image size must be positive, got {image_size}")
    if input_size < stride:
        raise ValueError(f"input_size {input_size} is smaller than the stride {stride}")
    scale = min(input_size / h, max_aspect * input_size / w)
    rh, rw = max(1, round(h * scale)), max(1, round(w * scale))
    padded = (math.ceil(rh / stride) * stride, math.ceil(rw / stride) * stride)
    return Letterbox((h, w), (rh, rw), padded, stride)


def _resize(bgr: np.ndarray, box: Letterbox) -> np.ndarray:
    rh, rw = box.resized_size
    if (rh, rw) == box.image_size:
        return bgr
    # Area averaging when shrinking (no aliasing); bicubic when enlarging, as OpenPose does.
    shrink = rh * rw < box.image_size[0] * box.image_size[1]
    return cv2.resize(bgr, (rw, rh), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


def to_tensor_batch(images: Sequence[Any], input_size: int, stride: int = 8,
                    fmt: str | InputFormat = "rgb_imagenet", device: torch.device | str | None = None,
                    max_aspect: float = MAX_ASPECT) -> tuple[torch.Tensor, list[Letterbox]]:
    """Letterbox and normalise several images into one (N, 3, H, W) float32 tensor.

    Each image gets its own scale; all are padded (right/bottom, value 0 after normalisation) to the
    largest padded size.  The returned letterboxes record that common padded size.
    """
    if len(images) == 0:
        raise ValueError("to_tensor_batch needs at least one image")
    bgrs = [as_bgr(image) for image in images]
    boxes = [fit(bgr.shape[:2], input_size, stride, max_aspect) for bgr in bgrs]
    height = max(box.padded_size[0] for box in boxes)
    width = max(box.padded_size[1] for box in boxes)
    out = torch.zeros(len(bgrs), 3, height, width, dtype=torch.float32, device=device)
    for i, (bgr, box) in enumerate(zip(bgrs, boxes, strict=True)):
        rh, rw = box.resized_size
        # uint8 crosses to the device (4x less traffic than float), normalisation happens there.
        pixels = torch.from_numpy(np.ascontiguousarray(_resize(bgr, box))).to(out.device)
        out[i, :, :rh, :rw] = normalize(pixels.permute(2, 0, 1), fmt)
    boxes = [Letterbox(box.image_size, box.resized_size, (height, width), stride) for box in boxes]
    return out, boxes


def to_tensor(bgr: Any, input_size: int, stride: int = 8, fmt: str | InputFormat = "rgb_imagenet",
              device: torch.device | str | None = None,
              max_aspect: float = MAX_ASPECT) -> tuple[torch.Tensor, Letterbox]:
    """Letterbox and normalise one image: ``(tensor (1, 3, H, W) float32, Letterbox)``."""
    tensor, boxes = to_tensor_batch([bgr], input_size, stride, fmt, device, max_aspect)
    return tensor, boxes[0]


def pad_to_stride(tensor: torch.Tensor, stride: int = 8) -> torch.Tensor:
    """Zero-pad a normalised (..., H, W) tensor on the right/bottom to multiples of ``stride``."""
    h, w = tensor.shape[-2:]
    return F.pad(tensor, (0, (-w) % stride, 0, (-h) % stride))
