#!/usr/bin/env python3
"""Renders bench/run.sh's raw results as a markdown report (Python 3 stdlib only).

  report.py RUN_DIR      reads RUN_DIR/meta.tsv and RUN_DIR/results.tsv, prints markdown

meta.tsv:    key <TAB> value
results.tsv: round <TAB> endpoint <TAB> side <TAB> rps <TAB> p50_us <TAB> p99_us <TAB> non2xx
                   <TAB> errors <TAB> requests <TAB> server_cpu_pct <TAB> wrk_cpu_pct <TAB> other_cpu_pct
                   [<TAB> max_us <TAB> steal_ms]   (older runs lack the last two)
             mem <TAB> endpoint <TAB> side <TAB> peak_rss_kib
             skip <TAB> endpoint <TAB> side <TAB> reason
"""

import statistics
import sys
from collections import OrderedDict, defaultdict


def fmt_rps(x):
    return f"{x:,.0f}" if x >= 100 else f"{x:,.1f}"


def fmt_ms(us):
    ms = us / 1000
    if ms >= 100:
        return f"{ms:,.0f}"
    if ms >= 10:
        return f"{ms:.1f}"
    return f"{ms:.2f}"


def num(s):
    try:
        return float(s)
    except ValueError:
        return None


def main():
    run = sys.argv[1]
    meta = OrderedDict()
    with open(f"{run}/meta.tsv") as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("\t")
            meta[k] = v
    rounds = defaultdict(list)
    mem, skip = {}, {}
    endpoints = []
    with open(f"{run}/results.tsv") as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if p[1] not in endpoints:
                endpoints.append(p[1])
            if p[0] == "mem":
                mem[(p[1], p[2])] = int(p[3]) if p[3].isdigit() else None
            elif p[0] == "skip":
                skip[(p[1], p[2])] = p[3]
            else:
                rounds[(p[1], p[2])].append(
                    dict(round=int(p[0]), rps=float(p[3]), p50=float(p[4]), p99=float(p[5]),
                         non2xx=int(p[6]), errors=int(p[7]), requests=int(p[8]),
                         cpu=num(p[9]), wrk=num(p[10]), other=num(p[11]),
                         max=num(p[12]) if len(p) > 12 else None,
                         steal=num(p[13]) if len(p) > 13 else None)
                )
    sides = [s for s in meta.get("sides", "lendbook").split(",") if s]
    names = {s: meta.get(f"name.{s}", s) for s in sides}

    out = []
    w = out.append
    w(f"### lendbook benchmark, {meta.get('date', '?')}")
    w("")
    w(f"- Command: `{meta.get('command', '?')}`")
    w(f"- Machine: {meta.get('machine', '?')}")
    w(f"- Mode: {meta.get('mode', '?')}")
    w(f"- Load: {meta.get('load', '?')}")
    w(f"- Data: {meta.get('data', '?')}")
    others = [r["other"] for rs in rounds.values() for r in rs if r["other"] is not None]
    if others:
        busy = max(others) > 15
        w(
            f"- Other load: {'**busy host** — ' if busy else ''}CPU used by other processes during the "
            f"measured rounds: median {statistics.median(others):.0f}%, max {max(others):.0f}% of one core"
            + (" (these numbers are skewed; rerun on a quiet machine)" if busy else "")
        )
    steals = [r["steal"] for rs in rounds.values() for r in rs if r["steal"] is not None]
    if steals:
        w(
            f"- Steal: time the hypervisor took from the server's CPU during the measured rounds: "
            f"{sum(steals):,.0f} ms in all, at most {max(steals):,.0f} ms in one round "
            f"({sum(1 for x in steals if x > 0)} of {len(steals)} rounds had some); a stalled "
            "virtual CPU shows up as p99 and max latency that no change to the server moves"
        )
    if meta.get("note"):
        w(f"- Note: {meta['note']}")
    for s in sides:
        if meta.get(f"about.{s}"):
            w(f"- {names[s]}: {meta[f'about.{s}']}")
    w("")
    first = sides[0]
    compared = sides[1:]
    head = "| endpoint | server | req/s median (min–max) | p50 ms | p99 ms | non-2xx | errors | server CPU | peak RSS MiB |"
    align = "|---|---|---:|---:|---:|---:|---:|---:|---:|"
    if compared:
        head += f" {names[first]} compared |"
        align += "---|"
    w(head)
    w(align)
    med_rps, med_p99 = {}, {}
    for ep in endpoints:
        label = meta.get(f"endpoint.{ep}", ep)
        rows = []
        for s in sides:
            rs = rounds.get((ep, s))
            if not rs and (ep, s) not in skip:
                continue  # not measured on this side (e.g. bare axum answers /api/public/ only)
            cells = [f"`{label}`" if not rows else "", names[s]]
            if not rs:
                cells += [f"skipped: {skip.get((ep, s), 'not run')}"] + [""] * 6
            else:
                rps = [r["rps"] for r in rs]
                m = statistics.median(rps)
                med_rps[(ep, s)] = m
                cpus = [r["cpu"] for r in rs if r["cpu"] is not None]
                rss = mem.get((ep, s))
                timed = [r for r in rs if r["requests"] > 0]  # wrk has no latency for 0 requests
                if timed:
                    med_p99[(ep, s)] = statistics.median(r["p99"] for r in timed)
                cells += [
                    f"{fmt_rps(m)} ({fmt_rps(min(rps))}–{fmt_rps(max(rps))})",
                    fmt_ms(statistics.median(r["p50"] for r in timed)) if timed else "–",
                    fmt_ms(med_p99[(ep, s)]) if timed else "–",
                    str(sum(r["non2xx"] for r in rs)),
                    str(sum(r["errors"] for r in rs)),
                    f"{statistics.median(cpus):.0f}%" if cpus else "?",
                    f"{rss / 1024:.1f}" if rss else "?",
                ]
            rows.append(cells)
        if compared and rows:
            a = med_rps.get((ep, first))
            parts = []
            for o in compared:
                b = med_rps.get((ep, o))
                if a and b:
                    r = a / b
                    parts.append(f"**{r:.0f}×** {names[o]}" if r >= 10 else f"**{r:.0%}** of {names[o]}")
            rows[0].append("; ".join(parts) or "n/a")
            for r in rows[1:]:
                r.append("")
        for cells in rows:
            w("| " + " | ".join(cells) + " |")
    goals = []

    def ratio(ep, a, b):
        x, y = med_rps.get((ep, a)), med_rps.get((ep, b))
        return x / y if x and y else None

    def goal(text, value, ok, shown):
        goals.append(f"| {text} | {shown if value is not None else 'not measured'} | "
                     f"{('**met**' if ok else '**not met**') if value is not None else '–'} |")

    if "plain" in sides:
        r = ratio("private", first, "plain")
        goal("token `/api/private/` with every layer on ≥ 90% of the layers off", r, r is not None and r >= 0.9, f"{r:.0%}" if r else "")
    layers = {}
    try:
        with open(f"{run}/layers.tsv") as f:
            for line in f:
                ep, variant, med, lo, hi, reps = line.rstrip("\n").split("\t")
                layers[(ep, variant)] = (float(med), float(lo), float(hi), int(reps))
    except FileNotFoundError:
        pass
    if ("private", "on") in layers:
        med, lo, hi, reps = layers[("private", "on")]
        goal("token `/api/private/` with every layer on ≥ 90% of the layers off, both loaded at once "
             f"(`bench/layers.sh`, requests per CPU-second, {reps} reps)",
             med, med >= 90, f"{med:.0f}% ({lo:.0f}–{hi:.0f}%)")
    if "vs" in sides:
        r = ratio("private", first, "vs")
        goal("token `/api/private/` ≥ 120× the reference", r, r is not None and r >= 120, f"{r:.0f}×" if r else "")
        r = ratio("borrowings", first, "vs")
        goal("borrowings list ≥ 100× the reference", r, r is not None and r >= 100, f"{r:.0f}×" if r else "")
    if "axum" in sides:
        r = ratio("public", first, "axum")
        goal("`/api/public/` ≥ 80% of bare axum (every layer on)", r, r is not None and r >= 0.8, f"{r:.0%}" if r else "")
        if "plain" in sides:
            r = ratio("public", "plain", "axum")
            goal("`/api/public/` ≥ 80% of bare axum (layers off)", r, r is not None and r >= 0.8, f"{r:.0%}" if r else "")
    reads = [ep for ep in endpoints if ep in ("public", "private", "session", "borrowings", "friends")]
    for ep in reads:
        p99 = med_p99.get((ep, first))
        goal(f"p99 < 5 ms at {meta.get('conns', '64')} connections: `{meta.get(f'endpoint.{ep}', ep)}`",
             p99, p99 is not None and p99 < 5000, fmt_ms(p99) + " ms" if p99 is not None else "")
    if goals:
        w("")
        w("| goal (issue 15) | measured | |")
        w("|---|---:|---|")
        out.extend(goals)
    if layers:
        layer_names = {"on": "every layer on", "off": "layers off (control)", "log": "access log", "metrics": "metrics",
                 "throttle": "user-rate throttle", "hosts": "allowed hosts", "cors": "CORS"}
        w("")
        w("Every layer on against off with both servers loaded at once on the server CPU "
          "(`bench/layers.sh`; the control pairs two layers-off servers): requests per CPU-second, "
          "% of the layers-off server's in the same rep, median (min–max).")
        w("")
        w("| endpoint | variant | of layers off |")
        w("|---|---|---:|")
        for (ep, variant), (med, lo, hi, reps) in layers.items():
            w(f"| `{meta.get(f'endpoint.{ep}', ep)}` | {layer_names.get(variant, variant)} | {med:.1f}% ({lo:.1f}–{hi:.1f}) |")
    w("")
    w(
        "req/s: median of the rounds (min–max in brackets); p50/p99: median over the rounds of "
        "wrk's per-round percentiles; non-2xx and errors (socket errors and timeouts): summed over "
        "the measured rounds; server CPU: the server's processes' CPU time per wall second "
        "(100% = one core), median over the rounds (per round also wrk's, and the rest of the "
        "machine's user+system time: other processes); peak RSS: VmHWM summed over the server's "
        "processes, reset before the endpoint's warm-up and read after its last round. Per "
        "round also the slowest request (max) and the steal time of the server's CPU."
    )
    w("")
    w("<details><summary>Per round</summary>")
    w("")
    w("| endpoint | server | round | req/s | p50 ms | p99 ms | max ms | non-2xx | errors | requests | server CPU | wrk CPU | other CPU | steal ms |")
    w("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for ep in endpoints:
        for s in sides:
            for r in rounds.get((ep, s), []):
                cpu, wcpu, other = ("?" if r[k] is None else f"{r[k]:.0f}%" for k in ("cpu", "wrk", "other"))
                label = meta.get(f"endpoint.{ep}", ep)
                p50, p99 = (fmt_ms(r[k]) if r["requests"] else "–" for k in ("p50", "p99"))
                pmax = fmt_ms(r["max"]) if r["requests"] and r["max"] is not None else "–"
                steal = "?" if r["steal"] is None else f"{r['steal']:.0f}"
                w(
                    f"| `{label}` | {names[s]} | {r['round']} | {fmt_rps(r['rps'])} | {p50} | "
                    f"{p99} | {pmax} | {r['non2xx']} | {r['errors']} | {r['requests']} | {cpu} | {wcpu} | {other} | {steal} |"
                )
    w("")
    w("</details>")
    print("\n".join(out))


if __name__ == "__main__":
    main()
