"""rclpy's synchronous graph queries, counts, ``destroy_*`` and ``wait_for_message``,
against real rclpy (the same program prints the same under both)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.compat._programs import PROGRAMS, env_for, interpreter, run


@pytest.mark.parametrize("python", ["ours", "real"])
def test_graph_counts_endpoint_info_and_wait_for_message(nats_url: str, domain: int, python: str) -> None:
    """Node names, topic/service names and types, count_* (get_subscription_count from the
    graph), TopicEndpointInfo attributes, wait_for_message (message and timeout), and the
    counts dropping to 0 after destroy_*."""
    exe, env = interpreter(python, env_for(nats_url, domain))
    expected = (PROGRAMS / "graph_introspection.expected").read_text(encoding="utf-8")
    assert run("graph_introspection.py", exe, env).splitlines() == expected.splitlines()


def test_a_graph_query_cut_short_by_shutdown_returns_empty(
    nats_url: str, domain: int, tmp_path: Path
) -> None:
    """topic_monitor.py's shape: a thread polls ``get_topic_names_and_types`` while the main
    thread shuts rclpy down; the query in flight ends empty instead of raising."""
    program = tmp_path / "query_during_shutdown.py"
    program.write_text(
        "import threading\n"
        "import rclpy\n"
        "rclpy.init()\n"
        "node = rclpy.create_node('poller')\n"
        "asking, results, errors = threading.Event(), [], []\n"
        "def poll():\n"
        "    try:\n"
        "        while rclpy.ok():\n"
        "            asking.set()\n"
        "            results.append(node.get_topic_names_and_types())\n"
        "    except BaseException as exc:\n"
        "        errors.append(repr(exc))\n"
        "thread = threading.Thread(target=poll)\n"
        "thread.start()\n"
        "asking.wait(30)\n"
        "rclpy.shutdown()\n"
        "thread.join(30)\n"
        "print('errors', errors)\n"
        "print('lists', all(isinstance(r, list) for r in results))\n",
        encoding="utf-8",
    )
    exe, env = interpreter("ours", env_for(nats_url, domain))
    result = subprocess.run(
        [exe, str(program)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["errors []", "lists True"], result.stdout + result.stderr
