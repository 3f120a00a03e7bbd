"""TEST DOUBLES at the network boundary, for the node tests and the node benchmark.

``AnnotationNet`` stands in for the PAF network, nothing else: it ignores the *content* of its input
tensor and returns the ideal maps (``ros2_openpose.targets``) of people whose keypoints come from real
human annotations (COCO-format sets under ``../shared/data/real-keypoints``).  Everything around it
(letterboxing, decoding, the node, DDS, the messages) is the real code, so the people the node
publishes can be compared with the annotations exactly.

It recognises which image it was given by the input tensor's padded size (the letterbox of each
registered image size at the estimator's ``input_size``), so the registered sizes must letterbox to
distinct padded sizes; an unregistered size yields empty maps (nobody in the picture).

``OomNet`` is the same double that raises ``torch.cuda.OutOfMemoryError`` on demand, as a GPU would.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from ros2_openpose.skeletons import COCO17, Skeleton
from ros2_openpose.targets import render_heatmaps, render_pafs
from ros2_openpose.tensor import fit


@dataclass
class Scene:
    """One real image and its annotated people: ``keypoints`` (N, 17, 3) COCO x, y, v in image pixels."""

    file: Path
    keypoints: np.ndarray

    @property
    def image(self) -> np.ndarray:
        image = cv2.imread(str(self.file), cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(f"cannot read {self.file}")
        return image


def load_scene(folder: Path, file_name: str | None = None, min_keypoints: int = 10) -> Scene:
    """A COCO-format image of ``folder`` with its non-crowd people that have ``min_keypoints``+ labels.

    Without ``file_name``: the image with the most such people whose boxes do not overlap, so that the
    ideal maps of different people do not touch and the expected assembly is unambiguous.
    """
    data = json.loads((folder / "annotations.json").read_text())
    by_image: dict[int, list[dict]] = {}
    for ann in data["annotations"]:
        if not ann.get("iscrowd") and ann.get("num_keypoints", 0) >= min_keypoints:
            by_image.setdefault(ann["image_id"], []).append(ann)
    images = {im["id"]: im for im in data["images"]}

    def separated(anns: list[dict]) -> bool:
        boxes = [a["bbox"] for a in anns]
        return all(b1[0] + b1[2] < b2[0] or b2[0] + b2[2] < b1[0] or
                   b1[1] + b1[3] < b2[1] or b2[1] + b2[3] < b1[1]
                   for i, b1 in enumerate(boxes) for b2 in boxes[i + 1:])

    if file_name is not None:
        image_id = next(i for i, im in images.items() if im["file_name"] == file_name)
    else:
        candidates = sorted((i for i, anns in by_image.items() if separated(anns)),
                            key=lambda i: (-len(by_image[i]), images[i]["file_name"]))
        image_id = candidates[0]
    kps = np.array([np.reshape(a["keypoints"], (17, 3)) for a in by_image.get(image_id, [])],
                   np.float32).reshape(-1, 17, 3)
    return Scene(folder / images[image_id]["file_name"], kps)


class AnnotationNet(nn.Module):
    """TEST DOUBLE of a PAF network: ideal maps of annotated people, whatever the input pixels are.

    ``scenes`` maps an image size (h, w) to its people (N, K, 3) in image pixels (in ``skeleton``'s
    layout); ``input_size`` must be the estimator's (one scale).  ``calls`` counts forward passes.
    """

    input_format, stride = "rgb_imagenet", 8

    def __init__(self, scenes: dict[tuple[int, int], np.ndarray], input_size: int,
                 skeleton: Skeleton = COCO17) -> None:
        super().__init__()
        self.skeleton, self.input_size = skeleton, int(input_size)
        self.model_type = type(self).__name__  # what the node reports as its model
        self._maps: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor]] = {}
        for size, people in scenes.items():
            box = fit(size, self.input_size, self.stride)
            if box.padded_size in self._maps:
                raise ValueError(f"image size {size} letterboxes like another one: the double cannot tell them apart")
            self._maps[box.padded_size] = self._render(box.to_input(np.asarray(people, np.float32)), box.padded_size)
        self.calls = 0

    def _render(self, people_input: np.ndarray, padded: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        rows, cols = padded[0] // self.stride, padded[1] // self.stride
        k = self.skeleton.num_keypoints
        heat = render_heatmaps(people_input, (rows, cols), self.stride, num_keypoints=k)
        pafs = render_pafs(people_input, self.skeleton, (rows, cols), self.stride)
        return torch.from_numpy(pafs), torch.from_numpy(heat)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.calls += 1
        size = (int(x.shape[-2]), int(x.shape[-1]))
        if size not in self._maps:  # an image nobody registered: nobody in it
            self._maps[size] = self._render(np.zeros((0, self.skeleton.num_keypoints, 3), np.float32), size)
        pafs, heat = self._maps[size]
        n = x.shape[0]
        return pafs[None].expand(n, -1, -1, -1).to(x.device), heat[None].expand(n, -1, -1, -1).to(x.device)


class OomNet(AnnotationNet):
    """``AnnotationNet`` whose next ``fail`` forward passes raise ``torch.cuda.OutOfMemoryError``."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._lock = threading.Lock()
        self._fail = 0

    def fail_next(self, times: int = 1) -> None:
        with self._lock:
            self._fail += times

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with self._lock:
            fail = self._fail > 0
            self._fail -= int(fail)
        if fail:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (simulated by OomNet)")
        return super().forward(x)
