"""Image -> people: the whole pipeline behind one object (used by the node, the CLI and the demo).

``PoseEstimator`` letterboxes the image (``tensor.py``), runs the network on every scale
(``maps.py``), crops the maps to the cells that touch the image (padding cells can hold no peak),
decodes people (``decode.py``) in network-input pixels, and maps them back to image pixels.
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .backend import choose_backend, onnx_network
from .config import DecodeConfig
from .decode import decode
from .device import resolve_device
from .image import as_bgr
from .limbs import warm_kernel
from .maps import add_scale, infer_maps
from .models import ModelInfo, load_model, network_info
from .people import Person, keypoint_bbox
from .skeletons import Skeleton, get_skeleton
from .tensor import Letterbox, fit, to_tensor_batch
from .threads import AdaptiveThreads


class PoseEstimator:
    """Multi-person 2D pose estimation with a PAF network.

    Give exactly one of ``weights`` (a checkpoint / state_dict path or loaded dict, or an ``.onnx``
    file exported by ``onnx_export``) or ``network`` (a ``models.PoseNetwork``, or a plain module
    returning ``(pafs, heatmaps)`` with ``skeleton`` given: ``models.network_info``); ``skeleton``, when
    given, must agree with the model's.  ``model`` is the ``ModelInfo`` of what runs (with this
    estimator's device and input size), ``info`` its json view plus the run settings (scales, fp16,
    backend).  ``device="auto"`` picks CUDA when available; ``fp16`` only applies on CUDA.
    ``input_size`` is the network input height (368 or 184); ``scales`` multiply it, the first is the
    base whose map grid the others are averaged onto.  ``config``: the decode settings, by default the
    model's own (``ModelInfo.decode_config``: the original thresholds unless the model card changes
    them); it may be replaced at any time (the next call uses the new one).  Its ``near_scale`` > 0: a
    frame where a decoded person is taller than ``near_height`` of it runs once more at that scale and
    is decoded from the two scales' mean maps (people who fill the frame, docs/model.md).  ``backend`` ("auto",
    "torch", "onnxruntime") picks the runtime on a CPU (``backend.py``: auto keeps the faster of PyTorch
    channels_last and the weights' ONNX twin, measured here); ``info["backend"]`` and
    ``info["backend_reason"]`` say which runs and why.  ``cpu_threads``: ONNX Runtime's intra-op
    threads (default: as many as PyTorch uses); ``adaptive_threads``: on ONNX Runtime on a CPU, also
    keep a session with one thread per core and run each frame on whichever has been faster lately
    (``threads.py``: more threads win on free cores, fewer beside other work).  ``flip``: also run
    every image mirrored and average the maps (test-time augmentation, ``maps.py``; twice the forward
    work).
    """

    def __init__(self, weights: str | Path | Mapping | None = None, network: nn.Module | None = None,
                 skeleton: str | Skeleton | None = None, device: str | torch.device = "auto",
                 fp16: bool = True, input_size: int | None = None, scales: Sequence[float] = (1.0,),
                 config: DecodeConfig | None = None, backend: str = "auto",
                 cpu_threads: int | None = None, flip: bool = False, adaptive_threads: bool = False) -> None:
        self.device = resolve_device(device)
        model: ModelInfo
        if network is not None and weights is None:
            model = network_info(network, skeleton)
        elif weights is None or network is not None:
            raise ValueError("PoseEstimator needs exactly one of weights= or network=")
        elif isinstance(weights, (str, Path)) and Path(weights).suffix.lower() == ".onnx":
            network = onnx_network(Path(weights), cpu_threads, self.device.type == "cuda")
            model = network.info  # the export's metadata: interface, input size, card, ...
        else:
            network, model = load_model(weights, self.device)
        self.skeleton = get_skeleton(model.skeleton)
        if skeleton is not None and get_skeleton(skeleton).name != self.skeleton.name:
            raise ValueError(f"skeleton={get_skeleton(skeleton).name!r} disagrees with the network's "
                             f"{self.skeleton.name!r}")
        self.input_format, self.stride = model.input_format, model.stride
        # None: the size the checkpoint was trained for, else the original design's 368.
        input_size = input_size or model.input_size or 368
        if int(input_size) < self.stride:
            raise ValueError(f"input_size must be at least the stride {self.stride}, got {input_size}")
        self.input_size = int(input_size)
        self.scales = tuple(float(s) for s in scales)
        if not self.scales or any(not s > 0 for s in self.scales):
            raise ValueError(f"scales must be a non-empty list of positive numbers, got {scales}")
        self.model = dataclasses.replace(model, device=str(self.device), input_size=self.input_size)
        probe = (self.input_size, fit((3, 4), self.input_size, self.stride).padded_size[1])  # 4:3
        self.network, backend_name, backend_reason = choose_backend(
            network.to(self.device).eval(), self.model, weights, backend, self.device, probe, cpu_threads,
            adaptive_threads)
        self.fp16 = bool(fp16) and self.device.type == "cuda"
        self.flip = bool(flip)
        self._flip_channels = self.skeleton.flip_channels() if self.flip else None
        self.config = config if config is not None else self.model.decode_config()
        self.info: dict[str, Any] = {**self.model.as_dict(), "scales": self.scales, "fp16": self.fp16,
                                     "flip": self.flip,
                                     "backend": backend_name, "backend_reason": backend_reason}

    @property
    def threads_in_use(self) -> int | None:
        """The intra-op threads the last frame ran on, where ``adaptive_threads`` chooses them; else None."""
        return self.network.threads if isinstance(self.network, AdaptiveThreads) else None

    @property
    def config(self) -> DecodeConfig:
        return self._config

    @config.setter
    def config(self, value: DecodeConfig) -> None:
        if not isinstance(value, DecodeConfig):
            raise TypeError(f"config must be a DecodeConfig, got {type(value).__name__}")
        # One attribute store: a call in flight keeps the config it started with.
        self._config = value.validated()

    def warmup(self, image_size: tuple[int, int] | None = None, iterations: int = 1) -> float:
        """Run the full pipeline on a black image (default 4:3 at input_size) so that lazy CUDA/cuDNN
        set-up and the decode's compiled kernel (``limbs.warm_kernel``; a black image has no limbs to
        score) are paid before the first real frame; returns the seconds the last run took."""
        warm_kernel()
        h, w = image_size or (self.input_size, round(self.input_size * 4 / 3))
        image = np.zeros((h, w, 3), np.uint8)
        seconds = 0.0
        for _ in range(max(1, iterations)):
            start = time.perf_counter()
            self.estimate(image)
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            seconds = time.perf_counter() - start
        return seconds

    def estimate(self, image: Any) -> list[Person]:
        """People in one image (any layout ``as_bgr`` accepts), keypoints in image pixels."""
        return self.estimate_batch([image])[0]

    def estimate_batch(self, images: Sequence[Any]) -> list[list[Person]]:
        """People per image; images may differ in size (each is letterboxed on its own)."""
        if len(images) == 0:
            return []
        config = self.config  # read once: a live change applies from the next call
        bgrs = [as_bgr(image) for image in images]
        tensors, boxes = zip(*(self._letterboxed(bgrs, scale) for scale in self.scales), strict=True)
        ratios = [_ratios(scale_boxes, boxes[0]) for scale_boxes in boxes]
        pafs, heatmaps = infer_maps(self.network, list(tensors), self.fp16, ratios, self._flip_channels)
        results = [self._decoded(pafs[i], heatmaps[i], box, config) for i, box in enumerate(boxes[0])]
        near = [i for i, people in enumerate(results) if config.near_scale > 0
                and any(p.bbox[3] > config.near_height * boxes[0][i].image_size[0] for p in people)]
        if near:  # a second look at a smaller scale for the frames where someone is near (docs/model.md)
            tensor, near_boxes = self._letterboxed([bgrs[i] for i in near], config.near_scale)
            maps = add_scale(self.network, (pafs[near], heatmaps[near]), len(tensors), tensor,
                             _ratios(near_boxes, [boxes[0][i] for i in near]), self.fp16, self._flip_channels)
            for n, i in enumerate(near):
                results[i] = self._decoded(maps[0][n], maps[1][n], boxes[0][i], config)
        return results

    def _letterboxed(self, bgrs: Sequence[np.ndarray], scale: float) -> tuple[torch.Tensor, list[Letterbox]]:
        """The network input of ``bgrs`` at ``scale`` x the input size, and each image's letterbox."""
        size = max(self.stride, round(self.input_size * scale))
        return to_tensor_batch(bgrs, size, self.stride, self.input_format, self.device)

    def _decoded(self, pafs: torch.Tensor, heatmaps: torch.Tensor, box: Letterbox,
                 config: DecodeConfig) -> list[Person]:
        """People of one image's maps, in image pixels."""
        people = decode(box.crop(heatmaps), box.crop(pafs), self.skeleton, config, self.stride)
        return [to_image(person, box) for person in people]


def _ratios(boxes: Sequence[Letterbox], base: Sequence[Letterbox]) -> np.ndarray:
    """(N, 2): each image's input pixels per base input pixel, x and y (``maps.infer_maps``'s ratios)."""
    return np.array([[b.scale_x / b0.scale_x, b.scale_y / b0.scale_y] for b, b0 in zip(boxes, base, strict=True)],
                    dtype=np.float32)


def to_image(person: Person, box: Letterbox) -> Person:
    """A copy of ``person`` with keypoints (and so bbox) moved from network-input to image pixels.

    Points are clipped to the image: the last map cell may reach a few pixels into the padding.
    """
    h, w = box.image_size
    keypoints = box.to_image(person.keypoints)
    keypoints[..., 0] = np.clip(keypoints[..., 0], 0, w - 1)  # NaN (not found) stays NaN
    keypoints[..., 1] = np.clip(keypoints[..., 1], 0, h - 1)
    return dataclasses.replace(person, keypoints=keypoints, bbox=keypoint_bbox(keypoints))
