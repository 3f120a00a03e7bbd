"""image_io: ROS Image / CompressedImage <-> numpy BGR for every supported encoding, and clear errors."""
from __future__ import annotations

import array

import numpy as np
import pytest

pytest.importorskip("sensor_msgs.msg")

from builtin_interfaces.msg import Time  # noqa: E402
from sensor_msgs.msg import CompressedImage, Image  # noqa: E402

from ros2_openpose.ros.image_io import (CorruptImage, EmptyImage, UnsupportedEncoding,  # noqa: E402
                                        from_compressed_msg, from_image_msg, to_compressed_msg, to_image_msg)

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
    with pytest.raises(CorruptImage, match="does not decode"):
        from_compressed_msg(CompressedImage(format="jpeg", data=b"\xff\xd8\xff\xe0garbage" * 20))
    with pytest.raises(UnsupportedEncoding):
        from_compressed_msg(CompressedImage(format="16UC1; compressedDepth png", data=b"x"))
    with pytest.raises(ValueError, match="unsupported compressed format"):
        to_compressed_msg(BGR, fmt="webm")
