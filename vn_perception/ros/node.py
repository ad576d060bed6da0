"""ROS 2 node `vn_perception`: PointCloud2 topics in; detections, markers, class map and diagnostics out.

One cloud's path, one method per step, in order:
  _on_cloud              subscription callback: keep the newest cloud per topic (never waits for inference)
  _work                  worker thread: take the newest cloud of each topic in turn, _process it
  _process               read_xyz -> transform to target_frame (tf2, at the cloud's stamp) -> pipeline
                         -> convert (vision_msgs, markers) -> publish with the cloud's stamp
  _publish_diagnostics   1 Hz on /diagnostics: rates, drops, malformed clouds, latency, device, model

Outputs: ~/detections (vision_msgs/Detection3DArray), ~/markers (visualization_msgs/MarkerArray),
~/label_info (vision_msgs/LabelInfo, transient local), /diagnostics (diagnostic_msgs/DiagnosticArray).
Parameters: params.py (validated at start-up and at each change; a rejected change leaves the node as it
was). Messages: convert.py. Pipeline: inference.py. Start-up failures (invalid parameters, a model that does
not load, target_frame without tf2_ros) stop the node with the reason and exit status 1.
"""
import sys
import threading
import time

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult)
from rclpy.duration import Duration
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import (DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data)
from rclpy.time import Time
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import Header
from vision_msgs.msg import Detection3DArray, LabelInfo
from visualization_msgs.msg import MarkerArray

from vn_perception.pointcloud import PointCloudError, read_xyz
from vn_perception.ros import convert
from vn_perception.ros.inference import Inference, ModelLoadError, load_pipeline
from vn_perception.ros.keep_latest import LatestSlots
from vn_perception.ros.params import PARAMETERS, parameter_names, settings_from
from vn_perception.ros.stats import NodeStats

NODE_NAME = "vn_perception"
#: seconds between two identical warnings (malformed clouds, missing transforms, failed frames)
WARN_THROTTLE_S = 5.0
#: counters whose increase in a diagnostics period raises the status to WARN
_PROBLEMS = ("malformed", "tf_unavailable", "inference_failures", "failed_frames")


class StartupError(RuntimeError):
    """The node cannot start; the message says why and what to change."""


class VnPerceptionNode(Node):
    """Detects objects in PointCloud2 streams (see the module docstring).

    pipeline_factory: builds the pipeline (inference.load_pipeline; tests may pass another real one).
    Raises StartupError when it cannot start.
    """

    def __init__(self, pipeline_factory=load_pipeline, **node_kwargs):
        super().__init__(NODE_NAME, **node_kwargs)
        self._settings = self._declare_parameters()
        self._tf_buffer = self._transform_buffer(self._settings.target_frame)
        self._inference = self._load_pipeline(pipeline_factory)
        self._stats = NodeStats()
        self._last_totals = dict(self._stats.totals)
        self._create_publishers()
        self._publish_label_info()
        self._slots = LatestSlots(self._settings.input_topics)
        self._subscribe()
        self.create_timer(1.0, self._publish_diagnostics)
        self._worker = threading.Thread(target=self._work, name="vn_perception_worker", daemon=True)
        self._worker.start()
        self.get_logger().info(
            f"detecting objects in {', '.join(self._resolved_topics())} on {self._inference.device} "
            f"({len(self._inference.classifier.classes)} classes, model {self._model_name()})")

    def _load_pipeline(self, pipeline_factory):
        settings = self._settings
        try:
            inference = Inference(settings.model_path, settings.device, settings.segmentation, pipeline_factory,
                                  settings.cpu_threads, settings.compile, settings.mesh_catalog, settings.mesh_source)
        except ModelLoadError as e:
            raise StartupError(str(e)) from e
        if inference.compile_error:
            self.get_logger().warning(inference.compile_error)
        elif inference.compiled:
            self.get_logger().info("classifier compiled (torch.compile)")
        if inference.mesh_classes:
            missing = sorted(set(inference.classifier.classes) - set(inference.mesh_classes))
            self.get_logger().info(f"pose refinement with the meshes of {settings.mesh_catalog}: "
                                   f"{len(inference.mesh_classes)} classes"
                                   + (f"; no mesh (network rotation only): {', '.join(missing)}" if missing else ""))
        if inference.cuda_fell_back:
            self.get_logger().warning(f"device {settings.device!r} requested but CUDA is not available: "
                                      "running on the CPU")
        return inference

    def _create_publishers(self):
        self._detections_pub = self.create_publisher(Detection3DArray, "~/detections", 10)
        self._markers_pub = self.create_publisher(MarkerArray, "~/markers", 10)
        self._label_info_pub = self.create_publisher(LabelInfo, "~/label_info", QoSProfile(
            depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        self._diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)

    def _subscribe(self):
        """One subscription per input topic (sensor-data QoS, or reliable), each feeding its keep-latest slot."""
        if self._settings.qos_reliability == "reliable":
            qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        else:
            qos = qos_profile_sensor_data
        for topic in self._settings.input_topics:
            self.create_subscription(PointCloud2, topic, lambda msg, topic=topic: self._on_cloud(topic, msg), qos)

    # ------------------------------------------------------------------------------ parameters
    def _declare_parameters(self):
        """Declare every parameter (descriptors with ranges), then validate them together."""
        self._declaring = True
        self.add_on_set_parameters_callback(self._on_set_parameters)
        try:
            for spec in PARAMETERS:
                self.declare_parameter(spec.name, spec.default, _descriptor(spec))
            return settings_from(self._parameter_values())
        except Exception as e:  # noqa: BLE001 - rclpy raises several types for bad overrides
            raise StartupError(f"invalid parameters: {e}") from e
        finally:
            self._declaring = False

    def _parameter_values(self):
        return {name: self.get_parameter(name).value for name in parameter_names()}

    def _on_set_parameters(self, parameters):
        """Validate a change against all current values; apply it only when valid (else nothing changes)."""
        if self._declaring:                       # start-up values are validated together afterwards
            return SetParametersResult(successful=True)
        values = self._parameter_values()
        values.update({p.name: p.value for p in parameters})
        try:
            settings = settings_from(values)
            self._apply(settings)
        except Exception as e:  # noqa: BLE001 - invalid values, tf2 missing, a pipeline that cannot be rebuilt
            self.get_logger().warning(f"rejected parameter change: {e}")
            return SetParametersResult(successful=False, reason=str(e))
        return SetParametersResult(successful=True)

    def _apply(self, settings):
        """Switch to new settings (segmentation re-configured, tf2 started when a target frame appears)."""
        if settings.target_frame and self._tf_buffer is None:
            self._tf_buffer = self._transform_buffer(settings.target_frame)
        if settings.segmentation != self._settings.segmentation:
            self._inference.reconfigure(settings.segmentation)
        threshold_changed = settings.min_score != self._settings.min_score
        self._settings = settings
        if threshold_changed:
            self._publish_label_info()

    def _transform_buffer(self, target_frame):
        """A tf2 buffer (with its listener) when `target_frame` is set; StartupError when tf2_ros is missing."""
        if not target_frame:
            return None
        try:
            import tf2_ros
        except ImportError:
            raise StartupError(
                f"target_frame is {target_frame!r} but tf2_ros is not installed, so clouds cannot be transformed: "
                "install it (apt install ros-$ROS_DISTRO-tf2-ros) or set target_frame to '' (publish in each "
                "cloud's own frame)") from None
        buffer = tf2_ros.Buffer()
        self._tf_listener = tf2_ros.TransformListener(buffer, self)
        return buffer

    # ------------------------------------------------------------------------------ the path of one cloud
    def _on_cloud(self, topic, msg):
        self._slots.put(topic, msg)

    def _work(self):
        while self.context.ok():
            item = self._slots.take(timeout=0.5)
            if item is None:
                continue
            try:
                self._process(item)
            except Exception as e:  # noqa: BLE001 - the worker must outlive any single frame
                if not self.context.ok():
                    return
                self._stats.add("failed_frames")
                self.get_logger().error(f"frame from {item.source} failed: {type(e).__name__}: {e}",
                                        throttle_duration_sec=WARN_THROTTLE_S)

    def _process(self, item):
        settings, cloud = self._settings, item.value
        try:
            points = read_xyz(cloud)
        except PointCloudError as e:
            self._stats.add("malformed")
            self.get_logger().warning(f"malformed cloud on {item.source} rejected: {e}",
                                      throttle_duration_sec=WARN_THROTTLE_S)
            return
        frame_transform = None
        if settings.target_frame and settings.target_frame != cloud.header.frame_id:
            frame_transform = self._lookup_transform(settings, cloud.header)
            if frame_transform is None:
                return
        detections = self._detect(item.source, points)
        if detections is None:
            return
        detections = [d for d in detections if d.score >= settings.min_score]
        classifier = self._inference.classifier
        header = convert.output_header(cloud.header, settings.target_frame)
        metadata = getattr(classifier, "metadata", None)
        message = convert.detection_array(detections, header, classifier.classes, classifier.symmetries,
                                          settings.top_k, frame_transform, convert.rotation_std_rad(metadata),
                                          convert.rotation_std_rad(metadata, mesh_refined=True))
        self._detections_pub.publish(message)
        if settings.publish_markers:
            self._markers_pub.publish(convert.marker_array(message, classifier.classes, namespace=item.source))
        self._stats.add("processed")
        self._stats.add("detections", len(detections))
        self._stats.add_latency(time.monotonic() - item.received)

    def _lookup_transform(self, settings, cloud_header):
        """(R, t) from the cloud's frame to target_frame at the cloud's stamp, or None (warned, counted)."""
        try:
            transform = self._tf_buffer.lookup_transform(
                settings.target_frame, cloud_header.frame_id, Time.from_msg(cloud_header.stamp),
                timeout=Duration(seconds=settings.tf_timeout_s)).transform
        except Exception as e:  # noqa: BLE001 - tf2 raises Lookup/Connectivity/Extrapolation/Timeout errors
            self._stats.add("tf_unavailable")
            self.get_logger().warning(
                f"no transform {cloud_header.frame_id!r} -> {settings.target_frame!r} at the cloud's stamp; "
                f"frame skipped ({type(e).__name__}: {e})", throttle_duration_sec=WARN_THROTTLE_S)
            return None
        rotation = transform.rotation
        return (convert.rotation_matrix((rotation.x, rotation.y, rotation.z, rotation.w)),
                (transform.translation.x, transform.translation.y, transform.translation.z))

    def _detect(self, source, points):
        """The pipeline's detections, or None when the frame cannot be processed (logged, counted)."""
        try:
            detections, retried_on_cpu = self._inference.run(points)
        except ValueError as e:                    # points the pipeline rejects (e.g. infinite values)
            self._stats.add("malformed")
            self.get_logger().warning(f"cloud on {source} rejected: {e}", throttle_duration_sec=WARN_THROTTLE_S)
            return None
        except Exception as e:  # noqa: BLE001 - e.g. out of memory on the CPU too: skip the frame, keep serving
            self._stats.add("inference_failures")
            self._stats.add("failed_frames")
            self.get_logger().error(f"inference failed on a cloud from {source}, frame skipped: "
                                    f"{type(e).__name__}: {e}", throttle_duration_sec=WARN_THROTTLE_S)
            return None
        if retried_on_cpu:
            self._stats.add("inference_failures")
            self._stats.add("cpu_retries")
            self.get_logger().warning(f"inference failed on {self._inference.device}; frame retried on the CPU",
                                      throttle_duration_sec=WARN_THROTTLE_S)
        return detections

    # ------------------------------------------------------------------------------ class map, diagnostics
    def _publish_label_info(self):
        header = Header(stamp=self.get_clock().now().to_msg())
        self._label_info_pub.publish(convert.label_info(self._inference.classifier.classes, header,
                                                        self._settings.min_score))

    def _publish_diagnostics(self):
        values = self._stats.summary(received=sum(self._slots.received.values()),
                                     dropped=sum(self._slots.dropped.values()))
        if len(self._settings.input_topics) > 1:
            for topic in self._settings.input_topics:
                values[f"received {topic}"] = self._slots.received[topic]
                values[f"dropped {topic}"] = self._slots.dropped[topic]
        values.update(device=self._inference.device, model=self._model_name(),
                      input_topics=", ".join(self._resolved_topics()))
        totals = dict(self._stats.totals)
        problems = {name: totals[name] - self._last_totals[name] for name in _PROBLEMS
                    if totals[name] > self._last_totals[name]}
        self._last_totals = totals
        if problems:
            level = DiagnosticStatus.WARN
            message = ", ".join(f"{count} {name.replace('_', ' ')}" for name, count in problems.items())
        elif values["received"] == 0:
            level, message = DiagnosticStatus.OK, "waiting for clouds"
        else:
            level, message = DiagnosticStatus.OK, f"{values['processed_rate_hz']:.1f} clouds/s processed"
        status = convert.diagnostic_status(f"{self.get_name()}: pipeline", self._inference.device, level, message,
                                           values)
        self._diagnostics_pub.publish(DiagnosticArray(header=Header(stamp=self.get_clock().now().to_msg()),
                                                      status=[status]))

    def _model_name(self):
        return self._settings.model_path or "default (shipped)"

    def _resolved_topics(self):
        return [self.resolve_topic_name(topic) for topic in self._settings.input_topics]

    def destroy_node(self):
        """Stop the worker, then the node."""
        if hasattr(self, "_worker"):
            self._slots.close()
            self._worker.join(timeout=10.0)
        return super().destroy_node()


def _descriptor(spec):
    """ParameterDescriptor of a ParamSpec: description, range, choices, read-only."""
    descriptor = ParameterDescriptor(description=spec.description, read_only=spec.read_only,
                                     dynamic_typing=spec.dynamic_typing)
    if spec.choices:
        descriptor.additional_constraints = "one of: " + ", ".join(spec.choices)
    if spec.value_range is not None and not isinstance(spec.default, bool):
        low, high = spec.value_range
        if isinstance(spec.default, int):
            descriptor.integer_range = [IntegerRange(from_value=int(low), to_value=int(high), step=0)]
        else:
            descriptor.floating_point_range = [FloatingPointRange(from_value=float(low), to_value=float(high),
                                                                  step=0.0)]
    return descriptor


def main(args=None):
    """Console script `vn_perception_node`: exit status 0 on SIGINT/SIGTERM, 1 when it cannot start."""
    try:
        rclpy.init(args=args)
    except Exception as e:  # noqa: BLE001 - e.g. an argument rcl cannot parse: say so, without a traceback
        print(f"[FATAL] [{NODE_NAME}]: cannot start: {e}", file=sys.stderr)
        return 1
    node = None
    try:
        node = VnPerceptionNode()
        rclpy.spin(node)
    except StartupError as e:
        rclpy.logging.get_logger(NODE_NAME).fatal(f"cannot start: {e}")
        return 1
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
