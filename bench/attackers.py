#!/usr/bin/env python3
"""Holds idle and trickling connections against a server, for bench/attack.sh (stdlib only).

  attackers.py --host 127.0.0.1 --port 8010 --idle 2500 --trickle 2500 [--sources 40]
               [--per-source 200] [--every 2.0] [--seconds 60] [--status FILE]

Each connection comes from one of the loopback addresses 127.0.1.1, 127.0.1.2, ...
(--sources of them, at most --per-source connections each), so that the server's per-address
cap lets them in and the global limits are what is tested:

* idle: connects and sends nothing (a client that opened a socket and went away);
* trickle: sends `GET /api/public/ HTTP/1.1\\r\\n` and then one header byte every --every
  seconds, never finishing the headers (Slowloris).

The server closes both kinds after its header-read timeout; each one reconnects at once, so
the number held stays near --idle + --trickle for the whole run. Every second a line with the
connections held, opened and closed so far goes to --status (default stderr); a summary line
in JSON goes to stdout at the end.
"""

import argparse
import asyncio
import json
import resource
import sys
import time


class Stats:
    def __init__(self):
        self.held = 0
        self.opened = 0
        self.closed_by_server = 0
        self.refused = 0
        self.peak = 0


# The connections are asyncio protocols driven by timers, not stream coroutines polling with
# timeouts: 5,000 held connections must cost the attacker little CPU, because it shares its
# core with the wrk that measures the reads (the stream version took ~60% of that core and
# starved wrk, so the reads measured the load generator, not the server). What the server
# sees is the same either way.
class Held(asyncio.Protocol):
    def __init__(self, kind, every, stats, stop):
        self.kind, self.every, self.stats, self.stop = kind, every, stats, stop
        self.transport = None
        self.timer = None
        self.n = 0
        self.lost = asyncio.get_running_loop().create_future()

    def connection_made(self, transport):
        self.transport = transport
        self.stats.opened += 1
        self.stats.held += 1
        self.stats.peak = max(self.stats.peak, self.stats.held)
        if self.kind == "trickle":
            transport.write(b"GET /api/public/ HTTP/1.1\r\n")
            self.timer = asyncio.get_running_loop().call_later(self.every, self.tick)

    def tick(self):
        # An unfinished header line, one byte at a time (Slowloris).
        self.transport.write(b"X-a: b\r\n"[self.n % 8 : self.n % 8 + 1])
        self.n += 1
        self.timer = asyncio.get_running_loop().call_later(self.every, self.tick)

    def data_received(self, data):
        # The server answered (408/400): it is done with this connection.
        self.transport.close()

    def connection_lost(self, exc):
        if self.timer:
            self.timer.cancel()
        self.stats.held -= 1
        self.stats.closed_by_server += 0 if self.stop.is_set() else 1
        if not self.lost.done():
            self.lost.set_result(None)


async def hold(kind, host, port, source, every, stop, stats):
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        try:
            transport, held = await asyncio.wait_for(
                loop.create_connection(lambda: Held(kind, every, stats, stop), host, port,
                                       local_addr=(source, 0)), 5)
        except (OSError, asyncio.TimeoutError):
            stats.refused += 1
            await asyncio.sleep(0.5)
            continue
        try:
            await held.lost
        except asyncio.CancelledError:
            transport.abort()
            raise


async def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--idle", type=int, default=2500)
    p.add_argument("--trickle", type=int, default=2500)
    p.add_argument("--sources", type=int, default=0, help="default: enough for --per-source")
    p.add_argument("--per-source", type=int, default=200)
    p.add_argument("--every", type=float, default=2.0)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--status")
    a = p.parse_args()

    total = a.idle + a.trickle
    want = total + 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(want, soft), hard), hard))
    sources = a.sources or -(-total // a.per_source)
    if sources > 254:
        sys.exit("attackers.py: too many sources (at most 254 x --per-source)")
    addrs = [f"127.0.1.{i + 1}" for i in range(sources)]

    stats = Stats()
    stop = asyncio.Event()
    tasks = []
    for i in range(total):
        kind = "idle" if i < a.idle else "trickle"
        tasks.append(asyncio.create_task(
            hold(kind, a.host, a.port, addrs[i % sources], a.every, stop, stats)))
        if i % 200 == 199:
            await asyncio.sleep(0.02)  # do not trip the server's accept back-off at once

    out = open(a.status, "w", buffering=1) if a.status else sys.stderr
    t0 = time.monotonic()
    while time.monotonic() - t0 < a.seconds:
        await asyncio.sleep(1)
        print(f"t={time.monotonic() - t0:.0f}s held={stats.held} opened={stats.opened} "
              f"closed_by_server={stats.closed_by_server} refused={stats.refused}", file=out)
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(json.dumps({"connections": total, "sources": sources, "peak_held": stats.peak,
                      "opened": stats.opened, "closed_by_server": stats.closed_by_server,
                      "refused": stats.refused}))


if __name__ == "__main__":
    asyncio.run(main())
