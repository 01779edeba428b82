"""The factsheet (spec 6.14) a simulated vehicle publishes: what it is and which actions it runs."""

from __future__ import annotations

from typing import Any

__all__ = ["INSTANT_ACTIONS", "NODE_ACTIONS", "factsheet_body"]

#: Instant actions the simulator runs.
INSTANT_ACTIONS = (
    "cancelOrder",
    "startPause",
    "stopPause",
    "startCharging",
    "stopCharging",
    "factsheetRequest",
    "stateRequest",
)
#: Node/edge actions: any type runs for ``work_time_s`` and finishes, except ``fail`` (a test hook).
NODE_ACTIONS = ("pick", "drop", "wait", "fail")


def factsheet_body(*, speed: float, work_time_s: float, state_period_s: float) -> dict[str, Any]:
    """The factsheet message body (header fields are added when it is sent).

    ``blockingTypes`` is left out: the 2.1.0 schema puts its enum on the array itself, so no
    non-empty list validates.
    """
    actions: list[dict[str, Any]] = [
        {
            "actionType": name,
            "actionDescription": "simulated: FAILED with an error (test hook)"
            if name == "fail"
            else "simulated",
            "actionScopes": ["NODE", "EDGE"],
        }
        for name in NODE_ACTIONS
    ]
    actions += [{"actionType": name, "actionScopes": ["INSTANT"]} for name in INSTANT_ACTIONS]
    return {
        "typeSpecification": {
            "seriesName": "RobotFleetOS VDA 5050 simulator",
            "seriesDescription": "drives straight lines between nodes; actions take work_time_s",
            "agvKinematic": "DIFF",
            "agvClass": "CARRIER",
            "maxLoadMass": 100.0,
            "localizationTypes": ["NATURAL"],
            "navigationTypes": ["AUTONOMOUS"],
        },
        "physicalParameters": {
            "speedMin": 0.0,
            "speedMax": speed,
            "accelerationMax": 1.0,
            "decelerationMax": 1.0,
            "heightMax": 0.5,
            "width": 0.6,
            "length": 1.0,
        },
        "protocolLimits": {
            "maxStringLens": {},
            "maxArrayLens": {},
            "timing": {
                "minOrderInterval": 0.0,
                "minStateInterval": 0.0,
                "defaultStateInterval": state_period_s,
            },
        },
        "protocolFeatures": {"optionalParameters": [], "agvActions": actions},
        "agvGeometry": {},
        "loadSpecification": {},
        "vehicleConfig": {"versions": [{"key": "workTimeS", "value": str(work_time_s)}]},
    }
