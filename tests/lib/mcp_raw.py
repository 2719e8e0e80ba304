#!/usr/bin/env python3
"""A raw JSON-RPC MCP client for tests (no SDK): stdio (a child process) or Streamable
HTTP (one session per client object). Prints nothing by itself."""
import json
import subprocess
import urllib.request

PROTO = "2025-06-18"


class Stdio:
    def __init__(self, argv, env=None):
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None,
                                  env=env, bufsize=0)
        self.n = 0
        self.rpc("initialize", {"protocolVersion": PROTO, "capabilities": {},
                                "clientInfo": {"name": "mcp_raw", "version": "1"}})
        self._send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    @property
    def pid(self):
        return self.p.pid

    def _send(self, m):
        self.p.stdin.write((json.dumps(m) + "\n").encode())

    def rpc(self, method, params):
        self.n += 1
        self._send({"jsonrpc": "2.0", "id": self.n, "method": method, "params": params})
        while True:
            line = self.p.stdout.readline()
            if not line:
                raise RuntimeError("server closed stdout")
            m = json.loads(line)
            if m.get("id") == self.n:
                return m

    def call(self, tool, args):
        return self.rpc("tools/call", {"name": tool, "arguments": args})

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=20)


class Http:
    def __init__(self, url, key):
        self.url, self.key, self.sid, self.n = url, key, None, 0
        self.rpc("initialize", {"protocolVersion": PROTO, "capabilities": {},
                                "clientInfo": {"name": "mcp_raw", "version": "1"}})
        self._post({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def _post(self, m):
        h = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
             "Authorization": "Bearer " + self.key, "MCP-Protocol-Version": PROTO}
        if self.sid:
            h["Mcp-Session-Id"] = self.sid
        req = urllib.request.Request(self.url, data=json.dumps(m).encode(), headers=h, method="POST")
        with urllib.request.urlopen(req, timeout=60) as r:
            if not self.sid:
                self.sid = r.headers.get("Mcp-Session-Id")
            body = r.read().decode()
        if not body.strip():
            return None
        if body.startswith("event:") or body.startswith("data:"):
            body = "".join(l[5:] for l in body.splitlines() if l.startswith("data:"))
        return json.loads(body)

    def rpc(self, method, params):
        self.n += 1
        return self._post({"jsonrpc": "2.0", "id": self.n, "method": method, "params": params})

    def call(self, tool, args):
        return self.rpc("tools/call", {"name": tool, "arguments": args})


def result(m):
    """(is_error, structuredContent or None, text)"""
    r = m.get("result") or {}
    text = "".join(c.get("text", "") for c in r.get("content", []))
    return bool(r.get("isError")) or "error" in m, r.get("structuredContent"), text
