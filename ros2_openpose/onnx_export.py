"""ONNX export of any of the package's networks, a parity check, and an ONNX-backed network.

The exported graph has one input ``image`` (N, 3, H, W) with batch, height and width dynamic, and two
outputs ``pafs`` and ``heatmaps`` at stride 8.  The file is self-contained: weights inside, and the
metadata (:data:`METADATA_KEYS`) carries what ``PoseEstimator`` needs to run it as it ran the checkpoint:
skeleton, input format, stride, model type, the input size the model was trained for and its model card.
:class:`OnnxNetwork` stands in for the PyTorch module inside PoseEstimator.

Only a model above protobuf's 2 GB limit (none of the package's: CMU's is 209 MB) is written with its
weights beside it in ``<file>.data``, which must then travel with the ``.onnx``.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .models import ModelInfo, WeightsError, network_info
from .skeletons import SKELETONS, get_skeleton

#: Max |PyTorch - ONNX Runtime| accepted on CPU in float32.  Both run the same float32 convolutions,
#: but in different orders and kernels; differences of 1e-5..1e-4 are typical on maps valued 0..1.
PARITY_TOLERANCE = 1e-3
#: Metadata written into every export; the json-valued ones hold ``null`` when the checkpoint has none.
METADATA_KEYS = ("model_type", "skeleton", "input_format", "stride", "input_size", "card", "model_kwargs")
_JSON_KEYS = ("input_size", "card", "model_kwargs")
#: Protobuf cannot serialise a message above 2 GiB; below this many weight bytes the file is one piece.
SINGLE_FILE_LIMIT = 2**31 - 64 * 2**20
EXTRA = "pip install 'ros2_openpose[onnx]'"


class MissingExtra(ImportError):
    """An optional dependency is not installed; the message names the extra that installs it."""


def require(purpose: str, *modules: str) -> None:
    """Raise MissingExtra (one line naming the extra) when any of ``modules`` is not installed."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingExtra(f"{purpose} needs {', '.join(missing)}, not installed: {EXTRA}")


def export_onnx(network: nn.Module, path: str | Path, input_size: int = 368, opset: int = 18,
                info: ModelInfo | None = None) -> Path:
    """Write ``network`` to ``path`` as one self-contained ONNX file with dynamic batch and spatial size.

    ``info`` is ``load_model``'s (default: ``network_info(network)``): its interface, ``input_size`` (the
    size the checkpoint was trained for), ``card`` and ``model_kwargs`` go into the metadata.  Height and
    width are exported as multiples of the network's stride (8): what ``tensor.py``'s letterbox always
    feeds it, and what lets the exporter prove the stride-8 grid arithmetic.
    """
    require("ONNX export", "onnx", "onnxscript")
    from torch.export import Dim

    info = info or network_info(network)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    network = network.eval().float().cpu()
    stride = info.stride
    dummy = torch.zeros(1, 3, input_size, input_size)
    cells = {"h": Dim("cells_h", min=1, max=1024), "w": Dim("cells_w", min=1, max=1024)}
    shapes = {"x": {0: Dim("batch", min=1, max=256), 2: stride * cells["h"], 3: stride * cells["w"]}}
    program = torch.onnx.export(network, (dummy,), None, input_names=["image"], output_names=["pafs", "heatmaps"],
                                opset_version=opset, dynamo=True, dynamic_shapes=shapes, verbose=False)
    if program is None:  # torch returns None only when it wrote a file itself (an f= path)
        raise RuntimeError("torch.onnx.export returned no program")
    meta = {key: getattr(info, key) for key in METADATA_KEYS}
    program.model.metadata_props.update(
        {k: json.dumps(v) if k in _JSON_KEYS else str(v) for k, v in meta.items()})
    weight_bytes = sum(p.numel() * p.element_size() for p in network.state_dict().values())
    external = weight_bytes > SINGLE_FILE_LIMIT
    data = path.with_name(path.name + ".data")
    data.unlink(missing_ok=True)  # a stale one from an earlier export would look like ours
    program.save(str(path), external_data=external)
    return path


class OnnxNetwork(nn.Module):
    """An ONNX Runtime session behind the network interface: ``forward(x) -> (pafs, heatmaps)``.

    The file is checked before it is used (``_check_onnx``): one that does not load, lacks this
    package's metadata, has another graph interface or holds non-finite weights is a WeightsError.
    ``info`` is the file's ModelInfo: the interface and what the export's metadata says beyond it
    (input_size, card, model_kwargs).  ``options``: ONNX Runtime SessionOptions (threads, spinning).
    """

    def __init__(self, path: str | Path, providers: list[str] | None = None, options: Any = None) -> None:
        super().__init__()
        require("running an .onnx model", "onnxruntime")
        import onnxruntime as ort

        self.path = Path(path)
        try:
            self.session = ort.InferenceSession(str(self.path), options,
                                                providers=providers or ["CPUExecutionProvider"])
        except Exception as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else ""
            raise WeightsError(f"{self.path}: not a readable ONNX model ({type(err).__name__}: {first})") from err
        meta = self.session.get_modelmeta().custom_metadata_map
        _check_onnx(self.path, self.session, meta)
        self.skeleton = get_skeleton(meta["skeleton"])
        self.input_format = meta.get("input_format", "rgb_imagenet")
        self.model_type = meta.get("model_type", "unknown")
        self.stride = int(meta.get("stride", 8))
        extra: dict[str, Any] = {}
        for key in _JSON_KEYS:  # files exported before these keys existed simply lack them
            try:
                extra[key] = json.loads(meta[key]) if key in meta else None
            except json.JSONDecodeError as err:
                raise ValueError(f"{self.path}: metadata {key!r} is not valid json ({err})") from None
        cuda = self.session.get_providers()[0] == "CUDAExecutionProvider"
        self.info = ModelInfo(model_type=self.model_type, skeleton=self.skeleton.name, input_format=self.input_format,
                              stride=self.stride, weights=str(self.path), source_format="onnx",
                              model_kwargs=extra["model_kwargs"] or {}, device="cuda" if cuda else "cpu",
                              input_size=extra["input_size"], card=extra["card"])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pafs, heatmaps = self.session.run(["pafs", "heatmaps"],
                                          {"image": x.detach().float().cpu().numpy()})
        return torch.from_numpy(pafs).to(x.device), torch.from_numpy(heatmaps).to(x.device)


def _check_onnx(path: Path, session: Any, meta: dict[str, str]) -> None:
    """WeightsError unless the session is an export of this package: metadata, interface, finite weights."""
    if "skeleton" not in meta:
        raise WeightsError(f"{path}: not exported by ros2_openpose (no skeleton metadata)")
    if meta["skeleton"] not in SKELETONS or meta.get("stride", "8") != "8":
        raise WeightsError(f"{path}: metadata skeleton={meta['skeleton']!r} stride={meta.get('stride')!r}; an export "
                           f"of this package has a known skeleton ({', '.join(SKELETONS)}) and stride 8")
    inputs = [(i.name, len(i.shape)) for i in session.get_inputs()]
    outputs = {o.name: len(o.shape) for o in session.get_outputs()}
    if inputs != [("image", 4)] or outputs.get("pafs") != 4 or outputs.get("heatmaps") != 4:
        raise WeightsError(f"{path}: graph has inputs {inputs} and outputs {sorted(outputs)}; an export of this "
                           "package has one input 'image' (N, 3, H, W) and outputs 'pafs' and 'heatmaps'")
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:  # ONNX Runtime alone (no onnx package): the weights cannot be read to check them
        return
    import numpy as np

    graph = onnx.load(str(path), load_external_data=False).graph
    bad = [t.name for t in graph.initializer
           if t.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE)
           and not np.isfinite(numpy_helper.to_array(t)).all()]
    if bad:
        raise WeightsError(f"{path}: {len(bad)} weight tensors hold NaN or infinite values: {', '.join(bad[:5])}")


def parity(network: nn.Module, path: str | Path, inputs: torch.Tensor) -> float:
    """Max absolute difference between PyTorch and ONNX Runtime outputs on ``inputs``."""
    with torch.inference_mode():
        ref = network.eval().float().cpu()(inputs)
        got = OnnxNetwork(path)(inputs)
    return max(float((r - g).abs().max()) for r, g in zip(ref, got, strict=True))


def main(argv: list[str] | None = None) -> int:
    from .assets import resolve_weights
    from .models import load_model

    parser = argparse.ArgumentParser(prog="python -m ros2_openpose.onnx_export",
                                     description="Export a checkpoint to one self-contained .onnx file and "
                                                 "check parity with PyTorch.")
    parser.add_argument("weights", help='checkpoint or weights file, a run folder, or "default"/"demo" '
                                        "(shipped models)")
    parser.add_argument("output", help="path of the .onnx file to write")
    parser.add_argument("--input-size", type=int, default=None,
                        help="default input height the .onnx carries (default: the checkpoint's, else 368)")
    parser.add_argument("--opset", type=int, default=18)
    args = parser.parse_args(argv)
    try:
        require("ONNX export", "onnx", "onnxscript", "onnxruntime")
        weights = resolve_weights(args.weights)
        if weights is None:
            raise FileNotFoundError("no weights given")
        network, info = load_model(weights)
        if args.input_size:
            info = dataclasses.replace(info, input_size=args.input_size)
        size = int(info.input_size or 368)
        path = export_onnx(network, args.output, size, args.opset, info)
    except (MissingExtra, FileNotFoundError, WeightsError) as err:
        print(f"onnx_export: error: {err}", file=sys.stderr)
        return 2
    # Check on a size other than the export size: proves the spatial axes really are dynamic.
    probe = torch.rand(2, 3, size, size + 64)
    diff = parity(network, path, probe)
    print(json.dumps({"onnx": str(path), "input_size": size, "max_abs_diff": diff, "tolerance": PARITY_TOLERANCE}))
    return 0 if diff <= PARITY_TOLERANCE else 1


if __name__ == "__main__":
    raise SystemExit(main())
