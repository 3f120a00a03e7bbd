"""image.py and tensor.py: input normalisation, letterbox geometry and its round trip."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ros2_openpose.image import as_bgr
from ros2_openpose.tensor import (
    INPUT_FORMATS,
    MAX_ASPECT,
    Letterbox,
    denormalize,
    fit,
    normalize,
    to_tensor,
    to_tensor_batch,
)

# ---- as_bgr -------------------------------------------------------------------------------------

@pytest.mark.parametrize("image", [
    np.full((5, 7), 9, np.uint8),                    # grayscale HxW
    np.full((5, 7, 1), 9, np.uint8),                 # grayscale HxWx1
    np.full((5, 7, 3), 9, np.uint8),                 # BGR
    np.full((5, 7, 4), 9, np.uint8),                 # BGRA
    np.full((5, 7, 3), 9 * 257, np.uint16),          # 16-bit
    np.full((5, 7, 3), 9 / 255, np.float32),         # float in [0, 1]
    np.full((5, 7), 9 / 255, np.float64),
])
def test_as_bgr_layouts(image):
    out = as_bgr(image)
    assert out.shape == (5, 7, 3) and out.dtype == np.uint8 and out.flags.c_contiguous
    assert (out == 9).all()


def test_as_bgr_keeps_channels_and_drops_alpha():
    bgra = np.zeros((2, 2, 4), np.uint8)
    bgra[..., 0], bgra[..., 1], bgra[..., 2], bgra[..., 3] = 10, 20, 30, 0
    assert as_bgr(bgra)[0, 0].tolist() == [10, 20, 30]
    view = np.zeros((4, 6, 3), np.uint8)[:, ::2]                 # non-contiguous view
    assert as_bgr(view).flags.c_contiguous


def test_as_bgr_value_ranges():
    assert as_bgr(np.array([[0, 65535]], np.uint16))[0, :, 0].tolist() == [0, 255]
    assert as_bgr(np.array([[-1.0, 2.0, np.nan]], np.float32))[0, :, 0].tolist() == [0, 255, 0]
    assert as_bgr(np.array([[True, False]]))[0, :, 0].tolist() == [255, 0]


@pytest.mark.parametrize("bad, words", [
    (None, "None"),
    (np.zeros((0, 5, 3), np.uint8), "empty"),
    (np.zeros((5, 0), np.uint8), "empty"),
    (np.zeros((5,), np.uint8), "HxW"),
    (np.zeros((2, 5, 5, 3), np.uint8), "HxW"),
    (np.zeros((5, 5, 2), np.uint8), "channels"),
])
def test_as_bgr_rejects(bad, words):
    with pytest.raises(ValueError, match=words):
        as_bgr(bad)


# ---- normalisation ------------------------------------------------------------------------------

def test_normalize_formats():
    pixel = torch.tensor([10, 120, 250], dtype=torch.uint8).view(1, 3, 1, 1)   # B, G, R
    rgb = normalize(pixel, "rgb_imagenet").flatten()
    expected = (torch.tensor([250, 120, 10]) / 255 - torch.tensor([0.485, 0.456, 0.406])) \
        / torch.tensor([0.229, 0.224, 0.225])
    assert torch.allclose(rgb, expected, atol=1e-5)
    bgr = normalize(pixel, "bgr_256").flatten()
    assert torch.allclose(bgr, torch.tensor([10, 120, 250]) / 256 - 0.5)
    # Padding values normalise to exactly zero in both formats.
    for fmt in INPUT_FORMATS.values():
        pad = torch.tensor(fmt.pad_bgr).view(3, 1, 1)
        assert torch.allclose(normalize(pad, fmt), torch.zeros(3, 1, 1), atol=1e-6)


def test_normalize_batch_and_inverse():
    batch = torch.randint(0, 256, (2, 3, 4, 5), dtype=torch.uint8)
    for fmt in INPUT_FORMATS:
        out = normalize(batch, fmt)
        assert out.dtype == torch.float32 and out.shape == batch.shape
        assert (denormalize(out[1], fmt) == batch[1].permute(1, 2, 0).numpy()).all()
    with pytest.raises(ValueError):
        normalize(torch.zeros(2, 4, 4, 3), "bgr_256")


# ---- letterbox geometry -------------------------------------------------------------------------

@pytest.mark.parametrize("input_size", [368, 184])
def test_to_tensor_height_and_padding(input_size):
    image = np.full((480, 640, 3), 200, np.uint8)
    tensor, box = to_tensor(image, input_size, fmt="bgr_256")
    width = round(640 * input_size / 480)
    assert box.resized_size == (input_size, width)
    assert tensor.shape == (1, 3, input_size, -(-width // 8) * 8)
    assert tensor.dtype == torch.float32
    assert torch.allclose(tensor[0, :, :, :width], torch.full((3, input_size, width), 200 / 256 - 0.5))
    assert (tensor[0, :, :, width:] == 0).all()                 # pad 128 before normalisation
    assert box.map_size == (input_size // 8, -(-width // 8))


def test_width_cap_for_absurd_aspect():
    for shape in [(1, 4000), (3, 100000)]:
        box = fit(shape, 368)
        assert box.padded_size[1] <= MAX_ASPECT * 368
        assert box.padded_size[0] <= 368 and box.resized_size[0] >= 1
    tensor, box = to_tensor(np.zeros((1, 4000), np.uint8), 368)
    assert tensor.shape == (1, 3, 8, 1472)
    tall = fit((4000, 1), 368)                                   # tall strips keep the height rule
    assert tall.resized_size == (368, 1) and tall.padded_size == (368, 8)


def test_letterbox_round_trip():
    box = fit((333, 517), 184)
    points = np.array([[0.0, 0.0], [516.0, 332.0], [101.3, 7.7], [np.nan, np.nan]], np.float32)
    back = box.to_image(box.to_input(points))
    assert np.allclose(back[:3], points[:3], atol=1e-3)
    assert np.isnan(back[3]).all()
    # Extra columns (scores) pass through untouched.
    kps = np.array([[10.0, 20.0, 0.7]], np.float32)
    assert box.to_image(kps)[0, 2] == pytest.approx(0.7)
    # A box's corners map like points.
    bx = box.bbox_to_image(np.array([10.0, 20.0, 30.0, 40.0]))
    assert np.allclose(bx[:2], box.to_image([10.0, 20.0]))
    assert np.allclose(bx[2:], [30 / box.scale_x, 40 / box.scale_y])


def test_letterbox_locates_a_pixel():
    """A bright pixel lands where to_input says, and maps back to where it was."""
    image = np.zeros((240, 320, 3), np.uint8)
    image[100:104, 200:204] = 255                               # centre (201.5, 101.5)
    tensor, box = to_tensor(image, 368, fmt="bgr_256")
    rh, rw = box.resized_size
    weight = np.clip(tensor[0, 0, :rh, :rw].numpy() + 0.5, 0, None)   # black -> 0, padding excluded
    ys, xs = np.mgrid[:rh, :rw]
    found = np.array([(xs * weight).sum(), (ys * weight).sum()]) / weight.sum()
    assert np.allclose(found, box.to_input([201.5, 101.5]), atol=0.5)
    assert np.allclose(box.to_image(found), [201.5, 101.5], atol=0.5)


def test_crop_drops_padding_cells():
    box = Letterbox((10, 21), (10, 21), (16, 32), 8)
    maps = torch.zeros(5, 2, 4)
    assert box.crop(maps).shape == (5, 2, 3)
    assert box.crop(np.zeros((2, 4))).shape == (2, 3)


def test_batch_pads_to_common_size():
    images = [np.zeros((100, 100, 3), np.uint8), np.zeros((100, 300), np.uint8), np.ones((50, 20, 4), np.uint8)]
    tensor, boxes = to_tensor_batch(images, 184, fmt="rgb_imagenet")
    assert tensor.shape == (3, 3, 184, 552)
    assert all(b.padded_size == (184, 552) for b in boxes)
    single, _ = to_tensor(images[0], 184)
    assert torch.allclose(tensor[0, :, :, :184], single[0])
    assert (tensor[0, :, :, 184:] == 0).all()
    assert boxes[2].resized_size == (184, round(20 * 184 / 50))


def test_tiny_image():
    tensor, box = to_tensor(np.full((1, 1, 3), 7, np.uint8), 184)
    assert tensor.shape == (1, 3, 184, 184)
    assert np.allclose(box.to_image([[91.5, 91.5]]), [[0.0, 0.0]])
