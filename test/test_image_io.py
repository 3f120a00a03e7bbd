"""image_io: ROS Image / CompressedImage <-> numpy BGR for every supported encoding, and clear errors."""
from __future__ import annotations

import array
import struct
import zlib

import cv2
import numpy as np
import pytest

pytest.importorskip("sensor_msgs.msg")

from builtin_interfaces.msg import Time
from sensor_msgs.msg import CompressedImage, Image

from ros2_openpose.ros.image_io import (
    CorruptImage,
    EmptyImage,
    UnsupportedEncoding,
    from_compressed_msg,
    from_image_msg,
    image_size,
    to_compressed_msg,
    to_image_msg,
)

pytestmark = pytest.mark.ros

RNG = np.random.default_rng(7)
BGR = RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8)


def raw(pixels: np.ndarray, encoding: str, pad: int = 0, big: bool = False) -> Image:
    """An Image message built by hand (rows padded by ``pad`` bytes), as a driver would."""
    h, w = pixels.shape[:2]
    dtype = pixels.dtype.newbyteorder(">" if big else "<")
    rows = pixels.astype(dtype).reshape(h, -1).view(np.uint8)
    rows = np.concatenate([rows, np.full((h, pad), 0xAB, np.uint8)], axis=1)
    return Image(height=h, width=w, encoding=encoding, is_bigendian=int(big), step=rows.shape[1],
                 data=array.array("B", rows.tobytes()))


def test_bgr8_round_trip_keeps_header():
    msg = to_image_msg(BGR, Time(sec=12, nanosec=34), "cam")
    assert (msg.encoding, msg.width, msg.height, msg.step) == ("bgr8", 7, 5, 21)
    assert msg.header.stamp == Time(sec=12, nanosec=34) and msg.header.frame_id == "cam"
    assert np.array_equal(from_image_msg(msg), BGR)


@pytest.mark.parametrize("pad", [0, 3])
@pytest.mark.parametrize("encoding, make", [
    ("bgr8", lambda b: b), ("rgb8", lambda b: b[:, :, ::-1]),
    ("bgra8", lambda b: np.dstack([b, np.full(b.shape[:2], 9, np.uint8)])),
    ("rgba8", lambda b: np.dstack([b[:, :, ::-1], np.full(b.shape[:2], 9, np.uint8)])),
    ("8UC3", lambda b: b),
])
def test_colour_encodings(encoding, make, pad):
    assert np.array_equal(from_image_msg(raw(np.ascontiguousarray(make(BGR)), encoding, pad)), BGR)


@pytest.mark.parametrize("encoding", ["mono8", "8UC1"])
def test_mono8(encoding):
    gray = BGR[:, :, 0].copy()
    out = from_image_msg(raw(gray, encoding, pad=1))
    assert out.shape == (5, 7, 3) and all(np.array_equal(out[:, :, c], gray) for c in range(3))


@pytest.mark.parametrize("big", [False, True])
def test_mono16_scaled_to_8_bit(big):
    gray = (BGR[:, :, 0].astype(np.uint16) * 257)  # 0..65535, so /257 is exact
    out = from_image_msg(raw(gray, "mono16", big=big))
    assert np.array_equal(out[:, :, 1], BGR[:, :, 0])


def test_rgb16():
    out = from_image_msg(raw(BGR[:, :, ::-1].astype(np.uint16) * 257, "rgb16"))
    assert np.array_equal(out, BGR)


@pytest.mark.parametrize("fmt, exact", [("png", True), ("jpeg", False)])
def test_compressed_round_trip(fmt, exact):
    image = np.zeros((48, 64, 3), np.uint8)
    image[8:40, 16:48] = (30, 140, 220)
    msg = to_compressed_msg(image, Time(sec=1), "cam", fmt=fmt)
    assert isinstance(msg, CompressedImage) and msg.format == fmt and msg.header.frame_id == "cam"
    out = from_compressed_msg(msg)
    assert out.shape == image.shape and out.dtype == np.uint8
    error = np.abs(out.astype(int) - image)
    if exact:
        assert error.max() == 0
    else:  # JPEG (4:2:0 chroma) blurs colour edges; away from them it is close
        assert error[12:36, 20:44].max() <= 8 and error.mean() < 4


def test_padded_16_bit_rows():
    out = from_image_msg(raw(BGR.astype(np.uint16) * 257, "bgr16", pad=4, big=True))
    assert np.array_equal(out, BGR)


@pytest.mark.parametrize("encoding, alpha", [("bgra16", False), ("rgba16", True)])
def test_rgba16(encoding, alpha):
    pixels = (BGR[:, :, ::-1] if alpha else BGR).astype(np.uint16) * 257
    out = from_image_msg(raw(np.dstack([pixels, np.full(BGR.shape[:2], 7, np.uint16)]), encoding))
    assert np.array_equal(out, BGR)


@pytest.mark.parametrize("encoding, offsets", [
    ("bayer_rggb8", {"r": (0, 0), "b": (1, 1)}), ("bayer_bggr8", {"b": (0, 0), "r": (1, 1)}),
    ("bayer_grbg8", {"r": (0, 1), "b": (1, 0)}), ("bayer_gbrg8", {"b": (0, 1), "r": (1, 0)}),
])
def test_bayer(encoding, offsets):
    """A uniform colour seen through each ROS Bayer pattern demosaics back to that colour."""
    mosaic = np.full((8, 8), 100, np.uint8)  # green everywhere but on the R and B sites
    (ry, rx), (by, bx) = offsets["r"], offsets["b"]
    mosaic[ry::2, rx::2], mosaic[by::2, bx::2] = 200, 50
    out = from_image_msg(raw(mosaic, encoding))
    assert out.shape == (8, 8, 3)
    assert np.abs(out[2:6, 2:6].astype(int) - (50, 100, 200)).max() <= 2


def test_yuv422():
    """UYVY with U = V = 128 is gray: all three channels equal, brighter for a larger Y."""
    uyvy = np.zeros((4, 6, 2), np.uint8)
    uyvy[:, :, 0] = 128                      # U, V alternate in channel 0
    uyvy[:, :3, 1], uyvy[:, 3:, 1] = 60, 180  # Y
    out = from_image_msg(raw(uyvy, "yuv422")).astype(int)
    assert out.shape == (4, 6, 3)
    assert np.abs(out - out[:, :, :1]).max() <= 1 and out[0, 5, 0] > out[0, 0, 0] + 100


def test_backend_is_known():
    from ros2_openpose.ros import image_io

    assert image_io.BACKEND in ("cv_bridge", "rosbags-image")


@pytest.mark.parametrize("encoding", ["32FC1", "16UC1", "yuv420", "jpeg", ""])
def test_unsupported_encoding(encoding):
    with pytest.raises(UnsupportedEncoding, match="unsupported image encoding"):
        from_image_msg(Image(height=2, width=2, encoding=encoding, step=8, data=bytes(16)))


def test_bad_raw_messages():
    with pytest.raises(EmptyImage):
        from_image_msg(Image(height=0, width=0, encoding="bgr8"))
    with pytest.raises(CorruptImage, match="needs"):
        from_image_msg(Image(height=4, width=4, encoding="bgr8", step=12, data=bytes(20)))
    with pytest.raises(CorruptImage, match="needs 48 bytes"):  # the last row's padding is data too
        from_image_msg(Image(height=4, width=4, encoding="bgr8", step=12, data=bytes(47)))
    with pytest.raises(CorruptImage, match="step"):
        from_image_msg(Image(height=4, width=4, encoding="bgr8", step=6, data=bytes(100)))
    assert issubclass(CorruptImage, ValueError) and issubclass(UnsupportedEncoding, ValueError)


def test_bad_compressed_messages():
    with pytest.raises(EmptyImage):
        from_compressed_msg(CompressedImage(format="jpeg"))
    with pytest.raises(CorruptImage, match="JPEG header is truncated"):
        from_compressed_msg(CompressedImage(format="jpeg", data=b"\xff\xd8\xff\xe0garbage" * 20))
    with pytest.raises(UnsupportedEncoding):
        from_compressed_msg(CompressedImage(format="16UC1; compressedDepth png", data=b"x"))
    with pytest.raises(ValueError, match="unsupported compressed format"):
        to_compressed_msg(BGR, fmt="webm")


# ---------------------------------------------------------------- compressed input an attacker controls

def png_bomb(width: int, height: int) -> bytes:
    """A valid PNG of a black ``width`` x ``height`` RGB picture, compressed row by row (the pixels are
    never held in memory): a few hundred kB that decode to ``3 * width * height`` bytes."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    row = bytes(1 + 3 * width)  # filter byte 0, then black pixels
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def damaged_jpeg(data: bytes) -> bytes:
    """A JPEG with 100 bytes of its scan missing (a transmission error): libjpeg decodes it, but warns
    "Corrupt JPEG data: premature end of data segment"."""
    middle = len(data) // 2
    return data[:middle] + data[middle + 100:]


def _jpeg(real_data) -> bytes:
    return sorted((real_data / "coco-mini-train2017").glob("*.jpg"))[0].read_bytes()


def test_size_from_the_header(real_data):
    data = _jpeg(real_data)
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image_size(CompressedImage(format="jpeg", data=data)) == (decoded.shape[1], decoded.shape[0])
    png = to_compressed_msg(BGR, fmt="png")
    assert image_size(png) == (7, 5)
    assert image_size(raw(BGR, "bgr8")) == (7, 5)
    with pytest.raises(EmptyImage):
        image_size(Image(height=0, width=3, encoding="bgr8"))
    with pytest.raises(UnsupportedEncoding):
        image_size(Image(height=2, width=2, encoding="32FC1"))
    with pytest.raises(UnsupportedEncoding, match="neither JPEG nor PNG"):
        image_size(CompressedImage(format="bmp", data=b"BM" + bytes(60)))


def test_decompression_bomb_size_read_without_decoding():
    bomb = png_bomb(8000, 8000)
    assert len(bomb) < 300_000  # 192 MB of pixels once decoded
    assert image_size(CompressedImage(format="png", data=bomb)) == (8000, 8000)


def test_truncated_and_damaged_jpeg_are_corrupt(real_data):
    data = _jpeg(real_data)
    assert from_compressed_msg(CompressedImage(format="jpeg", data=data)).ndim == 3
    with pytest.raises(CorruptImage, match="no end-of-image marker"):
        from_compressed_msg(CompressedImage(format="jpeg", data=data[:-2]))
    with pytest.raises(CorruptImage, match="no end-of-image marker"):
        from_compressed_msg(CompressedImage(format="jpeg", data=data[: len(data) // 2]))
    with pytest.raises(CorruptImage, match="damaged: Corrupt JPEG data"):
        from_compressed_msg(CompressedImage(format="jpeg", data=damaged_jpeg(data)))


def test_bad_png_is_corrupt_not_an_opencv_error():
    good = bytes(to_compressed_msg(BGR, fmt="png").data)
    fake = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR" + struct.pack(">II", 64, 48) + bytes(range(40))  # pixels: none
    with pytest.raises(CorruptImage):
        from_compressed_msg(CompressedImage(format="png", data=fake))
    with pytest.raises(CorruptImage, match="no IEND chunk"):
        from_compressed_msg(CompressedImage(format="png", data=good[:-12]))
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x10  # inside IDAT: its CRC no longer matches
    with pytest.raises(CorruptImage, match="does not decode"):
        from_compressed_msg(CompressedImage(format="png", data=bytes(flipped)))
