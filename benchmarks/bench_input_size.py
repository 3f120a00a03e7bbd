"""The shipped model's forward time per input size on CPU, fp32 and (optionally) INT8, 640x480 frames.

    source tools/env.sh && python benchmarks/bench_input_size.py [--weights default] [--threads 1] \\
        [--sizes 256 288 304 320 368] \\
        [--int8-calibration data/prepared/lspet/train.json --int8-images-root ../shared/data/training/lspet/images]

Times the weights' ONNX twin (``backend.onnx_twin``; ``python -m ros2_openpose.onnx_export`` makes one)
through the session ``backend.onnx_network`` builds for the node (the given intra-op threads, no
spinning) on a 640x480 frame letterboxed to each input height; median of ``--runs`` after a warm-up.
With ``--int8-calibration`` it also quantizes the twin with ONNX Runtime's static quantization (QDQ,
per-channel int8 weights, uint8 activations, MinMax over ``--int8-images`` photos of a COCO file's
images, resized to 640x480: give the training split, never the held-out one) into ``--int8-out``
and times it beside the fp32 file, size by size.  The INT8 file carries the twin's metadata, so
``python -m training.evaluate --weights model_int8.onnx`` scores it; the accuracy side of the table in
docs/model.md ("Speed") comes from that.  The INT8 path is an experiment: the package ships no INT8
model (docs/model.md says why).
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_decode import median_ms
from machine import describe
from ros2_openpose.assets import resolve_weights
from ros2_openpose.backend import onnx_network, onnx_twin
from ros2_openpose.onnx_export import OnnxNetwork
from ros2_openpose.tensor import fit, to_tensor

FRAME_HW = (480, 640)


def quantize(fp32: OnnxNetwork, calibration: Path, root: Path, images: int, out: Path) -> Path:
    """``fp32``'s file quantized to ``out`` (static, QDQ, MinMax), calibrated on ``images`` photos listed
    in the COCO file ``calibration`` (under ``root``)."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    info = fp32.info
    files = sorted(root / image["file_name"] for image in json.loads(calibration.read_text())["images"])
    if not files:
        raise SystemExit(f"bench_input_size: {calibration} lists no images")
    picked = random.Random(0).sample(files, min(images, len(files)))

    class Photos(CalibrationDataReader):
        def __init__(self) -> None:
            self.left = iter(picked)

        def get_next(self) -> dict | None:
            path = next(self.left, None)
            if path is None:
                return None
            bgr = cv2.imread(str(path))
            if bgr is None:
                raise SystemExit(f"bench_input_size: cannot read {path} (check --int8-images-root)")
            bgr = cv2.resize(bgr, FRAME_HW[::-1])
            tensor, _ = to_tensor(bgr, int(info.input_size or 368), info.stride, info.input_format)
            return {"image": tensor.numpy()}

    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(fp32.path), str(prepared))
        quantize_static(str(prepared), str(out), Photos(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    quantized, source = onnx.load(str(out)), onnx.load(str(fp32.path))
    del quantized.metadata_props[:]  # the package's metadata (skeleton, input size, card) travels along
    quantized.metadata_props.extend(source.metadata_props)
    onnx.save(quantized, str(out))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="default")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 288, 304, 320, 368])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--int8-calibration", type=Path, help="COCO file of training photos to calibrate INT8 on")
    parser.add_argument("--int8-images-root", type=Path, default=Path("."), help="where its file_names are")
    parser.add_argument("--int8-images", type=int, default=64)
    parser.add_argument("--int8-out", type=Path, default=Path("model_int8.onnx"))
    args = parser.parse_args()
    weights = resolve_weights(args.weights)
    twin = onnx_twin(weights)
    if twin is None:
        make = f"python -m ros2_openpose.onnx_export {args.weights} {Path(weights).with_suffix('.onnx')}"
        raise SystemExit(f"bench_input_size: {weights} has no ONNX twin; run: {make}")
    networks = {"fp32": onnx_network(twin, args.threads)}
    if args.int8_calibration is not None:
        int8 = quantize(networks["fp32"], args.int8_calibration, args.int8_images_root, args.int8_images,
                        args.int8_out)
        networks["int8"] = onnx_network(int8, args.threads)
    print(f"{Path(twin).name}, {FRAME_HW[1]}x{FRAME_HW[0]} frames, {args.threads} ONNX Runtime threads; {describe()}\n")
    print("| input height | network input | " + " | ".join(f"{k} forward ms" for k in networks) + " |")
    print("|---:|---|" + "---:|" * len(networks))
    stride = networks["fp32"].stride
    for size in args.sizes:
        h, w = fit(FRAME_HW, size, stride).padded_size
        x = np.random.default_rng(0).uniform(-1, 1, (1, 3, h, w)).astype(np.float32)
        feed = {"image": x}
        cells = [f"{median_ms(lambda n=network, f=feed: n.session.run(None, f), args.runs):.1f}"
                 for network in networks.values()]
        print(f"| {size} | {h}x{w} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
