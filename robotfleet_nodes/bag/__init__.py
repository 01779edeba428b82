"""Recording and replaying topics as rosbag2-compatible MCAP files (what ``rfos bag`` runs).

- :mod:`._mcap`: the file format side (``ros2`` profile, ``ros2msg`` schemas, ``cdr``
  messages), bag directories and the summary ``rfos bag info`` prints.
- :mod:`.recorder`: raw NATS subscription on topic subjects -> batched CDR conversion ->
  chunked MCAP writer.
- :mod:`.player`: MCAP -> NATS, in log-time order, with the original spacing scaled by a rate.
"""

from __future__ import annotations

from robotfleet_nodes.bag._mcap import BagError, BagSummary, TopicSummary, summarize
from robotfleet_nodes.bag.player import Player, PlayerStats
from robotfleet_nodes.bag.recorder import Recorder, RecorderStats, print_summary

__all__ = [
    "BagError",
    "BagSummary",
    "Player",
    "PlayerStats",
    "Recorder",
    "RecorderStats",
    "TopicSummary",
    "print_summary",
    "summarize",
]
