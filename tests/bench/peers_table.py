#!/usr/bin/env python3
"""Summarizes bench_mcp_peers.sh's JSON lines: the mean over rounds per (scenario, server).
Writes a full markdown table (every server, ratios credbroker / toolbox) to argv[2] and
prints run.sh's rows (| what | credbroker | peer | ratio |) against toolbox."""
import json, sys
from collections import defaultdict

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
agg = defaultdict(list)
for r in rows:
    if "error" in r["r"]:
        continue
    agg[(r["scenario"], r["server"])].append(r)

def m(sc, sv, key):
    xs = agg.get((sc, sv))
    if not xs: return None
    vals = []
    for r in xs:
        x = r["r"]
        calls = max(x.get("calls", 0), 1)
        if key == "cpu_per_1000":
            if "cpu_ms" not in x: return None
            vals.append(x["cpu_ms"] / calls * 1000)
        elif key == "sessions_per_1000":
            vals.append(r["new_sessions"] / calls * 1000)
        elif key == "errors":
            vals.append(x.get("errors", 0))
        else:
            if key not in x: return None
            vals.append(x[key])
    return sum(vals) / len(vals)

servers = ["credbroker", "toolbox", "dbhub", "server-postgres", "floor"]
scen = sorted({k[0] for k in agg}, key=lambda s: (s.split()[0] != "stdio", int(s.split()[1]) if s.split()[1].isdigit() else 0, s))
metrics = [("calls_per_s", "calls/s", "{:.0f}", True), ("p50_ms", "p50 ms", "{:.2f}", False),
           ("p99_ms", "p99 ms", "{:.2f}", False), ("cpu_per_1000", "server CPU ms / 1000 calls", "{:.0f}", False),
           ("sessions_per_1000", "new PG sessions / 1000 calls", "{:.1f}", False),
           ("bytes_per_call", "bytes/call", "{:.0f}", False), ("errors", "errors", "{:.0f}", False)]
names = {"Q1": "SELECT 1", "QL": "LIMIT 1000 (8 columns)"}
out = ["| scenario | metric | " + " | ".join(servers) + " | credbroker / toolbox |",
       "| --- | --- | " + " | ".join("---" for _ in servers) + " | --- |"]
brief = []
for sc in scen:
    parts = sc.split()
    label = ("stdio, sequential" if parts[0] == "stdio" else "HTTP, %s client%s" % (parts[1], "" if parts[1] == "1" else "s")) \
        + ", " + names.get(parts[-1], parts[-1])
    for key, mname, fmt, higher in metrics:
        if key == "bytes_per_call" and not sc.endswith("QL"): continue
        vals = [m(sc, sv, key) for sv in servers]
        if all(v is None for v in vals): continue
        cb, tb = vals[0], vals[1]
        ratio = ""
        if cb is not None and tb not in (None, 0) and key not in ("errors", "sessions_per_1000"):
            ratio = "%.2f" % (cb / tb)
        out.append("| %s | %s | %s | %s |" % (label, mname, " | ".join("" if v is None else fmt.format(v) for v in vals), ratio))
        if key in ("calls_per_s", "p99_ms", "cpu_per_1000") and ratio:
            brief.append("| MCP %s: %s | %s | %s (toolbox) | %s |" % (label, mname, fmt.format(cb), fmt.format(tb), ratio))
# memory: the HTTP servers after the runs (largest RSS seen over the HTTP runs)
mem = []
for sv in ("credbroker", "toolbox", "dbhub"):
    xs = [r["r"] for (sc, s), rs in agg.items() if s == sv and sc.startswith("http") for r in rs]
    if xs:
        mem.append((sv, max(x.get("rss_kb", 0) for x in xs), max(x.get("hwm_kb", 0) for x in xs)))
out.append("")
out.append("| HTTP server | VmRSS MiB (max over runs) | VmHWM MiB | credbroker / this |")
out.append("| --- | --- | --- | --- |")
cbm = mem[0][1] if mem and mem[0][0] == "credbroker" else None
for sv, rss, hwm in mem:
    out.append("| %s | %.1f | %.1f | %s |" % (sv, rss / 1024, hwm / 1024, "%.2f" % (cbm / rss) if cbm and rss else ""))
    if sv == "toolbox" and cbm:
        brief.append("| MCP HTTP server VmRSS | %.1f MiB | %.1f MiB (toolbox) | %.2f |" % (cbm / 1024, rss / 1024, cbm / rss))
open(sys.argv[2], "w").write("\n".join(out) + "\n")
print("\n".join(brief))
