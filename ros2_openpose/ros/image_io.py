"""ROS images <-> numpy BGR: sensor_msgs/Image and sensor_msgs/CompressedImage.

Raw images are converted by cv_bridge when it is importable (a ROS distro), else by rosbags-image
(pure Python, on PyPI: the ROS wheels have no cv_bridge).  Before either sees a message, this module
checks what both backends take on trust (sizes, ``step``, byte count) and removes row padding
(rosbags-image ignores ``step``), so both give the same pixels and every failure is a clear
``ValueError`` subclass whose type says why (the node counts drops by it): ``UnsupportedEncoding``,
``CorruptImage``, ``EmptyImage``.  16-bit images are converted at 16 bits and scaled to 8 by
``ros2_openpose.image.as_bgr`` (rounded), so the backends cannot differ there either.

Compressed images (JPEG and PNG) are decoded by ``encoded.decode``: their size is read from the
header first (``image_size``: no decompression bomb reaches the decoder), truncated or damaged data is
``CorruptImage``.  ``image_size`` gives what a message claims without touching its pixels, so the node
refuses empty, oversized and unsupported frames before they take the place of a good one.  Outgoing
images (bgr8, JPEG/PNG) are built here: one ``tobytes`` / ``imencode``, nothing for a backend to add.
"""
from __future__ import annotations

import array
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import cv2
import numpy as np
from sensor_msgs.msg import CompressedImage, Image

from ros2_openpose.image import as_bgr

from . import encoded
from .encoded import CorruptImage, EmptyImage, UnsupportedEncoding

__all__ = ["SUPPORTED_ENCODINGS", "CorruptImage", "EmptyImage", "UnsupportedEncoding", "from_compressed_msg",
           "from_image_msg", "image_size", "to_compressed_msg", "to_image_msg"]


# Encodings of pictures a person can be found in: encoding -> (bytes per channel, channels per pixel).
# Depth (16UC1, 32FC1) and other generic encodings are refused: they carry no people.
_RAW: dict[str, tuple[int, int]] = {
    "bgr8": (1, 3), "rgb8": (1, 3), "bgra8": (1, 4), "rgba8": (1, 4), "mono8": (1, 1),
    "bgr16": (2, 3), "rgb16": (2, 3), "bgra16": (2, 4), "rgba16": (2, 4), "mono16": (2, 1),
    "bayer_rggb8": (1, 1), "bayer_bggr8": (1, 1), "bayer_gbrg8": (1, 1), "bayer_grbg8": (1, 1),
    "bayer_rggb16": (2, 1), "bayer_bggr16": (2, 1), "bayer_gbrg16": (2, 1), "bayer_grbg16": (2, 1),
    "yuv422": (1, 2), "yuv422_yuy2": (1, 2),
    "8UC1": (1, 1), "8UC3": (1, 3),
}
# OpenCV-style generic names that drivers use for plain gray / BGR: neither backend colour-converts
# a generic encoding, so they are handed over under the name they stand for.
_ALIAS = {"8UC1": "mono8", "8UC3": "bgr8"}
SUPPORTED_ENCODINGS = tuple(_RAW)


def _load_backend() -> tuple[str, Callable[[Any, str], np.ndarray]]:
    """(name, convert(message-like, target encoding) -> array): cv_bridge first, else rosbags-image."""
    try:
        from cv_bridge import CvBridge

        bridge = CvBridge()
        return "cv_bridge", lambda msg, target: bridge.imgmsg_to_cv2(msg, desired_encoding=target)
    except ImportError:
        pass
    try:
        from rosbags.image import image_to_cvimage

        return "rosbags-image", image_to_cvimage
    except ImportError as err:
        raise ImportError("ros2_openpose.ros.image_io needs cv_bridge (a ROS distro) or rosbags-image "
                          "(pip install rosbags-image)") from err


BACKEND, _convert = _load_backend()


def _bytes(data: Any) -> memoryview:
    # rclpy gives array.array('B') (or bytes / a list when built by hand): view it without copying.
    if isinstance(data, (bytes, bytearray, memoryview, array.array, np.ndarray)):
        buffer: Any = data  # all buffers; typeshed says so for array and ndarray only from Python 3.12
        return memoryview(buffer).cast("B")
    return memoryview(bytes(data))


def _raw_layout(encoding: str) -> tuple[int, int]:
    """(bytes per channel, channels) of a supported raw encoding; UnsupportedEncoding otherwise."""
    if encoding not in _RAW:
        raise UnsupportedEncoding(f"unsupported image encoding {encoding!r}; "
                                  f"supported: {', '.join(SUPPORTED_ENCODINGS)}")
    return _RAW[encoding]


def from_image_msg(msg: Image) -> np.ndarray:
    """The image as (H, W, 3) uint8 BGR; raises UnsupportedEncoding / EmptyImage / CorruptImage."""
    encoding = str(msg.encoding)
    itemsize, channels = _raw_layout(encoding)
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    if h == 0 or w == 0:
        raise EmptyImage(f"empty image ({w}x{h})")
    row = w * channels * itemsize
    if step < row:
        raise CorruptImage(f"{encoding} image {w}x{h}: step {step} is smaller than a row ({row} bytes)")
    data = _bytes(msg.data)
    if len(data) < step * h:
        raise CorruptImage(f"{encoding} image {w}x{h} (step {step}) needs {step * h} bytes, message has {len(data)}")
    pixels: Any = data
    if step != row:  # drop the row padding: one copy, and the backends need not agree on `step`
        padded = np.frombuffer(data, np.uint8, count=step * h).reshape(h, step)
        pixels = np.ascontiguousarray(padded[:, :row])
    target = "bgr16" if itemsize == 2 else "bgr8"
    plain = SimpleNamespace(header=msg.header, height=h, width=w, encoding=_ALIAS.get(encoding, encoding),
                            is_bigendian=int(msg.is_bigendian), step=row, data=pixels)
    try:
        converted = _convert(plain, target)
    except Exception as err:
        raise UnsupportedEncoding(f"{BACKEND} cannot convert {encoding} to {target}: {err}") from err
    return as_bgr(converted)


def image_size(msg: Image | CompressedImage) -> tuple[int, int]:
    """(width, height) a message claims, read without decoding: a raw image's fields, a JPEG/PNG header.

    Raises EmptyImage (no pixels or bytes), UnsupportedEncoding (an encoding or format not converted
    here) and CorruptImage (a compressed header that does not parse).
    """
    if isinstance(msg, CompressedImage):
        fmt = str(msg.format).lower()
        if "compresseddepth" in fmt:
            raise UnsupportedEncoding(f"unsupported compressed format {msg.format!r} (depth images carry no people)")
        data = _bytes(msg.data)
        if len(data) == 0:
            raise EmptyImage(f"compressed image ({msg.format or 'no format'}) has no data")
        _, w, h = encoded.encoded_size(data)
    else:
        _raw_layout(str(msg.encoding))
        w, h = int(msg.width), int(msg.height)
    if w == 0 or h == 0:
        raise EmptyImage(f"empty image ({w}x{h})")
    return w, h


def from_compressed_msg(msg: CompressedImage) -> np.ndarray:
    """A JPEG or PNG CompressedImage as (H, W, 3) uint8 BGR (``encoded.decode``: truncated or damaged
    data is CorruptImage)."""
    image_size(msg)
    return as_bgr(encoded.decode(_bytes(msg.data), f"compressed image ({msg.format or 'no format'})"))


def _stamped(msg: Any, stamp: Any, frame_id: str) -> Any:
    if stamp is not None:
        msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    return msg


def to_image_msg(bgr: np.ndarray, stamp: Any = None, frame_id: str = "") -> Image:
    """An (H, W, 3) uint8 BGR array (other layouts via ``as_bgr``) as a bgr8 Image."""
    bgr = as_bgr(bgr)
    msg = _stamped(Image(), stamp, frame_id)
    msg.height, msg.width = int(bgr.shape[0]), int(bgr.shape[1])
    msg.encoding, msg.is_bigendian, msg.step = "bgr8", 0, int(bgr.shape[1]) * 3
    # An array.array is taken as is by the generated setter; bytes would be checked value by value.
    msg.data = array.array("B", bgr.tobytes())
    return msg


def to_compressed_msg(bgr: np.ndarray, stamp: Any = None, frame_id: str = "", fmt: str = "jpeg",
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
