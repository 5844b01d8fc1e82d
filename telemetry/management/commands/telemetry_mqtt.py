"""``manage.py telemetry_mqtt``: the MQTT bridge (``telemetry.mqtt.Bridge``) as a long-running process.

SIGTERM or Ctrl-C: stop taking messages, process what was received, disconnect, exit 0.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Bridge vehicles' MQTT topics (vehicles/+/telemetry, vehicles/+/ack) into the telemetry pipeline."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--client-id", default=settings.MQTT_CLIENT_ID,
                            help="MQTT client id; give each bridge process its own (default: MQTT_CLIENT_ID, "
                                 "%(default)s).")
        parser.add_argument("--clean-session", action="store_true",
                            help="Do not keep a broker session: messages sent while the bridge is down are lost "
                                 "(default: keep one).")

    def handle(self, *args: Any, client_id: str, clean_session: bool, **options: Any) -> None:
        from telemetry import mqtt  # here: the parser (--help) loads without the app registry

        # Threads waiting on Redis get the GIL back sooner than the 5 ms default while paho's thread is busy reading.
        sys.setswitchinterval(0.001)
        bridge = mqtt.Bridge(client_id=client_id, clean_session=clean_session)
        stop = threading.Event()

        def request_stop(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        target = mqtt.broker()
        self.stdout.write(f"telemetry_mqtt: {target.host}:{target.port}, topics {', '.join(bridge.filters)}")
        bridge.start()
        bridge.run(stop)
        self.stdout.write(f"telemetry_mqtt: stopped; {dict(bridge.stats)}")
