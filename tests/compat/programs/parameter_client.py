"""Reads and changes ``param_server``'s parameters with AsyncParameterClient (in the style of
ROS 2's demo_nodes_py ``async_param_client.py``); argv[1] is a params file for it."""

import sys

import rclpy
from rclpy.parameter import Parameter, parameter_dict_from_yaml_file, parameter_value_to_python
from rclpy.parameter_client import AsyncParameterClient

NAMES = ["speed", "name", "ids", "enabled", "last_change", "mode", "serial"]


def call(node, future):
    rclpy.spin_until_future_complete(node, future)
    return future.result()


def print_values(node, client, names):
    response = call(node, client.get_parameters(names))
    print(f"get {len(response.values)} of {len(names)}")
    for name, value in zip(names, response.values, strict=False):  # no values for an undeclared name
        print(f"    {name}: {parameter_value_to_python(value)!r}")


def print_results(title, names, results):
    print(title)
    for name, result in zip(names, results, strict=True):
        print(f"    {name}: successful={result.successful} reason={result.reason!r}")


def main():
    parameter_file = sys.argv[1]
    with rclpy.init():
        node = rclpy.create_node("param_client")
        client = AsyncParameterClient(node, "param_server")
        if not client.wait_for_services(30.0):
            raise RuntimeError("param_server is not available")

        listed = call(node, client.list_parameters(NAMES, 10))
        print("list:", sorted(listed.result.names))
        print_values(node, client, NAMES)
        print_values(node, client, ["speed", "ghost"])

        types = call(node, client.get_parameter_types(NAMES))
        print("types:", [Parameter.Type(t).name for t in types.types])
        described = call(node, client.describe_parameters(["speed", "mode", "serial"]))
        for d in described.descriptors:
            ranges = [(r.from_value, r.to_value) for r in d.floating_point_range]
            print(
                f"describe {d.name}: type={d.type} {d.description!r} "
                f"read_only={d.read_only} dynamic={d.dynamic_typing} range={ranges}"
            )

        to_set = [
            Parameter("speed", Parameter.Type.DOUBLE, 4.0),
            Parameter("name", Parameter.Type.STRING, ""),
            Parameter("speed", Parameter.Type.DOUBLE, -1.0),
            Parameter("ids", value=[7, 8]),
        ]
        response = call(node, client.set_parameters(to_set))
        print_results("set:", [p.name for p in to_set], response.results)
        print_values(node, client, ["speed", "name", "ids", "last_change"])

        atomic = [Parameter("enabled", value=False), Parameter("name", value="")]
        response = call(node, client.set_parameters_atomically(atomic))
        print_results("set atomically:", ["enabled+name"], [response.result])
        print_values(node, client, ["enabled"])

        response = call(node, client.load_parameter_file(parameter_file))
        loaded = parameter_dict_from_yaml_file(parameter_file, target_nodes=["param_server"])
        print("load:")
        for name, result in zip(loaded, response.results, strict=True):
            value = parameter_value_to_python(loaded[name].value)
            print(f"    {name}: successful={result.successful} value={value}")
        print_values(node, client, ["speed", "name", "enabled", "last_change"])

        response = call(node, client.delete_parameters(["mode", "speed"]))
        print("delete:", [r.successful for r in response.results])
        listed = call(node, client.list_parameters(NAMES, 10))
        print("list:", sorted(listed.result.names))
        node.destroy_node()


if __name__ == "__main__":
    main()
