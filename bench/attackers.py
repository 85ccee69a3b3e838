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


async def hold(kind, host, port, source, every, stop, stats):
    while not stop.is_set():
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, local_addr=(source, 0)), 5
            )
        except (OSError, asyncio.TimeoutError):
            stats.refused += 1
            await asyncio.sleep(0.5)
            continue
        stats.opened += 1
        stats.held += 1
        stats.peak = max(stats.peak, stats.held)
        try:
            if kind == "trickle":
                writer.write(b"GET /api/public/ HTTP/1.1\r\n")
                await writer.drain()
                n = 0
                while not stop.is_set():
                    # An unfinished header line, one byte at a time; a read that returns
                    # means the server answered (408/400) or closed.
                    try:
                        await asyncio.wait_for(reader.read(1024), every)
                        break
                    except asyncio.TimeoutError:
                        pass
                    writer.write(b"X-a: b\r\n"[n % 8 : n % 8 + 1])
                    n += 1
                    await writer.drain()
            else:
                while not stop.is_set():
                    try:
                        await asyncio.wait_for(reader.read(1024), 1.0)
                        break
                    except asyncio.TimeoutError:
                        pass
            stats.closed_by_server += 0 if stop.is_set() else 1
        except (OSError, asyncio.IncompleteReadError):
            stats.closed_by_server += 1
        finally:
            stats.held -= 1
            writer.close()


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
    await asyncio.gather(*tasks, return_exceptions=True)
    print(json.dumps({"connections": total, "sources": sources, "peak_held": stats.peak,
                      "opened": stats.opened, "closed_by_server": stats.closed_by_server,
                      "refused": stats.refused}))


if __name__ == "__main__":
    asyncio.run(main())
