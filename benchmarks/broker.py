"""The embedded broker: seconds to start nats-server (JetStream on) until it serves, and to stop it.

Every tool without a ``MESSAGING_URL`` (``rfos``, ``make run``, the tests) starts one, so
this is a start-up cost a user waits for. ``EmbeddedBroker.start()`` returns once the
server accepts connections; ``stop()`` once the process is gone and its temporary store
removed. Median and max of ``--rounds`` rounds. Prints one JSON line.

    .venv/bin/python benchmarks/broker.py --rounds 10
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from _common import emit, progress

from robotfleet_nodes.broker import EmbeddedBroker


def one_round() -> tuple[float, float]:
    """(start seconds, stop seconds) of one broker."""
    broker = EmbeddedBroker()
    started = time.perf_counter()
    broker.start()
    start_s = time.perf_counter() - started
    stopping = time.perf_counter()
    broker.stop()
    return start_s, time.perf_counter() - stopping


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    starts: list[float] = []
    stops: list[float] = []
    for round_no in range(1, args.rounds + 1):
        start_s, stop_s = one_round()
        progress(f"broker: round {round_no}/{args.rounds}: start {start_s:.3f} s, stop {stop_s:.3f} s")
        starts.append(start_s)
        stops.append(stop_s)
    emit(
        {
            "benchmark": "embedded_broker",
            "rounds": args.rounds,
            "start_s": {"p50": round(statistics.median(starts), 3), "max": round(max(starts), 3)},
            "stop_s": {"p50": round(statistics.median(stops), 3), "max": round(max(stops), 3)},
            "targets": {"start_s": 2.0, "stop_s": 2.0},
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
