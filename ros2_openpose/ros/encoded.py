"""Compressed images (JPEG, PNG) read safely: size from the header before decoding, corruption detected.

* ``encoded_size`` reads width and height from a JPEG's frame header (SOF) or a PNG's IHDR without
  decoding, so a decompression bomb (a 219 kB PNG that decodes to 859 MB) is refused by size first.
* ``decode`` refuses what decodes to a picture that is not the one sent: a JPEG without its end
  marker (truncated), one that libjpeg warns about while decoding (bit errors: "Corrupt JPEG data:
  ...", "Premature end of JPEG file"), and anything OpenCV cannot decode or raises on.

libjpeg reports recoverable corruption only as warnings on stderr (OpenCV offers no other channel),
so ``decode`` points file descriptor 2 at a scratch file while OpenCV decodes, under a lock.  Lines
that are not decoder messages (another thread's log in that window) are written back to stderr.
Nothing here imports ROS: the checks apply to any encoded frame.
"""
from __future__ import annotations

import os
import re
import struct
import sys
import tempfile
import threading
from typing import IO

import cv2
import numpy as np


class UnsupportedEncoding(ValueError):
    """The message's encoding (or compressed format) is not one this package converts."""


class CorruptImage(ValueError):
    """The bytes do not form an image of the size the message claims (or do not decode cleanly)."""


class EmptyImage(ValueError):
    """Width or height is 0, or there are no bytes."""


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"
# JPEG start-of-frame markers (baseline, extended, progressive, lossless; Huffman and arithmetic).
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM and RST0-7 carry no length
# libjpeg's warnings about damaged data (jerror.h JWRN_*); its other warnings are harmless.
_JPEG_CORRUPT = re.compile(r"Corrupt JPEG data|Premature end of JPEG file|Invalid SOS parameters|"
                           r"Inconsistent progression sequence")
# Messages of the decoders themselves (OpenCV's log, libpng, libjpeg): not written back to stderr.
_DECODER = re.compile(r"JPEG|libpng|grfmt_|imgcodecs")


def encoded_size(data: bytes | memoryview) -> tuple[str, int, int]:
    """``(format, width, height)`` of a JPEG or PNG, read from its header without decoding."""
    head = bytes(data[:24])
    if head.startswith(PNG_SIGNATURE):
        if len(head) < 24 or head[12:16] != b"IHDR":
            raise CorruptImage("PNG without an IHDR header")
        width, height = struct.unpack(">II", head[16:24])
        return "png", width, height
    if head.startswith(b"\xff\xd8"):
        return ("jpeg", *_jpeg_size(data))
    raise UnsupportedEncoding(f"compressed data is neither JPEG nor PNG (starts {head[:8].hex()}); "
                              "only those are read, their size checked before decoding")


def _jpeg_size(data: bytes | memoryview) -> tuple[int, int]:
    pos, n = 2, len(data)
    while pos < n:
        if data[pos] != 0xFF:
            raise CorruptImage(f"JPEG header broken at byte {pos} (no marker)")
        while pos < n and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= n:
            break
        marker = data[pos]
        pos += 1
        if marker in _STANDALONE:
            continue
        if marker in (0xD9, 0xDA):  # end of image or start of scan before any frame header
            raise CorruptImage("JPEG without a frame header (SOF) before its scan data")
        if pos + 2 > n:
            break
        length = struct.unpack(">H", data[pos:pos + 2])[0]
        if marker in _SOF:
            if pos + 7 > n or length < 8:
                break
            height, width = struct.unpack(">HH", data[pos + 3:pos + 7])
            return width, height
        pos += length
    raise CorruptImage("JPEG header is truncated (no frame header)")


def check_complete(fmt: str, data: bytes | memoryview) -> None:
    """CorruptImage when the data lacks the end of its format (a truncated frame)."""
    tail = bytes(data[-64:])
    if fmt == "jpeg" and not tail.rstrip(b"\x00").endswith(b"\xff\xd9"):
        raise CorruptImage(f"JPEG of {len(data)} bytes has no end-of-image marker (truncated)")
    if fmt == "png" and not tail.endswith(PNG_END):
        raise CorruptImage(f"PNG of {len(data)} bytes has no IEND chunk (truncated)")


_capture_lock = threading.Lock()
_sink: IO[bytes] | None = None


def _decode_watching_stderr(buf: np.ndarray) -> tuple[np.ndarray | None, list[str]]:
    """cv2.imdecode, and the lines the decoders wrote to stderr meanwhile."""
    global _sink
    with _capture_lock:
        try:
            if _sink is None:
                _sink = tempfile.TemporaryFile()
            saved = os.dup(2)
        except OSError:  # no stderr to redirect (a daemon): decode without watching
            return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED), []
        _sink.seek(0)
        _sink.truncate()
        sys.stderr.flush()
        os.dup2(_sink.fileno(), 2)
        try:
            image = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        _sink.seek(0)
        lines = _sink.read().decode("utf-8", "replace").splitlines()
    others = [line for line in lines if not _DECODER.search(line)]
    if others:
        os.write(2, ("\n".join(others) + "\n").encode())
    return image, [line for line in lines if _DECODER.search(line)]


def decode(data: bytes | memoryview, label: str = "compressed image") -> np.ndarray:
    """Decode a JPEG or PNG (header and completeness checked first by the caller or here) to an array.

    Raises CorruptImage when it does not decode, or decodes with libjpeg's corruption warnings.
    """
    fmt, _, _ = encoded_size(data)
    check_complete(fmt, data)
    try:
        image, messages = _decode_watching_stderr(np.frombuffer(data, np.uint8))
    except cv2.error as err:
        raise CorruptImage(f"{label} ({fmt}, {len(data)} bytes) does not decode: {str(err).strip()}") from err
    damaged = [m for m in messages if _JPEG_CORRUPT.search(m)]
    if damaged:
        raise CorruptImage(f"{label} ({fmt}, {len(data)} bytes) is damaged: {damaged[0].strip()}")
    if image is None or image.size == 0:
        why = f": {messages[-1].strip()}" if messages else ""
        raise CorruptImage(f"{label} ({fmt}, {len(data)} bytes) does not decode{why}")
    return image
