#!/usr/bin/env python3
"""HTTPS webhook receiver for the monitor's webhook test (stdlib only, loopback).

  webhook_receiver.py PORT CERT KEY LOG [FAIL_FIRST]
Appends each POST body (one JSON line) to LOG and answers 204. With FAIL_FIRST=N the
first N requests get HTTP 503, to exercise the sender's retries."""
import ssl
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, CERT, KEY, LOG = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
FAIL_FIRST = int(sys.argv[5]) if len(sys.argv) > 5 else 0
seen = {"n": 0}


class H(BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n) if 0 < n < 1 << 20 else b""
        seen["n"] += 1
        if seen["n"] <= FAIL_FIRST:
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        with open(LOG, "ab") as f:
            f.write(body.replace(b"\n", b" ") + b"\n")
        self.send_response(204)
        self.end_headers()

    def log_message(self, *a):
        pass


srv = ThreadingHTTPServer(("127.0.0.1", PORT), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(CERT, KEY)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
