"""The three peer decoders, run from their public sources in a folder OUTSIDE this repository.

    --peers DIR   with DIR/pytorch-openpose (Hzzone), DIR/lightweight-human-pose-estimation.pytorch
                  (Daniil-Osokin) and DIR/trt_pose (NVIDIA-AI-IOT), each a checkout of its repository;
                  trt_pose's C++ parse built as a torch extension into DIR/build (plugins*.so).

No peer code is copied here: each adapter imports the peer's own module and feeds it maps.  All take
coco18 maps (OpenPose's COCO body layout and PAF channel order, which ``COCO18`` follows) on the
network input's grid and return ``(keypoints (18, 3) in image pixels, score)`` per person.

* **Hzzone pytorch-openpose** ``Body.__call__``: its network call is replaced by one returning our maps
  (a test double at the network boundary); the rest of ``__call__`` runs as published (cubic
  upsampling x8 to image size, Gaussian-smoothed NMS, 10-sample line integral, greedy assembly).  Its
  input scale is a literal (``scale_search = [0.5]``: 184 px high); for the 368 and native rows the
  literal is replaced in memory by the scale the row needs, nothing else changed.  ``matplotlib``
  (imported by its drawing helpers, never called here) is stubbed when not installed.  Person score:
  its subset total score (the sum of its part and limb scores).
* **lightweight-human-pose-estimation** ``extract_keypoints`` + ``group_keypoints`` as its ``demo.py``
  calls them: maps upsampled x4 (cubic), keypoints mapped back as ``x * stride / 4 / scale``.  Person
  score: its pose entry score, as its ``val.py`` writes COCO results.
* **trt_pose** ``ParseObjects`` (find_peaks, refine_peaks, paf_score_graph, assignment,
  connect_parts) with the same 19 limbs as a topology; its defaults (window 5, 7 samples, 100 parts,
  100 objects).  Peaks come back normalised to the map; mapped to input pixels as ``v * size - 0.5``.
  It outputs no person score: the sum of its parts' heatmap values is used (as Hzzone's total does).
"""
from __future__ import annotations

import glob
import importlib
import importlib.util
import inspect
import sys
import textwrap
import types
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ros2_openpose.skeletons import COCO18
from ros2_openpose.tensor import Letterbox

#: (keypoints (18, 3) image pixels, score) per person.
PeerPeople = list[tuple[np.ndarray, float]]
#: decode(heatmaps (19, h, w), pafs (38, h, w) on the padded input grid, letterbox) -> people.
PeerDecoder = Callable[[np.ndarray, np.ndarray, Letterbox], PeerPeople]

HZZONE = "pytorch-openpose"
LIGHTWEIGHT = "lightweight-human-pose-estimation.pytorch"
TRT_POSE = "trt_pose"


def load_peers(folder: Path | None) -> tuple[dict[str, PeerDecoder], dict[str, str]]:
    """``(decoders by name, reasons by name for the peers that could not be loaded)``."""
    loaders = {"Hzzone": _hzzone, "lightweight": _lightweight, "trt_pose": _trt_pose}
    found, missing = {}, {}
    for name, loader in loaders.items():
        if folder is None:
            missing[name] = "no --peers folder given"
            continue
        try:
            found[name] = loader(Path(folder))
        except Exception as exc:  # a peer that cannot load is reported, not fatal
            missing[name] = f"{type(exc).__name__}: {exc}"
    return found, missing


def _import_from(root: Path, module: str):
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not there")
    sys.path.insert(0, str(root))
    try:
        return importlib.import_module(module)
    finally:
        sys.path.remove(str(root))


# ------------------------------------------------------------------------------------ Hzzone

def _hzzone(folder: Path) -> PeerDecoder:
    if importlib.util.find_spec("matplotlib") is None:  # only its drawing helpers use it
        for name in ("matplotlib", "matplotlib.pyplot", "matplotlib.figure", "matplotlib.backends",
                     "matplotlib.backends.backend_agg"):
            stub = sys.modules.setdefault(name, types.ModuleType(name))
            stub.FigureCanvasAgg = stub.Figure = object
    body = _import_from(folder / HZZONE, "src.body")
    source = textwrap.dedent(inspect.getsource(body.Body.__call__))
    if "scale_search = [0.5]" not in source:
        raise RuntimeError("Body.__call__ no longer has the 'scale_search = [0.5]' line this adapter sets")
    namespace = dict(vars(body))
    exec(compile(source.replace("scale_search = [0.5]", "scale_search = [self.scale_search]"),
                 inspect.getsourcefile(body.Body), "exec"), namespace)
    call = namespace["__call__"]

    class Network:
        """Stands in for the network: returns the benchmark's maps for the padded input it is given."""

        def __init__(self, pafs: np.ndarray, heatmaps: np.ndarray) -> None:
            self.maps = torch.from_numpy(pafs)[None], torch.from_numpy(heatmaps)[None]

        def __call__(self, data: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            h, w = data.shape[-2] // 8, data.shape[-1] // 8
            if self.maps[0].shape[-2:] != (h, w):
                raise RuntimeError(f"Hzzone padded to {h}x{w} cells, the maps are {tuple(self.maps[0].shape[-2:])}")
            return self.maps

    def decode(heatmaps: np.ndarray, pafs: np.ndarray, box: Letterbox) -> PeerPeople:
        peer = object.__new__(body.Body)
        peer.model = Network(pafs, heatmaps)
        # multiplier = scale_search * 368 / image height must equal the letterbox's scale.
        peer.scale_search = box.scale_y * box.image_size[0] / 368.0
        image = np.zeros((*box.image_size, 3), np.uint8)
        candidate, subset = call(peer, image)
        people = []
        for row in subset:
            kps = np.zeros((18, 3), np.float32)
            for k in range(18):
                if row[k] >= 0:
                    kps[k] = candidate[int(row[k]), :3]
            people.append((kps, float(row[-2])))
        return people

    return decode


# ------------------------------------------------------------------------------------ lightweight

def _lightweight(folder: Path) -> PeerDecoder:
    import cv2

    keypoints = _import_from(folder / LIGHTWEIGHT, "modules.keypoints")
    upsample, stride = 4, 8

    def decode(heatmaps: np.ndarray, pafs: np.ndarray, box: Letterbox) -> PeerPeople:
        # demo.py's infer_fast: (h, w, C) maps upsampled x4 with bicubic interpolation.
        heat = cv2.resize(np.ascontiguousarray(heatmaps.transpose(1, 2, 0)), (0, 0), fx=upsample, fy=upsample,
                          interpolation=cv2.INTER_CUBIC)
        field = cv2.resize(np.ascontiguousarray(pafs.transpose(1, 2, 0)), (0, 0), fx=upsample, fy=upsample,
                           interpolation=cv2.INTER_CUBIC)
        by_type: list = []
        total = 0
        for k in range(18):
            total += keypoints.extract_keypoints(heat[:, :, k], by_type, total)
        entries, found = keypoints.group_keypoints(by_type, field)
        people = []
        for entry in entries:
            kps = np.zeros((18, 3), np.float32)
            for k in range(18):
                if entry[k] != -1:
                    x, y, score = found[int(entry[k]), :3]
                    kps[k] = (x * stride / upsample / box.scale_x, y * stride / upsample / box.scale_y, score)
            people.append((kps, float(entry[18])))
        return people

    return decode


# ------------------------------------------------------------------------------------ trt_pose

def _trt_pose(folder: Path) -> PeerDecoder:
    built = sorted(glob.glob(str(folder / "build" / "plugins*.so")))
    if not built:
        raise FileNotFoundError(f"no built trt_pose parse (plugins*.so) in {folder / 'build'}")
    package = _import_from(folder / TRT_POSE, "trt_pose")
    spec = importlib.util.spec_from_file_location("trt_pose.plugins", built[0])
    plugins = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plugins)
    package.plugins = sys.modules["trt_pose.plugins"] = plugins  # the extension its setup.py would build
    parse_objects = _import_from(folder / TRT_POSE, "trt_pose.parse_objects")
    # trt_pose's topology rows: (PAF channel of the i = y component, of the j = x component, part a, part b).
    topology = torch.tensor([(cy, cx, a, b)
                             for (a, b), (cx, cy) in zip(COCO18.limbs, COCO18.paf_channels, strict=True)],
                            dtype=torch.int32)
    parse = parse_objects.ParseObjects(topology)

    def decode(heatmaps: np.ndarray, pafs: np.ndarray, box: Letterbox) -> PeerPeople:
        cmap = torch.from_numpy(np.ascontiguousarray(heatmaps[None, :18]))
        counts, objects, peaks = parse(cmap, torch.from_numpy(np.ascontiguousarray(pafs[None])))
        h, w = box.padded_size
        people = []
        for obj in objects[0, :int(counts[0])]:
            kps = np.zeros((18, 3), np.float32)
            for k in range(18):
                j = int(obj[k])
                y, x = (float(v) for v in peaks[0, k, max(j, 0)])
                if j >= 0 and np.isfinite(x) and np.isfinite(y):
                    kps[k, :2] = box.to_image([x * w - 0.5, y * h - 0.5])
                    kps[k, 2] = float(_cell(heatmaps[k], y, x))
            if (kps[:, 2] > 0).any():
                people.append((kps, float(kps[:, 2].sum())))
        return people

    return decode


def _cell(heatmap: np.ndarray, y: float, x: float) -> float:
    """The heatmap value of the cell a normalised (y, x) position falls in."""
    h, w = heatmap.shape
    if not (np.isfinite(y) and np.isfinite(x)):  # its centroid refinement divides by a sum that can be 0
        return 0.0
    return heatmap[int(np.clip(y * h, 0, h - 1)), int(np.clip(x * w, 0, w - 1))]
