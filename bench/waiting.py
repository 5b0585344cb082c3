"""What waiting on the Dask pool costs the driver while long trainings run.

``nsga2-async`` looks at the pool every ``CAPACITY_POLL_S`` (2 s) while every evaluation
in flight trains: the paper's trainings last up to 80 minutes, about 2,400 looks per
training.  Each run here submits ``--futures`` tasks that sleep longer than the run to a
real LocalCluster, then makes ``--looks`` looks with a 1 ms timeout, the way
``Study.next_finished`` does, either through ``DaskPool.as_completed`` (one done-callback
per future, registered at submit) or through a new ``distributed.as_completed`` per look
(the pool before 2026-12-02).  Reported: the client's event-loop tasks and the driver's
resident memory after the looks, and the time of the last 100 looks.  Each way runs in a
process of its own, so that one's memory does not count against the other's.

``python -m bench.waiting`` (about 1.5 minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time

from .common import machine, write_result

WAYS = ("distributed.as_completed per look", "DaskPool.as_completed")


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * 4096 / 2**20


def _loop_tasks(client) -> int:
    async def count() -> int:
        return len(asyncio.all_tasks())

    return client.sync(count)


def one(way: str, n_futures: int, looks: int) -> dict:
    """Run one way in this process; its figures."""
    from distributed import Client, LocalCluster, as_completed

    from dnnp_hpo.plugins.launchers.dask_launcher import DaskPool

    with LocalCluster(n_workers=1, threads_per_worker=n_futures, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        pool = DaskPool(client, retries=0)
        futures = [pool.submit(time.sleep, 3600) for _ in range(n_futures)]

        def look() -> None:
            source = pool.as_completed(futures, timeout=0.001) if way == WAYS[1] \
                else as_completed(futures, timeout=0.001)
            try:
                next(iter(source))
            except TimeoutError:
                pass

        tasks_before, rss_before = _loop_tasks(client), _rss_mb()
        started = time.perf_counter()
        for _ in range(looks - 100):
            look()
        last_started = time.perf_counter()
        for _ in range(100):
            look()
        ended = time.perf_counter()
        result = {"way": way, "futures": n_futures, "looks": looks,
                  "loop_tasks_before": tasks_before, "loop_tasks_after": _loop_tasks(client),
                  "rss_mb_before": rss_before, "rss_mb_after": _rss_mb(),
                  "seconds": ended - started, "ms_per_look_last_100": (ended - last_started) * 10}
        client.cancel(futures)
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--futures", type=int, default=100)
    parser.add_argument("--looks", type=int, default=1000)
    parser.add_argument("--one", choices=WAYS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one(args.one, args.futures, args.looks)))
        return {}
    rows = []
    for way in WAYS:
        done = subprocess.run([sys.executable, "-m", "bench.waiting", "--one", way, "--futures", str(args.futures),
                               "--looks", str(args.looks)], capture_output=True, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(rows[-1])
    payload = {"machine": machine(), "rows": rows}
    write_result("waiting", payload)
    return payload


def markdown(r: dict, measured: str) -> list[str]:
    out = ["", "## 6. Waiting on the engine while trainings run", "",
           (f"Measured {measured}; `python -m bench.waiting`.  A real LocalCluster runs tasks that sleep "
            "longer than the benchmark; the driver looks at them with a 1 ms timeout, as `nsga2-async` "
            "does every 2 s while all its trainings run (1,000 looks: about 33 minutes of a run)."), "",
           "| waiting through | futures in flight | looks | event-loop tasks before / after | driver RSS before / after (MB) | ms per look, last 100 |",
           "|---|---|---|---|---|---|"]
    for x in r["rows"]:
        out.append(f"| {x['way']} | {x['futures']} | {x['looks']} | {x['loop_tasks_before']} / "
                   f"{x['loop_tasks_after']} | {x['rss_mb_before']:.0f} / {x['rss_mb_after']:.0f} "
                   f"| {x['ms_per_look_last_100']:.2f} |")
    out += ["", ("`distributed.as_completed` adds a task per future to the client's event loop at each call "
                 "(two, with the one that waits), kept until that future ends: the driver grows with every "
                 "look for as long as a training runs.  `DaskPool` registers one done-callback per future "
                 "when it submits it and waits on a condition those callbacks signal, so a look costs a "
                 "scan of the futures (and here its 1 ms timeout) and nothing stays behind."), ""]
    return out


if __name__ == "__main__":
    main()
