#!/usr/bin/env python3
"""Loopback fakes for the AWS provider's integration test (stdlib only).

  aws_fake.py imds PORT LOG        IMDSv2: token (PUT), role list, role credentials
  aws_fake.py fault MODE PORT LOG  Secrets Manager endpoint that misbehaves:
     500        always HTTP 500 InternalServiceError
     429        first a 429 ThrottlingException with Retry-After: 1, then a valid answer
     throttle   always HTTP 400 ThrottlingException
Each request is appended to LOG as one JSON line (method, path, selected headers)."""
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = "FAKE-IMDS-TOKEN-0123456789"
ROLE = "credbroker-test-role"


def log(path, rec):
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(rec) + "\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    mode = ""
    logpath = ""
    count = 0

    def log_message(self, fmt, *args):  # quiet
        pass

    def send(self, status, body, ctype="application/json", extra=None):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def record(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        h = {k.lower(): v for k, v in self.headers.items()}
        log(self.logpath, {"method": self.command, "path": self.path,
                           "token": h.get("x-aws-ec2-metadata-token"),
                           "ttl": h.get("x-aws-ec2-metadata-token-ttl-seconds"),
                           "date": h.get("x-amz-date"), "auth": h.get("authorization"),
                           "target": h.get("x-amz-target"), "body": body.decode(errors="replace")})

    def do_PUT(self):
        self.record()
        if Handler.mode == "imds" and self.path == "/latest/api/token" and self.headers.get("x-aws-ec2-metadata-token-ttl-seconds"):
            return self.send(200, TOKEN, "text/plain")
        return self.send(400, "bad token request", "text/plain")

    def do_GET(self):
        self.record()
        if Handler.mode != "imds":
            return self.send(404, "", "text/plain")
        if self.headers.get("x-aws-ec2-metadata-token") != TOKEN:
            return self.send(401, "", "text/plain")
        if self.path == "/latest/meta-data/iam/security-credentials/":
            return self.send(200, ROLE, "text/plain")
        if self.path == "/latest/meta-data/iam/security-credentials/" + ROLE:
            exp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
            return self.send(200, json.dumps({"Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": "ASIAFAKEIMDS",
                                              "SecretAccessKey": "imds-secret", "Token": "imds-session-token",
                                              "Expiration": exp}))
        return self.send(404, "", "text/plain")

    def do_POST(self):
        self.record()
        Handler.count += 1
        if Handler.mode == "500":
            return self.send(500, json.dumps({"__type": "InternalServiceError", "Message": "boom"}),
                             "application/x-amz-json-1.1")
        if Handler.mode == "throttle":
            return self.send(400, json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}),
                             "application/x-amz-json-1.1")
        if Handler.mode == "429" and Handler.count == 1:
            return self.send(429, json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}),
                             "application/x-amz-json-1.1", {"Retry-After": "1"})
        return self.send(200, json.dumps({"ARN": "arn:aws:secretsmanager:us-east-1:1:secret:f-AbCdEf", "Name": "f",
                                          "VersionId": "11111111-2222-3333-4444-555555555555",
                                          "SecretString": "after-retry", "VersionStages": ["AWSCURRENT"],
                                          "CreatedDate": 1700000000.5}), "application/x-amz-json-1.1")


def main():
    if sys.argv[1] == "imds":
        Handler.mode, port, Handler.logpath = "imds", int(sys.argv[2]), sys.argv[3]
    else:
        Handler.mode, port, Handler.logpath = sys.argv[2], int(sys.argv[3]), sys.argv[4]
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.timeout = 1
    deadline = time.time() + 300  # never outlives a stuck test
    while time.time() < deadline:
        srv.handle_request()


if __name__ == "__main__":
    main()
