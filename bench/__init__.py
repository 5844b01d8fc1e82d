"""Benchmarks: ``python -m bench NAME`` runs ``bench/NAME.py``'s ``main() -> dict``.

A benchmark prints readable figures as it goes and returns them; ``bench.__main__`` then prints them as one JSON
object on the very last line (for CI and for docs), and exits non-zero if the benchmark raised. Helpers for a
throw-away database, Redis namespace, timers and percentiles are in ``bench.common``. See docs/geofence.md.
"""
