"""ROS images <-> numpy BGR: sensor_msgs/Image and sensor_msgs/CompressedImage.

The raw encodings are decoded here with numpy (a reshape plus, at most, a channel swap) and the
compressed ones with ``cv2.imdecode``.  cv_bridge would do the same for these encodings; doing it here
keeps the package free of a compiled dependency that pip-installed ROS lacks, and gives one behaviour
everywhere.  Every failure raises a ``ValueError`` subclass whose type says why (the node counts drops
by it): ``UnsupportedEncoding``, ``CorruptImage``, ``EmptyImage``.
"""
from __future__ import annotations

import array

import cv2
import numpy as np
from sensor_msgs.msg import CompressedImage, Image

from ros2_openpose.image import as_bgr


class UnsupportedEncoding(ValueError):
    """The message's encoding (or compressed format) is not one this module decodes."""


class CorruptImage(ValueError):
    """The bytes do not form an image of the size the message claims (or do not decode)."""


class EmptyImage(ValueError):
    """Width or height is 0, or there are no bytes."""


# encoding -> (numpy dtype, channels, channel order to reach BGR/gray; None = as is)
_RAW: dict[str, tuple[str, int, list[int] | None]] = {
    "bgr8": ("u1", 3, None), "rgb8": ("u1", 3, [2, 1, 0]),
    "bgra8": ("u1", 4, [0, 1, 2]), "rgba8": ("u1", 4, [2, 1, 0]),
    "mono8": ("u1", 1, None), "8UC1": ("u1", 1, None), "8UC3": ("u1", 3, None),
    "mono16": ("u2", 1, None), "16UC1": ("u2", 1, None),
    "bgr16": ("u2", 3, None), "rgb16": ("u2", 3, [2, 1, 0]),
}
SUPPORTED_ENCODINGS = tuple(_RAW)


def _bytes(data) -> memoryview:
    # rclpy gives array.array('B') (or bytes/list when built by hand): view it without copying.
    if isinstance(data, (bytes, bytearray, memoryview, array.array, np.ndarray)):
        return memoryview(data).cast("B")
    return memoryview(bytes(data))


def from_image_msg(msg: Image) -> np.ndarray:
    """The image as (H, W, 3) uint8 BGR (16-bit and gray normalised by ``ros2_openpose.image.as_bgr``)."""
    encoding = str(msg.encoding)
    if encoding not in _RAW:
        raise UnsupportedEncoding(f"unsupported image encoding {encoding!r}; "
                                  f"supported: {', '.join(SUPPORTED_ENCODINGS)}")
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    if h == 0 or w == 0:
        raise EmptyImage(f"empty image ({w}x{h})")
    dtype, channels, order = _RAW[encoding]
    itemsize = np.dtype(dtype).itemsize
    row = w * channels * itemsize
    if step < row:
        raise CorruptImage(f"{encoding} image {w}x{h}: step {step} is smaller than a row ({row} bytes)")
    data = _bytes(msg.data)
    if len(data) < step * (h - 1) + row:
        raise CorruptImage(f"{encoding} image {w}x{h} (step {step}) needs {step * h} bytes, message has {len(data)}")
    # Rows may be padded to `step` bytes: view the buffer row-wise, then cut the padding off.
    rows = np.frombuffer(data, np.uint8, count=step * (h - 1) + row)
    rows = np.lib.stride_tricks.as_strided(rows, (h, row), (step, 1))
    big = bool(msg.is_bigendian)
    pixels = rows.view((">" if big else "<") + dtype).reshape(h, w, channels)
    if order is not None:
        pixels = pixels[:, :, order]
    return as_bgr(pixels.astype(pixels.dtype.newbyteorder("=")) if itemsize > 1 and big else pixels)


def from_compressed_msg(msg: CompressedImage) -> np.ndarray:
    """A JPEG/PNG (any format OpenCV reads) CompressedImage as (H, W, 3) uint8 BGR."""
    fmt = str(msg.format).lower()
    if "compresseddepth" in fmt:
        raise UnsupportedEncoding(f"unsupported compressed format {msg.format!r} (depth images carry no people)")
    data = _bytes(msg.data)
    if len(data) == 0:
        raise EmptyImage(f"compressed image ({msg.format or 'no format'}) has no data")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise CorruptImage(f"compressed image ({msg.format or 'no format'}, {len(data)} bytes) does not decode")
    return as_bgr(image)


def _stamped(msg, stamp, frame_id: str):
    if stamp is not None:
        msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    return msg


def to_image_msg(bgr: np.ndarray, stamp=None, frame_id: str = "") -> Image:
    """An (H, W, 3) uint8 BGR array (other layouts via ``as_bgr``) as a bgr8 Image."""
    bgr = as_bgr(bgr)
    msg = _stamped(Image(), stamp, frame_id)
    msg.height, msg.width = int(bgr.shape[0]), int(bgr.shape[1])
    msg.encoding, msg.is_bigendian, msg.step = "bgr8", 0, int(bgr.shape[1]) * 3
    # An array.array is taken as is by the generated setter; bytes would be checked value by value.
    msg.data = array.array("B", bgr.tobytes())
    return msg


def to_compressed_msg(bgr: np.ndarray, stamp=None, frame_id: str = "", fmt: str = "jpeg",
                      quality: int = 90) -> CompressedImage:
    """A BGR array as a CompressedImage (``fmt`` "jpeg" or "png")."""
    ext = {"jpeg": ".jpg", "jpg": ".jpg", "png": ".png"}.get(fmt.lower())
    if ext is None:
        raise ValueError(f"unsupported compressed format {fmt!r}; use 'jpeg' or 'png'")
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if ext == ".jpg" else []
    ok, buf = cv2.imencode(ext, as_bgr(bgr), params)
    if not ok:
        raise ValueError(f"cv2.imencode({ext}) failed")
    msg = _stamped(CompressedImage(), stamp, frame_id)
    msg.format = "jpeg" if ext == ".jpg" else "png"
    msg.data = array.array("B", buf.tobytes())
    return msg
