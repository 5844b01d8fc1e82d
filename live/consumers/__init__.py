"""The WebSocket edge: ``/ws/v1/rides/<id>``, ``/ws/v1/fleet?city=<id>[&bbox=...]``, ``/ws/v1/me``,
``/ws/v1/ops/tasks``.

Protocol (docs/live.md): every server message is ``{"type", "seq", "data"}``; the first one after a
(re)connect is a ``snapshot``; ``ping``/``pong`` both ways; a client reconnecting with ``?last_seq=N`` continues
at ``N+1`` with a fresh snapshot instead of the gap. Handshakes are refused (HTTP 403) for anonymous callers,
foreign rides, missing permissions and malformed queries alike, so a refusal reveals nothing.

Close codes: 4001 token expired, 4008 client too slow / unresponsive.

Modules: ``base`` (the shared ``LiveConsumer``: handshake, sequencing, heartbeat, flow control), ``coalesce``
(the ``Coalescer``), and one per socket: ``ride``, ``fleet``, ``me``, ``tasks``. The names are re-exported here.
"""

from live.consumers.base import CLOSE_TOKEN_EXPIRED, CLOSE_TOO_SLOW, LiveConsumer, Refused, dumps
from live.consumers.coalesce import Coalescer
from live.consumers.fleet import FleetConsumer
from live.consumers.me import MeConsumer
from live.consumers.ride import RideConsumer
from live.consumers.tasks import TasksConsumer

__all__ = [
    "CLOSE_TOKEN_EXPIRED",
    "CLOSE_TOO_SLOW",
    "Coalescer",
    "FleetConsumer",
    "LiveConsumer",
    "MeConsumer",
    "Refused",
    "RideConsumer",
    "TasksConsumer",
    "dumps",
]
