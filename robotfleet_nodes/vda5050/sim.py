"""A VDA 5050 2.1.0 vehicle simulator speaking only MQTT: it stands for a third-party vehicle.

:class:`VehicleSim` is one vehicle, :func:`run_fleet` runs many in one process (``rfos vda5050
sim`` is its command line), :func:`read_vehicles` reads ``<deploy>/vda5050/vehicles.csv``. The
simulator uses nothing of RobotFleetOS's transport or messages, only MQTT (aiomqtt) and the VDA
5050 schemas and topics of :mod:`robotfleet_nodes.vda5050`.

Behaviour (spec 6.6-6.14, where the spec leaves a choice it is named here):

- A new orderId while idle is accepted and the vehicle starts where it stands: the first node
  counts as reached at once (no deviation check), then it drives straight to each next released
  node at ``speed``; it stops at the end of the base and waits for an update.
- Node actions run one after another, each RUNNING for ``work_time_s`` then FINISHED, with the
  vehicle standing (every blocking type is treated as HARD). Edge actions run while the edge is
  driven. Action type ``fail`` (a test hook) FAILS at once and adds an ``actionFailed`` error.
- Same orderId and orderUpdateId: ignored. Higher orderUpdateId: an update, which must start at
  the end of the current base (else ``orderUpdateError``). Lower: ``orderUpdateError``. Another
  orderId while an order is active: ``orderError``. Invalid JSON or schema: ``validationError``.
  Errors are WARNINGs with errorReferences; accepting a new order clears them.
- Instant actions: cancelOrder, startPause/stopPause, startCharging/stopCharging (only when idle;
  +1 %/s), factsheetRequest, stateRequest; anything else FAILS with an error.
"""

from __future__ import annotations

from robotfleet_nodes.vda5050._sim_factsheet import factsheet_body
from robotfleet_nodes.vda5050._sim_fleet import (
    VEHICLES_HEADER,
    VehicleEntry,
    read_vehicles,
    run_fleet,
    start_fleet,
    stop_fleet,
)
from robotfleet_nodes.vda5050._sim_model import OrderOutcome
from robotfleet_nodes.vda5050._sim_vehicle import Listener, VehicleSim
from robotfleet_nodes.vda5050._sim_work import FAIL_ACTION, SimCounters

__all__ = [
    "FAIL_ACTION",
    "VEHICLES_HEADER",
    "Listener",
    "OrderOutcome",
    "SimCounters",
    "VehicleEntry",
    "VehicleSim",
    "factsheet_body",
    "read_vehicles",
    "run_fleet",
    "start_fleet",
    "stop_fleet",
]
