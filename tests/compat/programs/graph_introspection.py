"""Graph queries of rclpy's Node in one process (publisher, subscription, service, client on
two nodes), destroy_* and wait_for_message; prints what it sees, the same under real rclpy."""

import threading
import time

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.wait_for_message import wait_for_message
from std_msgs.msg import String
from std_srvs.srv import Trigger


def eventually(query, expected, timeout=20.0):
    """The graph is eventually consistent (DDS discovery, NATS's graph window): poll."""
    end = time.monotonic() + timeout
    value = query()
    while value != expected and time.monotonic() < end:
        time.sleep(0.1)
        value = query()
    return value


def main():
    rclpy.init()
    talker = Node("graph_talker", namespace="/demo")
    listener = Node("graph_listener", namespace="/demo")
    publisher = talker.create_publisher(String, "chatter", 10)
    subscription = listener.create_subscription(String, "chatter", lambda msg: None, 10)
    service = talker.create_service(Trigger, "poke", lambda request, response: response)
    client = listener.create_client(Trigger, "poke")

    print("topic_name:", publisher.topic_name, subscription.topic_name)
    print("subscription count:", eventually(publisher.get_subscription_count, 1))
    print("count_publishers:", eventually(lambda: listener.count_publishers("chatter"), 1))
    print("count_subscribers:", eventually(lambda: talker.count_subscribers("/demo/chatter"), 1))
    print("count_services:", eventually(lambda: listener.count_services("poke"), 1))
    print("count_clients:", eventually(lambda: talker.count_clients("poke"), 1))
    names = eventually(
        lambda: sorted(n for n in talker.get_node_names() if n.startswith("graph_")),
        ["graph_listener", "graph_talker"],
    )
    print("node names:", names)
    print(
        "names and namespaces:",
        sorted(p for p in talker.get_node_names_and_namespaces() if p[0].startswith("graph_")),
    )
    print("topics:", [t for t in talker.get_topic_names_and_types() if t[0] == "/demo/chatter"])
    print("services:", [s for s in talker.get_service_names_and_types() if s[0] == "/demo/poke"])
    for info in talker.get_publishers_info_by_topic("chatter") + talker.get_subscriptions_info_by_topic(
        "chatter"
    ):
        print(
            "endpoint:",
            info.node_name,
            info.node_namespace,
            info.topic_type,
            info.endpoint_type.name,
            info.qos_profile.reliability.name,
            len(info.endpoint_gid) > 0,
        )

    executor = SingleThreadedExecutor()
    executor.add_node(talker)
    count = [0]

    def publish():
        msg = String()
        msg.data = f"hello {count[0]}"
        count[0] += 1
        publisher.publish(msg)

    timer = talker.create_timer(0.1, publish)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    ok, msg = wait_for_message(String, listener, "chatter", time_to_wait=30)
    print("wait_for_message:", ok, msg.data.startswith("hello ") if ok else msg)
    print(
        "wait_for_message timeout:", wait_for_message(String, listener, "nobody_publishes", time_to_wait=0.3)
    )
    talker.destroy_timer(timer)
    executor.shutdown()
    spinner.join(timeout=10)

    print("destroy_subscription:", listener.destroy_subscription(subscription))
    print("subscription count after:", eventually(publisher.get_subscription_count, 0))
    print("destroy_client:", listener.destroy_client(client))
    print("destroy_service:", talker.destroy_service(service))
    print("count_services after:", eventually(lambda: listener.count_services("poke"), 0))
    print("destroy_publisher:", talker.destroy_publisher(publisher))
    print("count_publishers after:", eventually(lambda: listener.count_publishers("chatter"), 0))
    talker.destroy_node()
    listener.destroy_node()
    rclpy.shutdown()


if __name__ == "__main__":
    main()
