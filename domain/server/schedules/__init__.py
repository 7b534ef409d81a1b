"""Prefect 1 schedules, evaluated as Prefect evaluates them.

Pure computation over the wire format (``wire.load_schedule``): dates come from croniter,
dateutil's rrule and the IANA zone database, none of which does I/O beyond reading zone
data. It lives in the domain, beside the rules that use it, so the scheduler and its tests
need no adapter; tests/unit/test_layering.py allows exactly these libraries here.
"""

from dockyard.domain.server.schedules.clocks import ClockEvent
from dockyard.domain.server.schedules.schedule import Schedule
from dockyard.domain.server.schedules.wire import UnsupportedSchedule, load_schedule

__all__ = ["ClockEvent", "Schedule", "UnsupportedSchedule", "load_schedule"]
