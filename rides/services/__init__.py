"""Every write of the rides app (``from rides import services``)."""

from rides.services.feedback import ride_problem_report, ride_rate
from rides.services.finish import ride_end, ride_end_now, ride_fare, ride_lock_reported, rides_charge_pending
from rides.services.lifecycle import ride_pause, ride_resume
from rides.services.ops import ride_force_end, rides_auto_end, rides_sweep_commands
from rides.services.outcomes import ride_command_closed
from rides.services.reservations import reservation_cancel, reservation_create, reservations_expire
from rides.services.start import ride_start
from rides.services.track import RideProgress, TrackFix, ride_track_append, ride_track_append_batch

__all__ = [
    "reservation_cancel", "reservation_create", "reservations_expire", "ride_command_closed", "ride_end",
    "ride_end_now", "ride_fare", "ride_force_end", "ride_lock_reported", "ride_pause", "ride_problem_report", "ride_rate",
    "ride_resume", "ride_start", "ride_track_append", "rides_auto_end", "rides_charge_pending",
    "rides_sweep_commands", "ride_track_append_batch", "RideProgress", "TrackFix",
]
