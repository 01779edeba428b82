"""Recording topics as rosbag2 MCAP bags, replaying rosbag2 bags (MCAP or sqlite3): ``rfos bag``.

- :mod:`._mcap`: the file format side (``ros2`` profile, ``ros2msg`` schemas, ``cdr``
  messages), bag directories and the summary ``rfos bag info`` prints.
- :mod:`._storage`: reading either rosbag2 storage, MCAP or sqlite3 (``.db3``, via ``rosbags``).
- :mod:`._definitions`: the bag's stored message definitions, registered when playing.
- :mod:`._metadata`: rosbag2's ``metadata.yaml``, written next to a recording.
- :mod:`.recorder`: raw NATS subscription on topic subjects -> batched CDR conversion ->
  chunked MCAP writer.
- :mod:`.player`: a bag -> NATS, in log-time order, with the original spacing scaled by a rate,
  as the graph node ``/rosbag2_player``.
"""

from __future__ import annotations

from robotfleet_nodes.bag._mcap import BagError, BagSummary, TopicSummary
from robotfleet_nodes.bag._storage import summarize
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
