#!/usr/bin/env python3
"""One MCP tools/call over Streamable HTTP (legacy era: initialize, initialized, call),
optionally from another loopback source address (127.0.0.2) to look like another host.

  mcp_http_call.py PORT TOKEN TOOL ARGS-JSON [SOURCE-ADDR]
Prints the tools/call JSON-RPC response (or {"http_status": N} when refused)."""
import http.client
import json
import sys

port, token, tool, args = int(sys.argv[1]), sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
src = (sys.argv[5], 0) if len(sys.argv) > 5 else None


def post(body, sid=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60, source_address=src)
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


st, sid, data = post({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                      "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                                 "clientInfo": {"name": "obs-test", "version": "0"}}})
if st != 200:
    print(json.dumps({"http_status": st}))
    sys.exit(0)
post({"jsonrpc": "2.0", "method": "notifications/initialized"}, sid)
st, _, data = post({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": tool, "arguments": args}}, sid)
print(data.decode() if st == 200 else json.dumps({"http_status": st}))
