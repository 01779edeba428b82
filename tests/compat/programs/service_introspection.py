"""Service introspection (demo_nodes_py's introspection.py with std_srvs): a service and a
client publish their events on ``/set_flag/_service_event`` per ``configure_introspection``;
a third node prints them (sorted: events of two publishers have no common order)."""

import time

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile
from rclpy.service_introspection import ServiceIntrospectionState
from service_msgs.msg import ServiceEventInfo
from std_srvs.srv import SetBool

EVENT_QOS = QoSProfile(depth=100, durability=DurabilityPolicy.TRANSIENT_LOCAL)
NAMES = {
    ServiceEventInfo.REQUEST_SENT: "REQUEST_SENT",
    ServiceEventInfo.REQUEST_RECEIVED: "REQUEST_RECEIVED",
    ServiceEventInfo.RESPONSE_SENT: "RESPONSE_SENT",
    ServiceEventInfo.RESPONSE_RECEIVED: "RESPONSE_RECEIVED",
}


def answer(request, response):
    response.success = request.data
    response.message = "set" if request.data else "cleared"
    return response


def spin_until(executor, condition, timeout=30.0):
    end = time.monotonic() + timeout
    while rclpy.ok() and not condition() and time.monotonic() < end:
        executor.spin_once(timeout_sec=0.5)
    return condition()


def main():
    rclpy.init()
    server = Node("introspection_service")
    service = server.create_service(SetBool, "set_flag", answer)
    client_node = Node("introspection_client")
    client = client_node.create_client(SetBool, "set_flag")
    watcher = Node("introspection_watcher")
    events = []
    watcher.create_subscription(SetBool.Event, "/set_flag/_service_event", events.append, EVENT_QOS)
    executor = SingleThreadedExecutor()
    for node in (server, client_node, watcher):
        executor.add_node(node)
    client.wait_for_service(timeout_sec=10.0)

    def call(data):
        future = client.call_async(SetBool.Request(data=data))
        spin_until(executor, future.done)
        return future.result()

    def phase(title, service_state, client_state, data, expected):
        print(title)
        service.configure_introspection(server.get_clock(), EVENT_QOS, service_state)
        client.configure_introspection(client_node.get_clock(), EVENT_QOS, client_state)
        response = call(data)
        print(f"  response: {response.success} {response.message}")
        if not spin_until(executor, lambda: len(events) >= expected):
            print(f"  only {len(events)} events")
        gids = {}
        for event in sorted(events, key=lambda e: (e.info.sequence_number, e.info.event_type)):
            info = event.info
            gids.setdefault(info.event_type, bytes(info.client_gid))
            request = [r.data for r in event.request]
            response = [(r.success, r.message) for r in event.response]
            name, stamped = NAMES[info.event_type], info.stamp.sec > 0
            print(f"  {name} seq={info.sequence_number} {request} {response} stamped={stamped}")
        events.clear()
        return gids

    gids = phase("contents", ServiceIntrospectionState.CONTENTS, ServiceIntrospectionState.CONTENTS, True, 4)
    sent, received = gids[ServiceEventInfo.REQUEST_SENT], gids[ServiceEventInfo.RESPONSE_RECEIVED]
    print(f"client gid: same in its events: {sent == received}, set: {sent != bytes(16)}")
    phase("metadata", ServiceIntrospectionState.METADATA, ServiceIntrospectionState.METADATA, False, 4)
    print("off")
    service.configure_introspection(server.get_clock(), EVENT_QOS, ServiceIntrospectionState.OFF)
    client.configure_introspection(client_node.get_clock(), EVENT_QOS, ServiceIntrospectionState.OFF)
    print(f"  response: {call(True).success}")
    phase("client metadata only", ServiceIntrospectionState.OFF, ServiceIntrospectionState.METADATA, True, 2)
    executor.shutdown()
    rclpy.shutdown()


if __name__ == "__main__":
    main()
