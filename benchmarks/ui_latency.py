#!/usr/bin/env python3
"""Event-loop latency of the app while a long, CPU-bound core call runs on the vault lane.

A 10 ms timer fires on the GUI thread; each firing's delay beyond its schedule is the latency a person
would feel as a stuck window. Meanwhile the lane runs the dataset readiness check (redaction, near-duplicate
search, split: pure Python, CPU-bound) over a journal of generated scenarios, again and again.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/ui_latency.py [--scenarios 2000] [--seconds 8]

Target: p99 <= 100 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
PASS = "benchmark passphrase"
TICK_MS = 10


def _scenarios(n: int):
    import random

    from localtune.journal.demo import load_demo

    demo = load_demo().scenarios
    rng = random.Random(7)
    out = []
    for i in range(n):
        base = demo[i % len(demo)]
        words = base.situation.split()
        rng.shuffle(words)  # different enough not to be near-duplicates of each other
        out.append(type(base)(situation=" ".join(words) + f" (case {i})", context=base.context,
                              industry=base.industry, people=list(base.people), tags=list(base.tags),
                              perspectives=list(base.perspectives)))
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args(argv)

    from localtune import privacy

    privacy.harden()
    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication

    from localtune.dataset.checks import readiness
    from localtune.journal.repository import Journal
    from localtune.paths import resolve
    from localtune.ui.tasks import TaskLane
    from localtune.vault import Vault

    app = QApplication([sys.argv[0]])
    paths = resolve(tempfile.mkdtemp(prefix="localtune-latency-")).ensure()
    with Vault.create(paths, PASS) as vault:
        Journal(vault).add_many(_scenarios(args.scenarios))

    lane = TaskLane(paths)
    ready = []
    lane.submit(lambda ctx: ctx.attach(Vault.open(paths, PASS)), ready.append)
    while not ready:
        app.processEvents()
        time.sleep(0.005)

    runs = []

    def check_again(report=None) -> None:
        if report is not None:
            runs.append(time.perf_counter())
        lane.submit(lambda ctx: readiness(ctx.journal.iter_all()).example_count, check_again)

    clock = QElapsedTimer()
    delays: list[float] = []
    last = [0.0]

    def tick() -> None:
        now = clock.nsecsElapsed() / 1e6
        if last[0]:
            delays.append(max(0.0, now - last[0] - TICK_MS))
        last[0] = now

    timer = QTimer()
    timer.setInterval(TICK_MS)
    timer.timeout.connect(tick)

    def measure(seconds: float) -> list[float]:
        delays.clear()
        last[0] = 0.0
        clock.start()
        timer.start()
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.001)
        timer.stop()
        return sorted(delays)

    idle = measure(min(2.0, args.seconds))
    check_again()
    started = time.perf_counter()
    busy = measure(args.seconds)
    lane.shutdown()

    def pct(values: list[float], q: float) -> float:
        return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")

    per_run = (runs[-1] - started) / len(runs) if runs else float("nan")
    print(f"journal: {args.scenarios} scenarios; readiness check on the lane: {len(runs)} runs, "
          f"~{per_run:.2f} s each")
    for name, values in (("idle", idle), ("while the lane works", busy)):
        print(f"{name:>22}: {len(values)} ticks, latency p50 {statistics.median(values):.1f} ms, "
              f"p99 {pct(values, 0.99):.1f} ms, max {values[-1]:.1f} ms")
    ok = pct(busy, 0.99) <= 100
    print("target p99 <= 100 ms:", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
