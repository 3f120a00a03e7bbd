"""ONNX export of any of the package's networks, a parity check, and an ONNX-backed network.

The exported graph has one input ``image`` (N, 3, H, W) with batch, height and width dynamic, and two
outputs ``pafs`` and ``heatmaps`` at stride 8.  The skeleton, input format and model type travel in the
file's metadata, so :class:`OnnxNetwork` can stand in for the PyTorch module inside PoseEstimator.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from torch import nn

from .models import WeightsError
from .skeletons import SKELETONS, get_skeleton

#: Max |PyTorch - ONNX Runtime| accepted on CPU in float32.  Both run the same float32 convolutions,
#: but in different orders and kernels; differences of 1e-5..1e-4 are typical on maps valued 0..1.
PARITY_TOLERANCE = 1e-3


def export_onnx(network: nn.Module, path: str | Path, input_size: int = 368, opset: int = 18) -> Path:
    """Write ``network`` to ``path`` as ONNX with dynamic batch and spatial size.

    Height and width are exported as multiples of the network's stride (8): what ``tensor.py``'s
    letterbox always feeds it, and what lets the exporter prove the stride-8 grid arithmetic.
    """
    from torch.export import Dim

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    network = network.eval().float().cpu()
    stride = int(getattr(network, "stride", 8))
    dummy = torch.zeros(1, 3, input_size, input_size)
    cells = {"h": Dim("cells_h", min=1, max=1024), "w": Dim("cells_w", min=1, max=1024)}
    shapes = {"x": {0: Dim("batch", min=1, max=256), 2: stride * cells["h"], 3: stride * cells["w"]}}
    torch.onnx.export(network, (dummy,), str(path), input_names=["image"], output_names=["pafs", "heatmaps"],
                      opset_version=opset, dynamo=True, dynamic_shapes=shapes, verbose=False)
    _write_metadata(path, {
        "model_type": getattr(network, "model_type", "unknown"),
        "skeleton": network.skeleton.name,
        "input_format": getattr(network, "input_format", "rgb_imagenet"),
        "stride": str(stride),
    })
    return path


def _write_metadata(path: Path, meta: dict[str, str]) -> None:
    import onnx

    model = onnx.load(str(path))
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, str(value)
    onnx.save(model, str(path))


class OnnxNetwork(nn.Module):
    """An ONNX Runtime session behind the network interface: ``forward(x) -> (pafs, heatmaps)``.

    The file is checked before it is used (``_check_onnx``): one that does not load, lacks this
    package's metadata, has another graph interface or holds non-finite weights is a WeightsError.
    """

    def __init__(self, path: str | Path, providers: list[str] | None = None) -> None:
        super().__init__()
        import onnxruntime as ort

        self.path = Path(path)
        try:
            self.session = ort.InferenceSession(str(self.path), providers=providers or ["CPUExecutionProvider"])
        except Exception as err:  # noqa: BLE001 - ONNX Runtime raises its own types for unreadable files
            first = str(err).strip().splitlines()[0] if str(err).strip() else ""
            raise WeightsError(f"{self.path}: not a readable ONNX model ({type(err).__name__}: {first})") from err
        meta = self.session.get_modelmeta().custom_metadata_map
        _check_onnx(self.path, self.session, meta)
        self.skeleton = get_skeleton(meta["skeleton"])
        self.input_format = meta.get("input_format", "rgb_imagenet")
        self.model_type = meta.get("model_type", "unknown")
        self.stride = int(meta.get("stride", 8))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pafs, heatmaps = self.session.run(["pafs", "heatmaps"],
                                          {"image": x.detach().float().cpu().numpy()})
        return torch.from_numpy(pafs).to(x.device), torch.from_numpy(heatmaps).to(x.device)


def _check_onnx(path: Path, session: object, meta: dict[str, str]) -> None:
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
    return max(float((r - g).abs().max()) for r, g in zip(ref, got))


def main(argv: list[str] | None = None) -> int:
    from .assets import resolve_weights
    from .models import load_model

    parser = argparse.ArgumentParser(prog="python -m ros2_openpose.onnx_export",
                                     description="Export a checkpoint to ONNX and check parity.")
    parser.add_argument("weights", help='checkpoint or weights file ("demo" = shipped demo model)')
    parser.add_argument("output", help="path of the .onnx file to write")
    parser.add_argument("--input-size", type=int, default=368)
    parser.add_argument("--opset", type=int, default=18)
    args = parser.parse_args(argv)
    network, _ = load_model(resolve_weights(args.weights))
    path = export_onnx(network, args.output, args.input_size, args.opset)
    # Check on a size other than the export size: proves the spatial axes really are dynamic.
    probe = torch.rand(2, 3, args.input_size, args.input_size + 64)
    diff = parity(network, path, probe)
    print(json.dumps({"onnx": str(path), "max_abs_diff": diff, "tolerance": PARITY_TOLERANCE}))
    return 0 if diff <= PARITY_TOLERANCE else 1


if __name__ == "__main__":
    raise SystemExit(main())

