"""Image normalisation: whatever a camera, a file or a ROS message gives, one HxWx3 uint8 BGR array.

Rules (so every later step can assume one layout):

* rank 2 (HxW) or HxWx1 -> grayscale, replicated to three channels;
* HxWx3 -> taken as BGR; HxWx4 -> BGRA, alpha dropped (not blended: a transparent pixel keeps its
  colour, which is what a camera driver that emits BGRA means);
* uint8 as is; uint16 -> scaled by 255/65535 (full 16-bit range, not a 12-bit guess); float -> taken
  as [0, 1], clipped, NaN -> 0; bool -> 0/255; other integer types -> clipped to [0, 255].
"""
from __future__ import annotations

from typing import Any

import numpy as np


def as_bgr(image: Any) -> np.ndarray:
    """Return ``image`` as a C-contiguous (H, W, 3) uint8 BGR array.

    Raises ValueError for None, empty or zero-size arrays, a rank other than 2 or 3, or a channel
    count other than 1, 3 or 4.
    """
    if image is None:
        raise ValueError("image is None (was it read correctly?)")
    array = np.asarray(image)
    if array.dtype == object:
        raise ValueError(f"image must be a numeric array, got dtype {array.dtype}")
    if array.ndim not in (2, 3):
        raise ValueError(f"image must be HxW or HxWxC, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"image is empty (shape {array.shape})")
    if array.ndim == 2:
        array = array[:, :, None]
    channels = array.shape[2]
    if channels not in (1, 3, 4):
        raise ValueError(f"image must have 1, 3 or 4 channels, got {channels} (shape {array.shape})")

    array = _to_uint8(array)
    if channels == 1:
        array = np.repeat(array, 3, axis=2)
    elif channels == 4:
        array = array[:, :, :3]
    return np.ascontiguousarray(array)


def _to_uint8(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if array.dtype == np.uint16:
        # Rounded division by 257 maps 0..65535 onto 0..255 exactly at both ends.
        return ((array.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if np.issubdtype(array.dtype, np.floating):
        values = np.nan_to_num(array.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        return (np.clip(values, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if np.issubdtype(array.dtype, np.integer):
        return np.clip(array, 0, 255).astype(np.uint8)
    raise ValueError(f"unsupported image dtype {array.dtype}")
