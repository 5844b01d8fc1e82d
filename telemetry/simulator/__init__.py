"""The fleet simulator (``manage.py simulate_fleet``): N vehicles driving on a street grid around the city centre,
sending telemetry at a fixed total rate over MQTT or HTTP and answering commands. Used by ``make run``'s demo,
by the benchmarks and by developers; docs/telemetry-mqtt.md.

    sim = Simulator(vehicles, grid, MqttTransport(), rate=500)
    sim.run(stop=threading.Event(), duration=60)
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable

from telemetry.simulator.streets import StreetGrid
from telemetry.simulator.transports import HttpTransport, MqttTransport, Transport
from telemetry.simulator.vehicles import Behaviour, SimVehicle, answer, place, step

__all__ = ["Behaviour", "HttpTransport", "MqttTransport", "SimVehicle", "Simulator", "StreetGrid", "Transport", "place"]

MAX_BURST = 2000  # messages generated in one go when the loop fell behind (keeps command answers prompt)


class Simulator:
    def __init__(self, vehicles: list[SimVehicle], grid: StreetGrid, transport: Transport, *, rate: float,
                 behaviour: Behaviour | None = None, seed: int | None = None) -> None:
        if not vehicles:
            raise ValueError("no vehicles to simulate")
        self.vehicles, self.grid, self.transport, self.rate = vehicles, grid, transport, rate
        self.behaviour = behaviour or Behaviour()
        self.rng = random.Random(seed)
        self.by_code = {v.code: v for v in vehicles} | {str(v.id): v for v in vehicles}
        self.stats: Counter[str] = Counter()
        self.elapsed = 0.0
        self._next = 0

    def tick(self, count: int, now: float | None = None) -> None:
        """Send the next ``count`` messages, round robin over the vehicles."""
        now = now or time.time()
        n = len(self.vehicles)
        for _ in range(count):
            vehicle = self.vehicles[self._next % n]
            self._next += 1
            self.transport.send(vehicle, [step(vehicle, self.grid, self.behaviour, self.rng, now)])
        self.stats["sent"] += count

    def answer_commands(self, now: float | None = None) -> int:
        """Carry out and acknowledge the commands received so far; returns how many were answered."""
        answered = 0
        while True:
            try:
                topic, payload = self.transport.commands.get_nowait()
            except Exception:  # queue.Empty
                return answered
            vehicle = self.by_code.get(topic.rsplit("/", 2)[-2])
            try:
                command = json.loads(payload)
            except ValueError:
                command = None
            ack = answer(vehicle, command, now or time.time()) if vehicle and isinstance(command, dict) else None
            if vehicle is None or ack is None:
                self.stats["commands_ignored"] += 1
                continue
            self.transport.send(vehicle, [ack], kind="ack")
            self.stats["acks"] += 1
            answered += 1

    def run(self, *, stop: threading.Event, duration: float | None = None, report_every: float = 10.0,
            report: Callable[[str], None] | None = None) -> Counter[str]:
        """Send ``rate`` messages a second until ``stop`` is set or ``duration`` has passed; returns counters."""
        start = last_report = time.time()
        while not stop.is_set():
            now = time.time()
            if duration is not None and now - start >= duration:
                break
            due = int((now - start) * self.rate) - self.stats["sent"]
            if due > 0:
                self.tick(min(due, MAX_BURST), now)
            self.answer_commands(now)
            if report and now - last_report >= report_every:
                report(self.summary(now - start))
                last_report = now
            if due <= 0:
                time.sleep(min(0.02, 1 / self.rate if self.rate > 0 else 0.02))
        self.answer_commands()
        self.transport.flush()
        self.elapsed = time.time() - start
        return self.stats

    def summary(self, elapsed: float) -> str:
        sent = self.stats["sent"]
        return (f"simulate_fleet: {sent} messages in {elapsed:.1f} s ({sent / max(elapsed, 1e-9):.0f}/s), "
                f"{self.stats['acks']} command acks; transport {dict(self.transport.stats)}")
