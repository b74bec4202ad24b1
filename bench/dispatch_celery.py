"""Celery 5 + Redis side of bench/dispatch.sh: the Celery app, its one task, and the client.

The worker side is started by bench/dispatch.sh as

    python3 -m celery -A dispatch_celery worker --pool prefork --concurrency N
        --prefetch-multiplier 1 -O fair --without-gossip --without-mingle --without-heartbeat

with this directory on PYTHONPATH and DISPATCH_REDIS naming the Redis server
(redis://127.0.0.1:PORT/0), used as both broker and result backend.  The client is

    python3 dispatch_celery.py [--workers N] [--tasks T] [--payload BYTES] [--inflight W]

It warms up (2N tasks, waited for, untimed: the worker may still be starting),
then sends T tasks of `echo` with a PAYLOAD-byte string (default 64) and waits
for every result, keeping at most W tasks outstanding (default N, the one
task per worker that the ZeroMQ and migr dispatchers keep; 0 sends all T at
once, and then a task's latency includes its wait in the queue).  Results come
back through the Redis result backend (pub/sub on the task's key), which is
what the client needs to see a task finish.  Prints one JSON object:

    {"tasks","workers","seconds","tasks_per_s","p50_ms","p99_ms","max_ms"}

seconds runs from the first timed send to the last result; a task's latency
from just before apply_async to the moment its result reaches the client.
"""
import argparse
import json
import math
import os
import sys
import time

from celery import Celery

REDIS = os.environ.get("DISPATCH_REDIS", "redis://127.0.0.1:6379/0")

app = Celery("dispatch_celery", broker=REDIS, backend=REDIS)
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    worker_prefetch_multiplier=1,
    worker_hijack_root_logger=False,
    result_expires=3600,
)


@app.task(name="dispatch.echo")
def echo(payload):
    """The no-op task: hands its payload back, as bench/dispatch_zmq.c's workers do."""
    return payload


def quantile_ms(sorted_s, q):
    """Nearest-rank q-quantile of sorted latencies in seconds, in milliseconds."""
    rank = max(1, math.ceil(q * len(sorted_s)))
    return sorted_s[rank - 1] * 1e3


def run(tasks, workers, payload, inflight, stall_s=60.0):
    """Sends `tasks` echo tasks, at most `inflight` outstanding; returns the JSON dict."""
    consumer = app.backend.result_consumer
    sent_at = {}        # task id -> perf_counter() just before its apply_async
    latencies = []      # seconds, in the order results came
    state = {"sent": 0, "last_progress": time.perf_counter()}

    def send_one():
        t = time.perf_counter()
        result = echo.apply_async((payload,))
        sent_at[result.id] = t
        state["sent"] += 1
        result.then(on_ready, on_error)

    def on_ready(result):
        now = time.perf_counter()
        if result.failed():
            raise RuntimeError(f"task {result.id} failed: {result.result!r}")
        latencies.append(now - sent_at.pop(result.id))
        state["last_progress"] = now
        if state["sent"] < tasks:
            send_one()

    def on_error(exc):
        raise exc

    t0 = time.perf_counter()
    for _ in range(min(tasks, inflight)):
        send_one()
    while len(latencies) < tasks:
        consumer.drain_events(timeout=1.0)
        if time.perf_counter() - state["last_progress"] > stall_s:
            raise RuntimeError(f"no result for {stall_s:.0f} s after {len(latencies)} of {tasks}")
    seconds = time.perf_counter() - t0
    latencies.sort()
    return {
        "tasks": tasks,
        "workers": workers,
        "seconds": round(seconds, 6),
        "tasks_per_s": round(tasks / seconds, 1),
        "p50_ms": round(quantile_ms(latencies, 0.50), 4),
        "p99_ms": round(quantile_ms(latencies, 0.99), 4),
        "max_ms": round(latencies[-1] * 1e3, 4),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--payload", type=int, default=64)
    parser.add_argument("--inflight", type=int, default=None,
                        help="tasks outstanding at once (default: --workers; 0: all)")
    parser.add_argument("--warmup-timeout", type=float, default=120.0)
    parser.add_argument("--json", action="store_true", help="accepted; the output is JSON")
    args = parser.parse_args()
    if args.workers < 1 or args.tasks < 1 or args.payload < 0:
        parser.error("--workers and --tasks must be >= 1, --payload >= 0")
    inflight = args.workers if args.inflight is None else args.inflight
    if inflight <= 0:
        inflight = args.tasks
    payload = "x" * args.payload

    warm = [echo.apply_async((payload,)) for _ in range(2 * args.workers)]
    for result in warm:
        result.get(timeout=args.warmup_timeout)
    print(json.dumps(run(args.tasks, args.workers, payload, inflight)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
