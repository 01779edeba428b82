"""QoS policies from parameters (``qos_overriding_options``), as quality_of_service_demo's
qos_overrides_talker/listener; run with ``--ros-args -p qos_overrides./...:=...`` overrides."""

import sys

import rclpy
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSPolicyKind, QoSProfile, ReliabilityPolicy
from rclpy.qos_overriding_options import QosCallbackResult, QoSOverridingOptions
from std_msgs.msg import String


def describe(qos):
    return f"{qos.history.name} depth={qos.depth} {qos.reliability.name}"


def accept_up_to_10(qos):
    print(f"callback: {describe(qos)}")
    result = QosCallbackResult()
    result.successful = qos.depth <= 10
    if not result.successful:
        result.reason = "expected qos depth less than 10"
    return result


def main():
    rclpy.init(args=sys.argv)
    node = Node("qos_overrides_node")
    defaults = QoSOverridingOptions.with_default_policies(callback=accept_up_to_10)
    node.create_publisher(String, "chatter_qos", 10, qos_overriding_options=defaults)
    node.create_subscription(
        String,
        "chatter_qos",
        lambda msg: None,
        QoSProfile(depth=7, reliability=ReliabilityPolicy.RELIABLE),
        qos_overriding_options=defaults,
    )
    node.create_publisher(
        String,
        "chatter_qos",
        3,
        qos_overriding_options=QoSOverridingOptions(
            [QoSPolicyKind.DEPTH, QoSPolicyKind.DURABILITY], entity_id="second"
        ),
    )
    node.create_publisher(String, "plain_qos", 10)
    for name, parameter in sorted(node.get_parameters_by_prefix("qos_overrides").items()):
        print(f"qos_overrides.{name} = {parameter.value!r}")
    descriptor = node.describe_parameter("qos_overrides./chatter_qos.publisher.depth")
    print(f"read_only={descriptor.read_only} description={descriptor.description}")
    result = node.set_parameters([Parameter("qos_overrides./chatter_qos.publisher.depth", value=2)])[0]
    print(f"set read-only: successful={result.successful}")
    try:
        node.create_publisher(String, "deep_qos", 10, qos_overriding_options=defaults)
    except Exception as exc:  # rclpy's InvalidQosOverridesError
        print(f"{type(exc).__name__}: {exc}")
    try:
        node.create_publisher(String, "bad_qos", 10, qos_overriding_options=defaults)
    except RuntimeError as exc:
        print(f"RuntimeError: {exc}")
    node.destroy_node()
    rclpy.shutdown()


if __name__ == "__main__":
    main()
