"""Query bombs against `dockyard server`: how fast each is refused, how the server holds up
during a storm of them, and how fast it stops in the middle of one.

Starts the server as a real process on a temporary database with some flow runs, then
1. sends each bomb (10,000 aliases; lists nested four deep through fragments; fifteen
   levels through seven fragments) several times, each time a new text (not cached), and
   times the refusal;
2. lets several threads send bombs as fast as they are answered while one thread times
   GET /health and the agent's get_runs_in_queue, and reads the server's memory from
   /proc before and after;
3. starts the storm again, sends SIGTERM and times the stop, then checks the log for
   tracebacks.

The baseline column is what the fault-injection session measured before the limits
existed (issue #9); it cannot be re-measured in the same run.

    .venv/bin/python bench/bench_query_limits.py [--runs 50] [--threads 6] [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from support.query_storm import BOMBS, REFUSED_BY, Storm, probe, rss_mib, seed  # noqa: E402
from support.server_process import start_server  # noqa: E402

TARGET_MS = 100.0
BASELINE = {
    "aliases": "344 s, 1.2 GB",
    "fragments": "> 30 s",
    "depth": "accepted (runs)",
    "shutdown": "16 s, tracebacks",
}


def _refusal_times(url: str, name: str, tries: int) -> tuple[list[float], str]:
    session = requests.Session()
    times, limit = [], "-"
    for attempt in range(tries):
        began = time.monotonic()
        body = session.post(url, json={"query": f"{BOMBS[name]} # {attempt}"}, timeout=600).json()
        times.append(time.monotonic() - began)
        (error,) = body["errors"]
        limit = error["extensions"]["limit"]
    return times, limit


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=50, help="flow runs stored before the bombs")
    parser.add_argument("--threads", type=int, default=6, help="threads sending bombs during the storm")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the storm")
    parser.add_argument("--tries", type=int, default=5, help="refusals timed per bomb")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-limits-") as tmp:
        server = start_server(Path(tmp) / "bench.db", log_level="WARNING")
        try:
            tenant, _ = seed(server.url, args.runs)
            print(f"dockyard server pid {server.process.pid}, {args.runs} flow runs stored\n")
            print(f"{'bomb':<11} {'refused by':<11} {'first':>10} {'median':>10} {'max':>10}   baseline")
            for name in BOMBS:
                times, limit = _refusal_times(server.url, name, args.tries)
                assert limit == REFUSED_BY[name], (name, limit)
                print(
                    f"{name:<11} {limit:<11} {_ms(times[0]):>10} {_ms(statistics.median(times)):>10} "
                    f"{_ms(max(times)):>10}   {BASELINE[name]}"
                )

            print(f"\n{args.threads} threads sending, one thread timing, {args.seconds:.0f} s each:")
            print(f"{'storm of':<14} {'timed':<18} {'n':>4} {'p50':>9} {'p95':>9} {'max':>9}   target")
            rss_before, _ = rss_mib(server.process.pid)
            for label, bombs in (("{ hello }", {"hello": "{ hello }"}), ("bombs", dict(BOMBS))):
                # { hello }: the same storm of the cheapest ordinary query, for comparison
                with Storm(server.url, threads=args.threads, bombs=bombs) as storm:
                    time.sleep(0.5)
                    latencies = probe(server.url, tenant, seconds=args.seconds)
                for timed, values in (
                    ("GET /health", latencies.health),
                    ("get_runs_in_queue", latencies.queue),
                ):
                    s = latencies.summary(values)
                    print(
                        f"{label:<14} {timed:<18} {s['n']:>4} {_ms(s['p50']):>9} {_ms(s['p95']):>9} "
                        f"{_ms(s['max']):>9}   < {TARGET_MS:.0f} ms"
                    )
                answered = statistics.median(a.seconds for a in storm.answers)
                print(f"{'':<14} {len(storm.answers)} requests answered, median {_ms(answered)}")
            refused = [
                a for a in storm.answers if a.status == 200 and a.body["errors"][0]["extensions"]["limit"]
            ]
            assert len(refused) == len(storm.answers), "every bomb is refused naming its limit"
            rss_after, rss_peak = rss_mib(server.process.pid)
            print(
                f"server RSS: {rss_before:.0f} MiB before the storms, {rss_after:.0f} MiB after, "
                f"peak {rss_peak:.0f} MiB   (baseline: 1.2 GB after one alias bomb)"
            )

            with Storm(server.url, threads=args.threads) as storm:
                time.sleep(2.0)
                began = time.monotonic()
                server.process.send_signal(signal.SIGTERM)
                code = server.process.wait(60)
                stopped = time.monotonic() - began
            tracebacks = server.log().count("Traceback")
            print(
                f"\nSIGTERM during a storm: stopped in {stopped:.2f} s, exit code {code}, "
                f"{tracebacks} tracebacks in the log   (baseline: {BASELINE['shutdown']})"
            )
        finally:
            server.stop()
            if os.environ.get("BENCH_SHOW_LOG"):
                print(server.log())


if __name__ == "__main__":
    main()
