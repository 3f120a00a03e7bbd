"""PoseNode: camera images in, people out, as a managed (lifecycle) node.  docs/ros.md has the interface.

States as in ROS 2 managed nodes: *unconfigured* (parameters declared, diagnostics on), **configure**
(load and warm the model, create the outputs, latch the skeleton), **activate** (subscribe and serve),
**deactivate** (unsubscribe, finish the frame in flight, free cached GPU memory), **cleanup** (release
the model and outputs), **shutdown**.  Unless the ``managed`` parameter is true the node configures and
activates itself while it is constructed, which is what ``ros2 run`` has always done.

The node converts and publishes.  The math is in ``PoseEstimator``; where each frame went in
``accounting``; the subscriptions and their QoS in ``subscription``; the hand-off to the worker thread
in ``frames``; start-up checks in ``startup``; /diagnostics in ``diagnostics``.
"""
from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import torch
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.exceptions import InvalidTopicNameException, ParameterException
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rclpy.time import Time
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header
from visualization_msgs.msg import MarkerArray

from ros2_openpose.assets import SYNTHETIC_WARNING, describe_model, is_synthetic_only
from ros2_openpose.config import DecodeConfig
from ros2_openpose.device import set_cpu_threads
from ros2_openpose.draw import draw_people
from ros2_openpose.estimator import PoseEstimator
from ros2_openpose.msg import PersonArray, SkeletonInfo
from ros2_openpose.people import Person
from ros2_openpose.skeletons import Skeleton

from . import diagnostics, message
from .accounting import FrameLedger
from .frames import Frame, LatestFrames
from .image_io import EmptyImage, UnsupportedEncoding, from_compressed_msg, from_image_msg, image_size, to_image_msg
from .params import DECODE_PARAMS, declare_all, declare_decode
from .startup import StartupError, build_estimator, check_model, check_values, decode_config
from .subscription import ImageInput

SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE
CLOCK_WARN_S = 10.0  # stamps further than this from the node's clock come from another clock domain


class _Drop(Exception):
    def __init__(self, reason: str, text: str) -> None:
        super().__init__(text)
        self.reason = reason


def _reason(err: ValueError) -> str:
    """The drop reason of an image_io error."""
    return ("bad_encoding" if isinstance(err, UnsupportedEncoding) else "empty" if isinstance(err, EmptyImage)
            else "corrupt")


def _is_oom(err: BaseException) -> bool:
    return isinstance(err, torch.cuda.OutOfMemoryError) or (
        isinstance(err, RuntimeError) and "out of memory" in str(err).lower())


class PoseNode(LifecycleNode):
    """The pose estimation node.  ``estimator`` injects a ready PoseEstimator (tests, benchmarks);
    without it one is built from the parameters at configure.  Other keyword arguments go to
    ``rclpy.node.Node``.  Unmanaged, a failed start raises StartupError from the constructor."""

    def __init__(self, estimator: PoseEstimator | None = None, node_name: str = "pose_node", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self._injected = estimator
        self.estimator: PoseEstimator | None = None
        self.state = "unconfigured"
        self.ledger = FrameLedger()
        self.times = diagnostics.ServeTimes()
        self._window = diagnostics.LossWindow()
        self._inputs: list[ImageInput] = []
        self._frames: LatestFrames | None = None
        self._worker: threading.Thread | None = None
        self.outputs: dict[str, Any] = {}
        self._failure: StartupError | None = None
        self._stamp_warned: set[int] = set()
        self._topics: list[str] = []  # resolved input topics, one per camera (set at configure)
        try:
            self.values = declare_all(self)
            check_values(self.values)
            self.add_on_set_parameters_callback(self._on_set_parameters)
            self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
            self.create_timer(1.0, self.publish_diagnostics)
            if not self.values["managed"]:
                self.start()
        except BaseException:
            # rclpy's context would destroy the half-built node at shutdown: do it now, cleanly.
            self.destroy_node()
            raise

    @property
    def skeleton(self) -> Skeleton | None:
        return self.estimator.skeleton if self.estimator is not None else None

    @property
    def inputs(self) -> list[diagnostics.InputState]:
        """Each input topic now: its reliability and publishers (empty unless active)."""
        return [diagnostics.InputState(e.topic, e.reliable, e.publishers, e.publishers_since) for e in self._inputs]

    def start(self) -> None:
        """Configure and activate now (what an unmanaged node does); StartupError when it cannot."""
        if self.trigger_configure() != SUCCESS:
            raise self._failure or StartupError("configure failed")
        if self.trigger_activate() != SUCCESS:
            raise self._failure or StartupError("activate failed")

    # ------------------------------------------------------------------ lifecycle

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self._configure()
        except Exception as err:
            self._failure = err if isinstance(err, StartupError) else StartupError(f"{type(err).__name__}: {err}")
            if self.values["managed"]:  # unmanaged, main logs it as the reason the node exits
                self.get_logger().error(f"configure failed: {self._failure}")
            self._release()
            return FAILURE
        self.state = "inactive"
        return SUCCESS

    def _configure(self) -> None:
        topics = [f"{t}/compressed" if self.values["input_transport"] == "compressed" else t
                  for t in self.values["images"]]
        try:
            resolved = [self.resolve_topic_name(t) for t in topics]
        except (InvalidTopicNameException, RuntimeError) as err:  # rcl's RCLError for a malformed name
            raise StartupError(f"images={topics}: {str(err).split(', at /')[0]}") from err
        if len(set(resolved)) != len(resolved):
            raise StartupError(f"images names a topic twice: {resolved}")
        self._topics = resolved
        set_cpu_threads(int(self.values["cpu_threads"]))
        estimator = build_estimator(self.values) if self._injected is None else self._injected
        try:  # the decode parameters: the model's own settings unless the yaml or -p give others
            self.values.update(declare_decode(self, estimator.config))
            estimator.config = decode_config(self.values, estimator.config)
        except (ParameterException, ValueError) as err:
            raise StartupError(f"bad parameter: {err}") from err
        check_model(estimator, self.values)
        self.estimator = estimator
        # The outputs exist before the warm-up, so subscribers have matched them when the first frame
        # is served.  Reliable publishers match both reliable and best-effort subscribers.
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.outputs = {"poses": self.create_publisher(PersonArray, "poses", reliable),
                        "annotated": self.create_publisher(Image, "poses/annotated", QoSProfile(depth=2)),
                        "markers": self.create_publisher(MarkerArray, "poses/markers", QoSProfile(depth=2)),
                        "skeleton": self.create_publisher(SkeletonInfo, "poses/skeleton", latched)}
        self.outputs["skeleton"].publish(message.skeleton_info(estimator.skeleton, estimator.info))
        warm_s = estimator.warmup()
        self.get_logger().info(f"{describe_model(estimator.model)}; warm-up {warm_s * 1000:.0f} ms")
        if is_synthetic_only(estimator.model):
            self.get_logger().warning(SYNTHETIC_WARNING)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self._activate()
        except Exception as err:
            self._failure = StartupError(f"activate failed: {type(err).__name__}: {err}")
            self.get_logger().error(str(self._failure))
            self._stop_serving()
            return FAILURE
        self.state = "active"
        self.get_logger().info(f"serving {', '.join(self._topics)} -> {self.resolve_topic_name('poses')}")
        return SUCCESS

    def _activate(self) -> None:
        frames = self._frames = LatestFrames(len(self._topics))
        # The worker runs before the subscriptions exist, so no frame waits for it.
        self._worker = threading.Thread(target=self._work, args=(frames,), name="pose_node_worker", daemon=True)
        self._worker.start()
        compressed = self.values["input_transport"] == "compressed"
        for camera, topic in enumerate(self._topics):
            entry = ImageInput(self, topic, CompressedImage if compressed else Image, self.values["qos_reliability"],
                               camera, self.ledger, self._on_frame)
            self._inputs.append(entry)
            entry.start()

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_serving()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()  # the cached activations; the model stays loaded until cleanup
        self.state = "inactive"
        return SUCCESS

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        return SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_serving()
        self._release()
        self.state = "finalized"
        return SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_serving()
        self._release()
        return SUCCESS  # back to unconfigured

    def _stop_serving(self) -> None:
        for entry in self._inputs:
            entry.stop()
        self._inputs = []
        if self._frames is not None:
            left = self._frames.stop()
            if left:
                self.ledger.dropped("stopped", len(left))
        worker, self._worker = self._worker, None
        if worker is not None and worker.is_alive() and worker is not threading.current_thread():
            # A worker still inside rcl when the interpreter exits aborts the process: let it finish.
            worker.join(timeout=60.0)
        self._frames = None

    def _release(self) -> None:
        for publisher in self.outputs.values():
            self.destroy_publisher(publisher)
        self.outputs = {}
        self.estimator = None
        self.state = "unconfigured"

    def destroy_node(self) -> None:
        self._stop_serving()
        super().destroy_node()

    # ------------------------------------------------------------------ parameters

    def _on_set_parameters(self, params: list) -> SetParametersResult:
        """Validate live changes together (a bad one refuses the whole set) and apply the decode ones."""
        for p in params:
            # rclpy lets an empty name through; the decode parameters pass here while being declared
            if not p.name or not (self.has_parameter(p.name) or p.name in DECODE_PARAMS):
                return SetParametersResult(successful=False, reason=f"no parameter named {p.name!r}")
        changes = {p.name: p.value for p in params}
        decode = {k: v for k, v in changes.items() if k in DECODE_PARAMS}
        if decode:
            base = self.estimator.config if self.estimator is not None else DecodeConfig()
            try:
                config = base.updated(**decode)
            except (ValueError, TypeError) as err:
                return SetParametersResult(successful=False, reason=str(err))
            if self.estimator is not None:
                self.estimator.config = config  # one attribute store: a frame in flight keeps its config
        self.values.update(changes)
        return SetParametersResult(successful=True)

    # ------------------------------------------------------------------ input

    def _on_frame(self, frame: Frame) -> None:
        """Subscription callback (executor thread): header checks, then the camera's slot."""
        frames = self._frames
        if frames is None:  # arrived while deactivating
            self.ledger.dropped("stopped")
            return
        try:
            w, h = image_size(frame.msg)
        except ValueError as err:
            self._drop(_reason(err), str(err))
            return
        max_pixels = int(self.values["max_pixels"])
        if w * h > max_pixels:
            self._drop("too_large", f"image is {w}x{h}, more than max_pixels={max_pixels}")
            return
        if frames.put(frame):
            self.ledger.dropped("superseded")

    def _drop(self, reason: str, text: str, n: int = 1) -> None:
        self.ledger.dropped(reason, n)
        self.get_logger().warning(f"dropped {'a frame' if n == 1 else f'{n} frames'} ({reason}): {text}",
                                  throttle_duration_sec=5.0)

    def _work(self, frames: LatestFrames) -> None:
        while True:
            batch = frames.take()
            if not batch:
                return
            try:
                self._serve(batch)  # counts each frame itself, whatever happens to it
            except Exception as err:
                self.get_logger().error(f"serving a batch failed: {type(err).__name__}: {err}",
                                        throttle_duration_sec=5.0)

    # ------------------------------------------------------------------ frames

    def _serve(self, batch: list[Frame]) -> None:
        """Estimate and publish the waiting frames (one per camera) in one forward pass."""
        estimator = self.estimator
        if estimator is None:  # released while these waited (the worker is joined first: not expected)
            self.ledger.dropped("stopped", len(batch))
            return
        max_age = float(self.values["max_age"])
        ready = []
        for frame in batch:
            waited = time.monotonic() - frame.arrival
            if max_age > 0 and waited > max_age:
                self.ledger.dropped("too_old")
                self.get_logger().info(f"dropped a frame that waited {waited:.2f} s (max_age {max_age} s)",
                                       throttle_duration_sec=5.0)
                continue
            try:
                ready.append((frame, self._pixels(frame.msg)))
            except _Drop as drop:
                self._drop(drop.reason, str(drop))
        if not ready:
            return
        try:
            start = time.perf_counter()
            found = estimator.estimate_batch([bgr for _, bgr in ready])
            inference_s = time.perf_counter() - start
        except Exception as err:
            oom = _is_oom(err)
            if oom and torch.cuda.is_available():
                torch.cuda.empty_cache()
            self._drop("out_of_memory" if oom else "error", f"{type(err).__name__}: {err}", len(ready))
            return
        for (frame, bgr), people in zip(ready, found, strict=True):
            try:
                self._publish(frame, bgr, people, estimator.skeleton, inference_s)
            except Exception as err:
                self._drop("error", f"publishing failed: {type(err).__name__}: {err}")
                continue
            self.ledger.processed()

    def _pixels(self, msg: Image | CompressedImage) -> np.ndarray:
        try:
            return from_image_msg(msg) if isinstance(msg, Image) else from_compressed_msg(msg)
        except ValueError as err:
            raise _Drop(_reason(err), str(err)) from err
        except Exception as err:
            raise _Drop("error", f"{type(err).__name__}: {err}") from err

    def _publish(self, frame: Frame, bgr: np.ndarray, people: list[Person], skeleton: Skeleton,
                 inference_s: float) -> None:
        header = frame.msg.header
        h, w = bgr.shape[:2]
        out = self.outputs
        out["poses"].publish(message.person_array(people, header, skeleton, w, h))
        if self.values["publish_annotated"] and out["annotated"].get_subscription_count() > 0:
            annotated = draw_people(bgr, people, skeleton)
            out["annotated"].publish(to_image_msg(annotated, header.stamp, header.frame_id))
        if out["markers"].get_subscription_count() > 0:
            out["markers"].publish(message.markers(people, header, skeleton, float(self.values["marker_scale"])))
        stamp = Time.from_msg(header.stamp)
        latency_s = (self.get_clock().now() - stamp).nanoseconds / 1e9 if stamp.nanoseconds > 0 else float("nan")
        if abs(latency_s) > CLOCK_WARN_S and frame.camera not in self._stamp_warned:
            self._stamp_warned.add(frame.camera)
            self.get_logger().warning(
                f"frames on {self._topics[frame.camera]} are stamped {latency_s:.0f} s from this node's clock (a bag "
                "replayed without use_sim_time, or an unsynchronised camera clock): served anyway, staleness is "
                "measured from arrival; latency_ms on /diagnostics is meaningless for them")
        self.times.record(latency_s, inference_s, len(people))

    # ------------------------------------------------------------------ diagnostics

    def publish_diagnostics(self) -> None:
        now, snap = time.monotonic(), self.ledger.snapshot()
        old = self._window.add(now, snap)
        inputs = self.inputs
        level = diagnostics.level(now, snap, old, inputs, self.state == "active")
        info = ({**self.estimator.info, "threads_in_use": self.estimator.threads_in_use}
                if self.estimator is not None else {})
        status = diagnostics.status(self.get_name(), info, self.state, snap, level, self.times, inputs)
        self.pub_diag.publish(DiagnosticArray(header=Header(stamp=self.get_clock().now().to_msg()), status=[status]))
