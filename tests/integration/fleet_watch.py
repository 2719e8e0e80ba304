#!/usr/bin/env python3
"""Runs a command, then watches several brokers at once until each one shows its effect.

  fleet_watch.py MODE TOKEN TOOL ARGS-JSON PORT[,PORT...] -- COMMAND...
MODE refused: until a tools/call with TOKEN is refused (HTTP 401/403);
MODE accepted: until it answers a result that is not an error.
Each broker is polled from its own thread (a full initialize + call per attempt, in this
process, so an attempt costs milliseconds, not an interpreter start). Prints one line per
port, "PORT MS", the milliseconds from the command's end to the first attempt that showed
the effect (-1: not within 5 s). Exits with the command's status."""
import http.client
import json
import subprocess
import sys
import threading
import time

mode, token, tool, args, ports = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4]), sys.argv[5]
cmd = sys.argv[sys.argv.index("--") + 1:]
ports = [int(p) for p in ports.split(",")]


def attempt(port):
    def post(body, sid=None):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        h = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
             "Authorization": "Bearer " + token}
        if sid:
            h["Mcp-Session-Id"] = sid
            h["MCP-Protocol-Version"] = "2025-11-25"
        c.request("POST", "/mcp", json.dumps(body), h)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, r.getheader("Mcp-Session-Id"), data
    st, sid, _ = post({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                       "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                                  "clientInfo": {"name": "fleet-watch", "version": "0"}}})
    if st != 200:
        return "refused" if st in (401, 403) else "other"
    post({"jsonrpc": "2.0", "method": "notifications/initialized"}, sid)
    st, _, data = post({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                        "params": {"name": tool, "arguments": args}}, sid)
    if st in (401, 403):
        return "refused"
    if st != 200:
        return "other"
    m = json.loads(data)
    res = m.get("result")
    return "accepted" if res and not res.get("isError") else "other"


result = {}


def watch(port, t0):
    while time.monotonic() - t0 < 5:
        if attempt(port) == mode:
            result[port] = int((time.monotonic() - t0) * 1000)
            return
        time.sleep(0.02)
    result[port] = -1


rc = subprocess.run(cmd, stdout=subprocess.DEVNULL).returncode
t0 = time.monotonic()
threads = [threading.Thread(target=watch, args=(p, t0)) for p in ports]
for t in threads:
    t.start()
for t in threads:
    t.join()
for p in ports:
    print(p, result[p])
sys.exit(rc)
