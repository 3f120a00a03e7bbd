"""maps.py and estimator.py: multi-scale alignment, construction rules, image-pixel output, odd inputs.

Networks here are stand-ins: a "ramp" network whose maps are the image's own pixel coordinates (to
check scale alignment exactly) and a "planted" network that draws ideal maps of known people at
known network-input positions (to check the way back to image pixels); the second look at near
people runs the shipped default model on a committed real photo.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ros2_openpose.assets import resolve_weights
from ros2_openpose.config import DecodeConfig
from ros2_openpose.estimator import PoseEstimator
from ros2_openpose.maps import infer_maps
from ros2_openpose.models import SeedNet, make_checkpoint
from ros2_openpose.skeletons import COCO17, COCO18, Skeleton
from ros2_openpose.tensor import fit, to_tensor_batch
from training.data import load_coco
from training.evaluate import on_canvas


class RampNet(nn.Module):
    """PAFs = mean of input channel 0 over each 8x8 cell, heatmaps = same of channel 1."""

    skeleton, input_format, stride, model_type = COCO17, "bgr_256", 8, "ramp"

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cells = F.avg_pool2d(x, 8)
        return cells[:, :1].expand(-1, 46, -1, -1), cells[:, 1:2].expand(-1, 18, -1, -1)


def ramp_image(h: int, w: int) -> np.ndarray:
    """Channel 0 = x, channel 1 = y (scaled into 0..255): linear, so resizing keeps it exact."""
    ys, xs = np.mgrid[:h, :w].astype(np.float32)
    image = np.zeros((h, w, 3), np.uint8)
    image[..., 0] = np.round(xs * 255 / (w - 1))
    image[..., 1] = np.round(ys * 255 / (h - 1))
    return image


@pytest.mark.parametrize("scales", [(1.0, 0.75), (1.0, 1.5, 0.5)])
def test_multiscale_maps_align(scales):
    images = [ramp_image(200, 256), ramp_image(150, 300)]
    tensors, boxes = [], []
    for s in scales:
        t, b = to_tensor_batch(images, round(184 * s), fmt="bgr_256")
        tensors.append(t)
        boxes.append(b)
    ratios = [np.array([[b.scale_x / b0.scale_x, b.scale_y / b0.scale_y] for b, b0 in zip(bs, boxes[0], strict=True)])
              for bs in boxes]
    net = RampNet()
    base_pafs, base_hms = infer_maps(net, tensors[0])
    pafs, heatmaps = infer_maps(net, tensors, ratios=ratios)
    assert pafs.shape == base_pafs.shape and pafs.dtype == torch.float32
    for i, box in enumerate(boxes[0]):
        rows, cols = box.map_size
        # Away from the borders: a coarser scale's last cell mixes image and padding over 2+ base cells.
        inner = (slice(2, rows - 4), slice(2, cols - 4))
        assert torch.allclose(pafs[i, 0][inner], base_pafs[i, 0][inner], atol=3e-3)
        assert torch.allclose(heatmaps[i, 0][inner], base_hms[i, 0][inner], atol=3e-3)


# ---- a network that draws known people ----------------------------------------------------------

def render(points: np.ndarray, skeleton: Skeleton, rows: int, cols: int, stride: int = 8,
           sigma: float = 7.0, limb_width: float = 8.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Ideal maps (cell centres at stride*j + (stride-1)/2) for people ``points`` (P, K, 2) in input px."""
    cy = (np.arange(rows) * stride + (stride - 1) / 2)[:, None]
    cx = (np.arange(cols) * stride + (stride - 1) / 2)[None, :]
    heat = np.zeros((skeleton.num_heatmaps, rows, cols), np.float32)
    paf = np.zeros((skeleton.num_pafs, rows, cols), np.float32)
    for person in points:
        for k, (x, y) in enumerate(person):
            heat[k] = np.maximum(heat[k], np.exp(-((cx - x) ** 2 + (cy - y) ** 2) / (2 * sigma ** 2)))
        for (a, b), (chx, chy) in zip(skeleton.limbs, skeleton.paf_channels, strict=True):
            d = person[b] - person[a]
            length = float(np.hypot(*d))
            u = d / length
            along = (cx - person[a][0]) * u[0] + (cy - person[a][1]) * u[1]
            across = np.abs((cx - person[a][0]) * u[1] - (cy - person[a][1]) * u[0])
            on = (along >= 0) & (along <= length) & (across <= limb_width)
            paf[chx][on], paf[chy][on] = u[0], u[1]
    heat[-1] = 1.0 - heat[:-1].max(axis=0)
    return torch.from_numpy(paf), torch.from_numpy(heat)


def stick_person(cx: float, top: float, height: float) -> np.ndarray:
    """A standing COCO-17 figure (K, 2) of ``height`` pixels, centred on x = cx."""
    u = height / 8.0
    layout = {0: (0, 0.5), 1: (-0.3, 0.3), 2: (0.3, 0.3), 3: (-0.6, 0.5), 4: (0.6, 0.5),
              5: (-1, 1.5), 6: (1, 1.5), 7: (-1.4, 2.7), 8: (1.4, 2.7), 9: (-1.6, 3.8), 10: (1.6, 3.8),
              11: (-0.7, 4.0), 12: (0.7, 4.0), 13: (-0.8, 5.8), 14: (0.8, 5.8), 15: (-0.9, 7.6), 16: (0.9, 7.6)}
    return np.array([[cx + dx * u, top + dy * u] for _, (dx, dy) in sorted(layout.items())], np.float32)


class PlantedNet(nn.Module):
    """Draws, for batch element i, the people ``people[i]`` (P, K, 2) given in network-input pixels."""

    input_format, stride, model_type = "rgb_imagenet", 8, "planted"

    def __init__(self, people: list[np.ndarray], skeleton: Skeleton = COCO17) -> None:
        super().__init__()
        self.people, self.skeleton = people, skeleton

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        rows, cols = x.shape[-2] // 8, x.shape[-1] // 8
        maps = [render(p, self.skeleton, rows, cols) for p in self.people]
        return torch.stack([m[0] for m in maps]).to(x.device), torch.stack([m[1] for m in maps]).to(x.device)


def planted(image_sizes: list[tuple[int, int]], people_image: list[np.ndarray], input_size: int = 184):
    """An estimator whose network draws ``people_image`` (image px) at their network-input position."""
    boxes = [fit(size, input_size) for size in image_sizes]
    people_input = [box.to_input(p) for box, p in zip(boxes, people_image, strict=True)]
    return PoseEstimator(network=PlantedNet(people_input), device="cpu", input_size=input_size)


@pytest.mark.parametrize("input_size", [184, 368])
def test_people_come_back_in_image_pixels(input_size):
    sizes = [(480, 640), (300, 200), (1000, 700)]
    truth = [np.stack([stick_person(200, 60, 360), stick_person(470, 100, 330)]),
             stick_person(100, 40, 240)[None], stick_person(350, 100, 800)[None]]
    estimator = planted(sizes, truth, input_size)
    results = estimator.estimate_batch([np.zeros((*s, 3), np.uint8) for s in sizes])
    assert [len(r) for r in results] == [2, 1, 1]
    for people, expected, size in zip(results, truth, sizes, strict=True):
        scale = input_size / size[0]
        found = sorted(people, key=lambda p: float(np.nanmean(p.keypoints[:, 0])))
        for person, want in zip(found, expected, strict=True):
            kps = np.asarray(person.keypoints)
            assert kps.shape == (17, 3) and kps.dtype == np.float32
            assert (kps[:, 2] > 0).all()
            # Gaussian peaks are refined exactly by decode; 0.25 input px still catches a half-pixel
            # convention slip in the way back (that costs 0.5 * (1 - scale) input px).
            assert np.abs(kps[:, :2] - want).max() * scale < 0.25
            x, y, w, h = (float(v) for v in person.bbox)
            assert (x, y) == pytest.approx(tuple(kps[:, :2].min(0)), abs=1e-3)
            assert (x + w, y + h) == pytest.approx(tuple(kps[:, :2].max(0)), abs=1e-3)


def test_single_image_and_live_config():
    truth = stick_person(320, 50, 380)[None]
    estimator = planted([(480, 640)], [truth])
    people = estimator.estimate(np.zeros((480, 640, 3), np.uint8))
    assert len(people) == 1
    estimator.config = estimator.config.updated(heatmap_threshold=0.99, min_parts=17)
    assert estimator.estimate(np.zeros((480, 640, 3), np.uint8)) == []
    with pytest.raises(TypeError):
        estimator.config = {"heatmap_threshold": 0.5}
    with pytest.raises(ValueError):
        estimator.config = DecodeConfig(paf_threshold=3.0)


# ---- flip test-time augmentation ----------------------------------------------------------------

class MirrorAwareNet(PlantedNet):
    """Draws its people; on a mirrored input (told by a bright left-half marker now on the right) it
    draws their mirror image with left and right relabelled, as a flip-equivariant network would."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        rows, cols = x.shape[-2] // 8, x.shape[-1] // 8
        perm = self.skeleton.flip_permutation()
        maps, half = [], x.shape[-1] // 2
        for i in range(len(x)):  # the batch holds the direct images, then the mirrored ones
            people = self.people[i % len(self.people)]
            mirrored = bool(x[i, :, :, :half].sum() < x[i, :, :, half:].sum())
            if mirrored:
                people = people[:, perm].copy()
                people[..., 0] = x.shape[-1] - 1 - people[..., 0]
            maps.append(render(people, self.skeleton, rows, cols))
        return torch.stack([m[0] for m in maps]).to(x.device), torch.stack([m[1] for m in maps]).to(x.device)


@pytest.mark.parametrize("skeleton", [COCO17, COCO18])
def test_flip_averages_the_mirror_image_back_onto_the_same_maps(skeleton):
    """A flip-equivariant network's mirrored maps, moved back by ``flip_channels``, equal its direct maps
    (a wrong channel, limb or sign would not); a network that only draws on one side gets half."""
    image = np.zeros((256, 320, 3), np.uint8)
    image[:, :160] = 255  # the marker that tells the network it sees the mirror image
    tensor, (box,) = to_tensor_batch([image], 256, fmt="rgb_imagenet")
    people = box.to_input(np.stack([stick_person(110, 20, 200), stick_person(230, 40, 190)]))
    if skeleton is COCO18:  # the layout's own points: COCO's 17 plus a neck between the shoulders
        people = np.concatenate([people[:, :1], people[:, 5:7].mean(1, keepdims=True), people[:, 1:]], 1)
        people = people[:, [0, 1, 7, 9, 11, 6, 8, 10, 13, 15, 17, 12, 14, 16, 3, 2, 5, 4]]
    net = MirrorAwareNet([people], skeleton)
    direct = infer_maps(net, tensor)
    flipped = infer_maps(net, tensor, flip=skeleton.flip_channels())
    for a, b in zip(direct, flipped, strict=True):
        assert a.shape == b.shape and float(a.abs().max()) > 0.9
        assert torch.allclose(a, b, atol=1e-5)
    # Without the channel moves the mirrored maps disagree: the check above can fail.
    blind = infer_maps(net, tensor, flip=(np.arange(skeleton.num_heatmaps), np.arange(skeleton.num_pafs),
                                          np.ones(skeleton.num_pafs, np.float32)))
    assert blind[0].shape == direct[0].shape and not torch.allclose(direct[0], blind[0], atol=1e-2)

    estimator = PoseEstimator(network=net, device="cpu", input_size=256, flip=True)
    assert estimator.info["flip"] is True
    found = estimator.estimate(image)
    assert len(found) == 2 and all(int((p.keypoints[:, 2] > 0).sum()) == skeleton.num_keypoints for p in found)


# ---- construction -------------------------------------------------------------------------------

def tiny_seed(**kw) -> SeedNet:
    return SeedNet(**{"width": 0.25, "paf_stages": 1, "heatmap_stages": 1, "freeze_backbone": False, **kw})


def test_construction_rules(tmp_path):
    with pytest.raises(ValueError, match="exactly one"):
        PoseEstimator()
    with pytest.raises(ValueError, match="exactly one"):
        PoseEstimator(weights="x.pt", network=RampNet())
    bare = nn.Conv2d(3, 3, 1)
    with pytest.raises(ValueError, match="skeleton"):
        PoseEstimator(network=bare)
    with pytest.raises(ValueError, match="disagrees"):
        PoseEstimator(network=RampNet(), skeleton="coco18")
    with pytest.raises(ValueError):
        PoseEstimator(network=RampNet(), scales=())
    estimator = PoseEstimator(network=RampNet(), device="auto", fp16=True)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert estimator.device.type == expected and estimator.fp16 == (expected == "cuda")
    assert estimator.input_format == "bgr_256" and estimator.skeleton is COCO17

    path = tmp_path / "tiny.pt"
    torch.save(make_checkpoint(tiny_seed(skeleton="coco18")), path)
    estimator = PoseEstimator(weights=path, device="cpu", input_size=184)
    assert estimator.info["model_type"] == "seed" and estimator.info["skeleton"] == "coco18"
    assert estimator.info["weights"] == str(path) and estimator.info["device"] == "cpu"
    assert estimator.skeleton is COCO18 and not estimator.network.training


def test_plain_module_with_explicit_skeleton():
    class Bare(nn.Module):
        def forward(self, x):
            n, _, h, w = x.shape
            return torch.zeros(n, 38, h // 8, w // 8), torch.zeros(n, 19, h // 8, w // 8)

    estimator = PoseEstimator(network=Bare(), skeleton="coco18", device="cpu", input_size=184)
    assert estimator.input_format == "rgb_imagenet"
    assert estimator.estimate(np.zeros((50, 60, 3), np.uint8)) == []
    assert estimator.estimate_batch([]) == []


@pytest.mark.parametrize("image", [
    np.zeros((120, 160), np.uint8),                        # grayscale
    np.full((120, 160, 4), 90, np.uint8),                  # BGRA
    np.zeros((1, 1, 3), np.uint8),                         # one pixel
    np.zeros((4000, 3000, 3), np.uint8),                   # large
    np.zeros((2, 3000, 3), np.uint8),                      # absurd aspect
    np.random.default_rng(0).integers(0, 65535, (60, 80, 3), dtype=np.uint16),
    np.random.default_rng(1).random((60, 80, 3), dtype=np.float32),
])
def test_odd_inputs_never_crash(image):
    torch.manual_seed(0)
    estimator = PoseEstimator(network=tiny_seed(), device="cpu", input_size=184, scales=(1.0, 0.5))
    people = estimator.estimate(image)
    assert isinstance(people, list)
    for person in people:
        assert np.asarray(person.keypoints).shape == (17, 3)


def test_warmup_and_bad_image():
    estimator = PoseEstimator(network=tiny_seed(), device="cpu", input_size=184)
    assert estimator.warmup(iterations=1) > 0
    with pytest.raises(ValueError, match="empty"):
        estimator.estimate(np.zeros((0, 10, 3), np.uint8))


def test_input_size_defaults_to_the_checkpoints_own():
    net = SeedNet(width=0.125, paf_stages=1, heatmap_stages=1, freeze_backbone=False)
    trained_at_184 = make_checkpoint(net, config={"data": {"input_size": 184}})
    assert PoseEstimator(weights=trained_at_184, device="cpu").input_size == 184
    assert PoseEstimator(weights=trained_at_184, device="cpu", input_size=368).input_size == 368
    assert PoseEstimator(weights=make_checkpoint(net), device="cpu").input_size == 368


# ---- backend ------------------------------------------------------------------------------------

@pytest.mark.slow  # two ONNX exports of a tiny network: ~1-3 minutes on 2 shared cores
def test_backend_is_chosen_by_measurement_observable_and_overridable(tmp_path, monkeypatch):
    from ros2_openpose.onnx_export import PARITY_TOLERANCE, export_onnx

    torch.manual_seed(0)
    net = tiny_seed()
    path = tmp_path / "tiny.pt"
    torch.save(make_checkpoint(net), path)
    plain = PoseEstimator(weights=path, device="cpu", input_size=184)
    assert plain.info["backend"] == "torch" and "no ONNX twin" in plain.info["backend_reason"]

    export_onnx(load_twin_source(path), path.with_suffix(".onnx"), input_size=184)  # the weights' twin
    auto = PoseEstimator(weights=path, device="cpu", input_size=184)
    assert auto.info["backend"] in ("torch", "onnxruntime")
    reason = auto.info["backend_reason"]
    assert reason.startswith("faster: forward at 184x248: onnxruntime ") and "torch channels_last" in reason

    forced = {b: PoseEstimator(weights=path, device="cpu", input_size=184, backend=b) for b in ("torch", "onnxruntime")}
    assert {b: e.info["backend"] for b, e in forced.items()} == {"torch": "torch", "onnxruntime": "onnxruntime"}
    options = forced["onnxruntime"].network.session.get_session_options()
    assert options.intra_op_num_threads == torch.get_num_threads() and options.inter_op_num_threads == 1
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    x = torch.rand(1, 3, 184, 248)
    with torch.inference_mode():
        for a, b in zip(forced["torch"].network(x), forced["onnxruntime"].network(x), strict=True):
            assert float((a - b).abs().max()) <= PARITY_TOLERANCE

    # Without onnxruntime (the ROS install: torch only) a twin beside the weights changes nothing.
    from ros2_openpose import backend as backend_module

    real_find_spec = backend_module.importlib.util.find_spec
    monkeypatch.setattr(backend_module.importlib.util, "find_spec",
                        lambda name, *a: None if name == "onnxruntime" else real_find_spec(name, *a))
    bare = PoseEstimator(weights=path, device="cpu", input_size=184)
    assert bare.info["backend"] == "torch" and "onnxruntime is not installed" in bare.info["backend_reason"]
    monkeypatch.undo()
    # A twin of other weights (file times prove nothing after a checkout) is caught by its outputs.
    torch.save(make_checkpoint(tiny_seed()), path)
    stale = PoseEstimator(weights=path, device="cpu", input_size=184)
    assert stale.info["backend"] == "torch" and "disagrees with the weights" in stale.info["backend_reason"]

    with pytest.raises(ValueError, match="backend must be one of"):
        PoseEstimator(weights=path, device="cpu", backend="tensorrt")
    with pytest.raises(ValueError, match="runs on onnxruntime, not torch"):
        PoseEstimator(weights=path.with_suffix(".onnx"), device="cpu", backend="torch")


def load_twin_source(path):
    from ros2_openpose.models import load_model

    return load_model(path)[0]


def test_a_near_person_gets_a_second_look_at_the_near_scale() -> None:
    # The shipped model on a committed real photo cropped around one labelled person (who then fills
    # the frame, cut by it) and on the same photo seen three times as far: the near frame is decoded
    # from the mean of its 1.0 and near_scale maps, exactly as a two-scale estimator would; the far
    # one is left as one scale.
    people_dir = Path(__file__).resolve().parent / "data" / "people"
    coco = load_coco(people_dir / "annotations.json")
    ann = max(coco.loadAnns(coco.getAnnIds(iscrowd=False)), key=lambda a: a["num_keypoints"])
    photo = cv2.imread(str(people_dir / coco.loadImgs(ann["image_id"])[0]["file_name"]))
    x, y, w, h = (int(v) for v in ann["bbox"])
    near_frame = photo[y:y + h, max(0, x + w // 2 - h * 2 // 3):x + w // 2 + h * 2 // 3]
    far_frame = on_canvas(photo, 3.0)

    weights = resolve_weights("default")
    estimator = PoseEstimator(weights=weights, device="cpu", backend="torch")
    assert estimator.config.near_scale == 0.8  # the default model's own (its card)
    one_look = dataclasses.replace(estimator.config, near_scale=0.0)
    two_scales = PoseEstimator(weights=weights, device="cpu", backend="torch", scales=(1.0, 0.8))
    two_scales.config = one_look

    def tallest(people: list) -> float:
        return max((p.bbox[3] for p in people), default=0.0)

    def same(a: list, b: list) -> bool:
        return len(a) == len(b) and all(np.array_equal(p.keypoints, q.keypoints, equal_nan=True)
                                        for p, q in zip(a, b, strict=True))

    estimator.config = one_look
    first_near, first_far = estimator.estimate(near_frame), estimator.estimate(far_frame)
    assert tallest(first_near) > 0.4 * near_frame.shape[0]  # someone near: the second look runs
    assert 0 < tallest(first_far) < 0.4 * far_frame.shape[0]  # people, all far: it does not
    estimator.config = dataclasses.replace(one_look, near_scale=0.8)
    looked_twice = estimator.estimate(near_frame)
    assert same(looked_twice, two_scales.estimate(near_frame))
    assert not same(looked_twice, first_near)
    assert same(estimator.estimate(far_frame), first_far)
