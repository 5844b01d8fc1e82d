"""``manage.py simulate_fleet``: simulated vehicles of a city send telemetry over MQTT or HTTP and answer commands.

    manage.py simulate_fleet --vehicles 200 --rate 40 --via mqtt --rotate-credentials
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import TYPE_CHECKING, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from fleet.gateway import GatewayError

if TYPE_CHECKING:  # imported where used: the parser (--help) loads without the app registry
    from telemetry import simulator

WAIT_S = 10


class Command(BaseCommand):
    help = "Simulate N vehicles of a city driving on its streets, sending telemetry at R messages/s in total."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--vehicles", type=int, default=200,
                            help="How many vehicles: the city's first N by code (default: %(default)s).")
        parser.add_argument("--rate", type=float, default=40.0,
                            help="Messages per second, all vehicles together (default: %(default)s).")
        parser.add_argument("--via", choices=["mqtt", "http"], default="mqtt",
                            help="How the vehicles send: mqtt, to the broker at MQTT_URL as real units do, or http, "
                                 "POST /api/v1/telemetry at --url (default: %(default)s).")
        parser.add_argument("--city", default=None,
                            help="City slug (default: the demo city that `manage.py demo_data` loads).")
        parser.add_argument("--duration", type=float, default=None, help="Seconds to run (default: until stopped).")
        parser.add_argument("--rotate-credentials", action="store_true",
                            help="Give each vehicle a new IoT secret to sign its messages with. DEVELOPMENT ONLY: "
                                 "real units with the old secret are locked out (the demo vehicle keeps its own). "
                                 "This or --secrets is required.")
        parser.add_argument("--secrets", default=None,
                            help="JSON file {code: secret} of the vehicles' current secrets, instead of "
                                 "--rotate-credentials (default: none).")
        parser.add_argument("--url", default="http://127.0.0.1:8000",
                            help="Platform base URL, with --via http (default: %(default)s).")
        parser.add_argument("--http-batch", type=int, default=10,
                            help="Messages per POST per vehicle, with --via http (default: %(default)s).")
        parser.add_argument("--clients", type=int, default=4,
                            help="MQTT connections, with --via mqtt (default: %(default)s).")
        parser.add_argument("--qos", type=int, choices=[0, 1], default=1,
                            help="MQTT QoS of telemetry, with --via mqtt (default: %(default)s).")
        parser.add_argument("--moving-share", type=float, default=0.3,
                            help="Share of vehicles riding at a time, 0 to 1 (default: %(default)s).")
        parser.add_argument("--seed", type=int, default=None,
                            help="Seed of the random routes and behaviour, for a repeatable run "
                                 "(default: different each run).")
        parser.add_argument("--wait", action="store_true",
                            help="Wait for the city's vehicles and the MQTT broker, as make run does "
                                 "(default: fail at once).")

    def handle(self, *args: Any, **options: Any) -> None:
        from fleet import demo  # here: the parser (--help) loads without the app registry

        options["city"] = options["city"] or demo.CITY_SLUG
        if options["vehicles"] < 1 or options["rate"] <= 0:
            raise CommandError("--vehicles and --rate must be positive")
        stop = threading.Event()

        def request_stop(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        sim = self._start(options, stop)
        if sim is None:
            return
        self.stdout.write(f"simulate_fleet: {len(sim.vehicles)} vehicles of {options['city']}, {options['rate']:g} "
                          f"msg/s via {options['via']}, streets around {sim.grid.lat:.4f},{sim.grid.lon:.4f}")
        try:
            sim.run(stop=stop, duration=options["duration"], report=lambda line: self.stdout.write(line))
        finally:
            sim.transport.close()
        self.stdout.write(sim.summary(sim.elapsed))

    def _start(self, options: dict[str, Any], stop: threading.Event) -> simulator.Simulator | None:
        """The simulator, or (with ``--wait``) None once stopped while the city or the broker was not there yet."""
        told = False
        while not stop.is_set():
            try:
                return self._simulator(options)
            except (CommandError, GatewayError) as exc:
                if not options["wait"]:
                    raise CommandError(str(exc)) from exc
                if not told:
                    self.stdout.write(f"simulate_fleet: waiting ({exc}); retrying every {WAIT_S} s")
                    told = True
                stop.wait(WAIT_S)
        return None

    def _simulator(self, options: dict[str, Any]) -> simulator.Simulator:
        # Here: the parser (--help) loads without the app registry.
        from telemetry import simulator
        from telemetry.simulator import provision

        # The transport first: while --wait retries an unreachable broker, no vehicle's secret is rotated (each
        # retry rotated all of them, locking out every other sender of the city's vehicles every WAIT_S).
        transport: simulator.Transport
        if options["via"] == "mqtt":
            transport = simulator.MqttTransport(clients=options["clients"], qos=options["qos"])
        else:
            transport = simulator.HttpTransport(base_url=options["url"], batch=options["http_batch"])
        try:
            vehicles, grid = provision.vehicles_for(
                city_slug=options["city"], count=options["vehicles"], secrets_file=options["secrets"],
                rotate=options["rotate_credentials"], seed=options["seed"])
        except BaseException:
            transport.close()
            raise
        return simulator.Simulator(vehicles, grid, transport, rate=options["rate"], seed=options["seed"],
                                   behaviour=simulator.Behaviour(moving_share=options["moving_share"]))
