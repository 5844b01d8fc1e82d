"""Per-batch business reactions to telemetry (docs/telemetry-reactions.md).

``react(readings=..., before=...)`` is called once per batch by the batch worker, inside the batch's transaction:
ride tracks and distance, the geofence (zone entry/exit, slow-zone speed limits, no-ride alerts, rider
warnings), battery thresholds (status + swap task), alarms (ops alert + flag), command acks, comms restored, and
the live pushes. Batch-shaped: a handful of statements per batch, never per message.
"""

from telemetry.reactions.batch import react

__all__ = ["react"]
