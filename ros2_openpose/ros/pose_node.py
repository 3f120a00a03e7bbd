"""pose_node: sensor_msgs/Image (or CompressedImage) in, people out (see docs/ros.md).

Latency over throughput: the subscription callback only puts the message into a one-slot buffer
(overwriting an unprocessed frame counts as a "superseded" drop) and a worker thread runs inference
on the newest frame, so a slow model never builds a backlog.  The node converts and publishes; all
the math is in ``PoseEstimator``.  Bad input (odd encodings, corrupt bytes, empty or huge frames, GPU
out of memory) is logged, throttled, counted by reason on /diagnostics, and never stops the node.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

import rclpy
import torch
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import SetParametersResult
from rclpy.exceptions import ParameterException
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.time import Time

try:
    from rclpy.event_handler import SubscriptionEventCallbacks, UnsupportedEventTypeError
except ImportError:  # Humble
    from rclpy.qos_event import SubscriptionEventCallbacks, UnsupportedEventTypeError
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header
from visualization_msgs.msg import MarkerArray

from ros2_openpose.assets import resolve_weights
from ros2_openpose.config import DecodeConfig
from ros2_openpose.draw import draw_people
from ros2_openpose.estimator import PoseEstimator
from ros2_openpose.models import WeightsError
from ros2_openpose.msg import PersonArray, SkeletonInfo

from . import message
from .image_io import (CorruptImage, EmptyImage, UnsupportedEncoding, from_compressed_msg, from_image_msg,
                       to_image_msg)
from .params import DECODE_PARAMS, check_choice, declare_all
from .spin import spin_node

NO_WEIGHTS = ("no weights configured: set the 'weights' parameter (a checkpoint, CMU body_pose_model.pth, "
              ".onnx, or 'demo' for the shipped synthetic-only demo model)")
#: Drop reasons; the first three are load shedding ("lost": DDS reported the frame lost in transport,
#: best effort), the rest bad input or failures (WARN on diagnostics).
DROP_REASONS = ("superseded", "too_old", "lost", "bad_encoding", "corrupt", "empty", "too_large", "out_of_memory",
                "error")
BAD_INPUT = DROP_REASONS[3:]
WARN_WINDOW_S = 10.0  # diagnostics stay WARN this long after a bad-input drop


class StartupError(RuntimeError):
    """The node cannot serve (no / missing / incompatible weights, bad settings): main exits 2."""


class _Drop(Exception):
    def __init__(self, reason: str, text: str) -> None:
        super().__init__(text)
        self.reason = reason


def _is_oom(err: BaseException) -> bool:
    return isinstance(err, torch.cuda.OutOfMemoryError) or (
        isinstance(err, RuntimeError) and "out of memory" in str(err).lower())


def decode_config(values: dict[str, Any], base: DecodeConfig = DecodeConfig()) -> DecodeConfig:
    """``base`` with the node's decode parameters applied (ValueError with a reason when out of range)."""
    return base.updated(**{k: values[k] for k in DECODE_PARAMS if k in values})


def build_estimator(values: dict[str, Any]) -> PoseEstimator:
    """The estimator the parameters describe; StartupError with a clear message when it cannot be built."""
    try:
        weights = resolve_weights(values["weights"])
    except FileNotFoundError as err:
        raise StartupError(str(err)) from err
    if weights is None:
        raise StartupError(NO_WEIGHTS)
    try:
        return PoseEstimator(weights=weights, device=values["device"], fp16=values["fp16"],
                             input_size=values["input_size"] or None, scales=values["scales"],
                             config=decode_config(values))
    except WeightsError as err:
        raise StartupError(f"incompatible weights {weights}: {err}") from err
    except (ValueError, RuntimeError) as err:
        raise StartupError(f"cannot load {weights}: {err}") from err


def check_model(estimator: PoseEstimator, values: dict[str, Any]) -> None:
    """StartupError when the network is not the ``model_type`` / ``skeleton`` the parameters ask for.

    A robot's consumers index keypoints by the published layout: a weights file swapped for one of
    another type or layout must stop the node at start, not change the meaning of its output.
    """
    found = {"model_type": str(estimator.info.get("model_type")), "skeleton": estimator.skeleton.name}
    for name, actual in found.items():
        wanted = values.get(name, "auto")
        if wanted != "auto" and wanted != actual:
            source = estimator.info.get("weights") or "the network"
            raise StartupError(f"{name}={wanted!r} but {source} is {actual!r} (set {name}: auto to accept it)")


class PoseNode(Node):
    """The pose estimation node.  ``estimator`` injects a ready PoseEstimator (tests, benchmarks);
    without it one is built from the parameters.  Other keyword arguments go to ``rclpy.node.Node``."""

    def __init__(self, estimator: PoseEstimator | None = None, node_name: str = "pose_node", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        try:
            self._setup(estimator)
        except BaseException:
            # rclpy's context would destroy the half-built node at shutdown: do it now, cleanly.
            Node.destroy_node(self)
            raise

    def _setup(self, estimator: PoseEstimator | None) -> None:
        self.values = declare_all(self)
        for name in ("input_transport", "qos_reliability", "model_type", "skeleton"):
            reason = check_choice(name, self.values[name])
            if reason:
                raise StartupError(reason)
        if estimator is None:
            estimator = build_estimator(self.values)
        else:
            try:  # the injected estimator still follows the node's decode parameters
                estimator.config = decode_config(self.values, estimator.config)
            except ValueError as err:
                raise StartupError(str(err)) from err
        check_model(estimator, self.values)
        self.estimator = estimator
        self.skeleton = estimator.skeleton
        self.add_on_set_parameters_callback(self._on_set_parameters)

        warm_s = estimator.warmup()
        self.get_logger().info(f"model {message.model_description(estimator.info)}; warm-up {warm_s * 1000:.0f} ms")

        # Counters and timings (written by the worker, read by diagnostics and tests).
        self._lock = threading.Lock()
        self.drops: dict[str, int] = {r: 0 for r in DROP_REASONS}
        self.processed = 0
        self.last_people = 0
        self.last_latency_s = float("nan")
        self.last_inference_s = float("nan")
        self._done_times: deque[float] = deque(maxlen=30)
        self._last_bad_input = -float("inf")

        # Outputs.  Reliable publishers match both reliable and best-effort subscribers.
        out_qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.pub_poses = self.create_publisher(PersonArray, "poses", out_qos)
        self.pub_annotated = self.create_publisher(Image, "poses/annotated", QoSProfile(depth=2))
        self.pub_markers = self.create_publisher(MarkerArray, "poses/markers", QoSProfile(depth=2))
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.pub_skeleton = self.create_publisher(SkeletonInfo, "poses/skeleton", latched)
        self.pub_skeleton.publish(message.skeleton_info(self.skeleton, estimator.info))
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(1.0, self.publish_diagnostics)

        # The worker runs before the subscription exists, so no frame waits for it.
        self._slot: Image | CompressedImage | None = None
        self._wake = threading.Condition()
        self._stop = False
        self._worker = threading.Thread(target=self._work, name="pose_node_worker", daemon=True)
        self._worker.start()

        in_qos = QoSProfile(
            depth=self.values["qos_depth"], history=HistoryPolicy.KEEP_LAST,
            reliability=(ReliabilityPolicy.RELIABLE if self.values["qos_reliability"] == "reliable"
                         else ReliabilityPolicy.BEST_EFFORT),
            durability=DurabilityPolicy.VOLATILE)
        compressed = self.values["input_transport"] == "compressed"
        topic = "image/compressed" if compressed else "image"
        msg_type = CompressedImage if compressed else Image
        try:
            self.create_subscription(msg_type, topic, self._on_image, in_qos,
                                     event_callbacks=SubscriptionEventCallbacks(message_lost=self._on_lost))
        except UnsupportedEventTypeError:  # an RMW without the event: serve without counting losses
            self.create_subscription(msg_type, topic, self._on_image, in_qos)
        self.get_logger().info(f"serving {self.resolve_topic_name(topic)} -> {self.resolve_topic_name('poses')}")

    # ------------------------------------------------------------------ parameters

    def _on_set_parameters(self, params: list) -> SetParametersResult:
        """Validate live changes together (a bad one refuses the whole set) and apply the decode ones."""
        changes = {p.name: p.value for p in params}
        decode = {k: v for k, v in changes.items() if k in DECODE_PARAMS}
        try:
            config = self.estimator.config.updated(**decode) if decode else None
        except (ValueError, TypeError) as err:
            return SetParametersResult(successful=False, reason=str(err))
        if config is not None:
            self.estimator.config = config  # one attribute store: a frame in flight keeps its config
        self.values.update(changes)
        return SetParametersResult(successful=True)

    # ------------------------------------------------------------------ input

    def _on_image(self, msg: Image | CompressedImage) -> None:
        with self._wake:
            if self._slot is not None:
                self._count("superseded")
            self._slot = msg
            self._wake.notify()

    def _work(self) -> None:
        while True:
            with self._wake:
                while self._slot is None and not self._stop:
                    self._wake.wait()
                if self._stop:
                    return
                msg, self._slot = self._slot, None
            try:
                self.process(msg)
            except Exception as err:  # noqa: BLE001 - the worker must outlive anything a frame does
                self._drop("error", f"frame failed: {type(err).__name__}: {err}")

    def _on_lost(self, info: Any) -> None:
        """DDS lost frames before delivering them: best-effort large images over Fast DDS do (docs/ros.md)."""
        lost = int(info.total_count_change)
        if lost <= 0:
            return
        self._count("lost", lost)
        hint = (" (best-effort delivery of large images loses frames; if the camera publishes reliable, "
                "set qos_reliability: reliable)" if self.values["qos_reliability"] == "best_effort" else "")
        self.get_logger().warning(f"{lost} frame(s) lost in transport, {self.drops['lost']} so far{hint}",
                                  throttle_duration_sec=10.0)

    def _count(self, reason: str, n: int = 1) -> None:
        with self._lock:
            self.drops[reason] += n
            if reason in BAD_INPUT:
                self._last_bad_input = time.monotonic()

    def _drop(self, reason: str, text: str) -> None:
        self._count(reason)
        self.get_logger().warning(f"dropped a frame ({reason}): {text}", throttle_duration_sec=5.0)

    def _decode(self, msg: Image | CompressedImage):
        max_pixels = int(self.values["max_pixels"])
        if isinstance(msg, Image):
            if msg.width * msg.height == 0:
                raise _Drop("empty", f"image is {msg.width}x{msg.height}")
            if msg.width * msg.height > max_pixels:
                raise _Drop("too_large", f"image is {msg.width}x{msg.height}, more than max_pixels={max_pixels}")
        try:
            bgr = from_image_msg(msg) if isinstance(msg, Image) else from_compressed_msg(msg)
        except UnsupportedEncoding as err:
            raise _Drop("bad_encoding", str(err)) from err
        except EmptyImage as err:
            raise _Drop("empty", str(err)) from err
        except (CorruptImage, ValueError) as err:
            raise _Drop("corrupt", str(err)) from err
        if bgr.shape[0] * bgr.shape[1] > max_pixels:  # compressed: known only after decoding
            raise _Drop("too_large", f"image is {bgr.shape[1]}x{bgr.shape[0]}, more than max_pixels={max_pixels}")
        return bgr

    # ------------------------------------------------------------------ one frame

    def process(self, msg: Image | CompressedImage) -> bool:
        """Estimate and publish one frame; False when it was dropped (counted by reason)."""
        max_age = float(self.values["max_age"])
        stamp = Time.from_msg(msg.header.stamp)
        if max_age > 0 and stamp.nanoseconds > 0:  # an unstamped (zero) frame has no age
            age = (self.get_clock().now() - stamp).nanoseconds / 1e9
            if age > max_age:
                self._count("too_old")
                self.get_logger().info(f"dropped a frame {age:.2f} s old (max_age {max_age} s)",
                                       throttle_duration_sec=5.0)
                return False
        try:
            bgr = self._decode(msg)
            start = time.perf_counter()
            people = self.estimator.estimate(bgr)
            inference_s = time.perf_counter() - start
        except _Drop as drop:
            self._drop(drop.reason, str(drop))
            return False
        except Exception as err:  # noqa: BLE001 - includes torch.cuda.OutOfMemoryError
            if not _is_oom(err):
                raise
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            self._drop("out_of_memory", f"{err} (frame {bgr.shape[1]}x{bgr.shape[0]})")
            return False

        h, w = bgr.shape[:2]
        self.pub_poses.publish(message.person_array(people, msg.header, self.skeleton, w, h))
        if self.values["publish_annotated"] and self.pub_annotated.get_subscription_count() > 0:
            annotated = draw_people(bgr, people, self.skeleton)
            self.pub_annotated.publish(to_image_msg(annotated, msg.header.stamp, msg.header.frame_id))
        if self.pub_markers.get_subscription_count() > 0:
            self.pub_markers.publish(message.markers(people, msg.header, self.skeleton,
                                                     float(self.values["marker_scale"])))
        now = self.get_clock().now()
        with self._lock:
            self.processed += 1
            self.last_people = len(people)
            self.last_inference_s = inference_s
            self.last_latency_s = (now - stamp).nanoseconds / 1e9 if stamp.nanoseconds > 0 else float("nan")
            self._done_times.append(time.monotonic())
        return True

    # ------------------------------------------------------------------ diagnostics

    def stats(self) -> dict[str, Any]:
        """Counters and rates (what /diagnostics carries)."""
        with self._lock:
            times = list(self._done_times)
            fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0
            if times and time.monotonic() - times[-1] > 2.0:
                fps = 0.0  # nothing processed lately
            return {"fps": fps, "latency_ms": self.last_latency_s * 1000, "inference_ms": self.last_inference_s * 1000,
                    "frames_processed": self.processed, "people_last_frame": self.last_people,
                    "dropped": dict(self.drops),
                    "bad_input_recently": time.monotonic() - self._last_bad_input < WARN_WINDOW_S}

    def publish_diagnostics(self) -> None:
        s = self.stats()
        info = self.estimator.info
        status = DiagnosticStatus(name=f"{self.get_name()}: pose estimation",
                                  hardware_id=str(info.get("device", "")))
        if s["bad_input_recently"]:
            status.level, status.message = DiagnosticStatus.WARN, "dropping bad input frames"
        elif s["frames_processed"] == 0:
            status.level, status.message = DiagnosticStatus.OK, "waiting for images"
        else:
            status.level, status.message = DiagnosticStatus.OK, "ok"
        values = {"fps": f"{s['fps']:.2f}", "latency_ms": f"{s['latency_ms']:.1f}",
                  "inference_ms": f"{s['inference_ms']:.1f}", "frames_processed": str(s["frames_processed"]),
                  "people_last_frame": str(s["people_last_frame"]),
                  "device": str(info.get("device", "")), "model": message.model_description(info)}
        values.update({f"dropped_{r}": str(n) for r, n in s["dropped"].items()})
        values["dropped_total"] = str(sum(s["dropped"].values()))
        status.values = [KeyValue(key=k, value=v) for k, v in values.items()]
        self.pub_diag.publish(DiagnosticArray(header=self._header_now(), status=[status]))

    def _header_now(self) -> Header:
        return Header(stamp=self.get_clock().now().to_msg())

    def destroy_node(self) -> None:
        worker = getattr(self, "_worker", None)
        if worker is not None:
            with self._wake:
                self._stop = True
                self._wake.notify()
            if worker.is_alive() and worker is not threading.current_thread():
                worker.join(timeout=10.0)
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args)
    try:
        node = PoseNode()
    except (StartupError, ParameterException) as err:
        # One FATAL line (stderr and the ROS log file), no traceback: the cause is configuration.
        bad = "bad parameter: " if isinstance(err, ParameterException) else ""  # wrong type / out of range
        rclpy.logging.get_logger("pose_node").fatal(f"cannot start: {bad}{err}")
        rclpy.try_shutdown()
        return 2
    spin_node(node)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
