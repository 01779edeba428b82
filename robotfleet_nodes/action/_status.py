"""Goal states and the answers of goal / cancel callbacks, as rclpy names them."""

from __future__ import annotations

import enum

__all__ = ["TERMINAL_STATES", "CancelResponse", "GoalResponse", "GoalStatus"]


class GoalStatus(enum.IntEnum):
    """A goal's state: the ``STATUS_*`` constants of ``action_msgs/msg/GoalStatus``."""

    UNKNOWN = 0
    ACCEPTED = 1
    EXECUTING = 2
    CANCELING = 3
    SUCCEEDED = 4
    CANCELED = 5
    ABORTED = 6


#: States a goal never leaves.
TERMINAL_STATES: frozenset[GoalStatus] = frozenset(
    {GoalStatus.SUCCEEDED, GoalStatus.CANCELED, GoalStatus.ABORTED}
)


class GoalResponse(enum.Enum):
    """What a server's ``goal_callback`` returns for a new goal."""

    REJECT = 1
    ACCEPT = 2


class CancelResponse(enum.Enum):
    """What a server's ``cancel_callback`` returns for a cancel request."""

    REJECT = 1
    ACCEPT = 2
