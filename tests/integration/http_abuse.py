#!/usr/bin/env python3
"""Attacks on `credbroker serve` for test_http_abuse.sh, loopback only, each bounded in
count and time. Prints TAP-free result lines "name value ..." that the shell asserts on.
  http_abuse.py slowloris PORT TOKEN CONNS HOLD_S
  http_abuse.py sessions PORT TOKEN_A TOKEN_B N
  http_abuse.py badtokens PORT TOKEN N
  http_abuse.py batch PORT TOKEN N PID
"""
import http.client, json, resource, socket, sys, threading, time

ACC = 'application/json, text/event-stream'
INIT = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "abuse", "version": "0"}}}


def hdrs(token, sid=None, ver='2025-11-25'):
    h = {'Accept': ACC, 'Content-Type': 'application/json', 'Authorization': 'Bearer ' + token}
    if sid:
        h['Mcp-Session-Id'] = sid
        h['MCP-Protocol-Version'] = ver
    return h


def post(c, token, body, sid=None, ver='2025-11-25'):
    c.request('POST', '/mcp', body=json.dumps(body) if not isinstance(body, (bytes, str)) else body,
              headers=hdrs(token, sid, ver))
    r = c.getresponse()
    return r.status, r.getheader('Mcp-Session-Id'), r.read()


def session(port, token, ver='2025-11-25'):
    c = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
    init = dict(INIT)
    init['params'] = dict(INIT['params'], protocolVersion=ver)
    st, sid, _ = post(c, token, init)
    assert st == 200 and sid, st
    post(c, token, {"jsonrpc": "2.0", "method": "notifications/initialized"}, sid, ver)
    return c, sid


def timed(f):
    """A probe that times out or fails counts as a failed probe of its duration."""
    def w(*a):
        t0 = time.monotonic()
        try:
            return f(*a)
        except (OSError, http.client.HTTPException):
            return False, (time.monotonic() - t0) * 1000
    return w


@timed
def timed_call(port, token, sid, n):
    """One tools/call on a new connection (as a client that just connected would)."""
    c = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
    t0 = time.monotonic()
    st, _, b = post(c, token, {"jsonrpc": "2.0", "id": n, "method": "tools/call",
                               "params": {"name": "connections_list", "arguments": {}}}, sid)
    dt = (time.monotonic() - t0) * 1000
    c.close()
    return st == 200 and b'"result"' in b, dt


@timed
def timed_health(port):
    c = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
    t0 = time.monotonic()
    c.request('GET', '/healthz')
    r = c.getresponse()
    r.read()
    dt = (time.monotonic() - t0) * 1000
    c.close()
    return r.status == 200, dt


def slowloris(port, token, conns, hold):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, conns + 512), hard))
    _, sid = session(port, token)
    socks = []
    for i in range(conns):
        s = socket.create_connection(('127.0.0.1', port), timeout=5)
        s.sendall(b'POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n')
        socks.append(s)
    opened = len(socks)
    ok_h = ok_c = probes = 0
    worst_h = worst_c = 0.0
    t_end = time.monotonic() + hold
    next_line = time.monotonic() + 5
    n = 0
    while time.monotonic() < t_end:
        if time.monotonic() >= next_line:  # one more header line every 5 s, forever
            for s in socks:
                try:
                    s.sendall(b'X-Slow: %d\r\n' % n)
                except OSError:
                    pass
            next_line += 5
        probes += 1
        n += 1
        good, dt = timed_health(port)
        ok_h += good and dt <= 200
        worst_h = max(worst_h, dt)
        good, dt = timed_call(port, token, sid, n)
        ok_c += good and dt <= 200
        worst_c = max(worst_c, dt)
        time.sleep(0.5)
    closed = 0
    for s in socks:  # the server must have closed them (request deadline)
        s.setblocking(False)
        try:
            closed += s.recv(1) == b''
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
        s.close()
    print('slowloris opened', opened, 'probes', probes, 'health_ok', ok_h, 'call_ok', ok_c,
          'health_max_ms', round(worst_h, 1), 'call_max_ms', round(worst_c, 1), 'closed_by_server', closed)


def sessions(port, a, b, n):
    c = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
    codes = {}
    for i in range(n):
        st, sid, _ = post(c, a, INIT)
        codes[st] = codes.get(st, 0) + 1
    c.close()
    c = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
    st, sid, _ = post(c, b, INIT)
    # the first key's newest session still works; its oldest were ended by its own cap
    print('sessions a_codes', ','.join('%d:%d' % kv for kv in sorted(codes.items())), 'b_init', st, 'b_sid', 1 if sid else 0)


def badtokens(port, token, n):
    _, sid = session(port, token)
    base = sorted(timed_call(port, token, sid, i)[1] for i in range(10))
    base_med = base[len(base) // 2]
    done = []

    def bad(i):
        c = http.client.HTTPConnection('127.0.0.1', port, timeout=30)
        st, _, _ = post(c, 'cbk_%08x_%s' % (i, 'x' * 43), INIT)
        done.append(st)
    th = [threading.Thread(target=bad, args=(i,)) for i in range(n)]
    for t in th:
        t.start()
    time.sleep(0.2)  # failures recorded; the late answers are still pending
    lat = []
    oks = 0
    for i in range(20):
        good, dt = timed_call(port, token, sid, 100 + i)
        oks += good
        lat.append(dt)
    for t in th:
        t.join()
    print('badtokens base_ms', round(base_med, 1), 'during_max_ms', round(max(lat), 1), 'during_ok', oks,
          'bad_codes', ','.join(sorted(set(str(x) for x in done))))


def rss_kb(pid):
    with open('/proc/%s/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return -1


def batch(port, token, n, pid):
    c, sid = session(port, token, '2025-03-26')
    body = json.dumps([{"jsonrpc": "2.0", "id": i, "method": "tools/list"} for i in range(n)])
    before = rss_kb(pid)
    st, _, b = post(c, token, body, sid, '2025-03-26')
    after = rss_kb(pid)
    small = json.dumps([{"jsonrpc": "2.0", "id": i, "method": "tools/list"} for i in range(3)])
    st2, _, b2 = post(c, token, small, sid, '2025-03-26')
    ok_small = st2 == 200 and isinstance(json.loads(b2), list) and len(json.loads(b2)) == 3
    print('batch bytes', len(body), 'status', st, 'reply_bytes', len(b), 'code', json.loads(b).get('error', {}).get('code')
          if b.startswith(b'{') else 'none', 'rss_before_kb', before, 'rss_after_kb', after, 'small_ok', int(ok_small))


if __name__ == '__main__':
    cmd, port = sys.argv[1], int(sys.argv[2])
    if cmd == 'slowloris':
        slowloris(port, sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
    elif cmd == 'sessions':
        sessions(port, sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif cmd == 'badtokens':
        badtokens(port, sys.argv[3], int(sys.argv[4]))
    elif cmd == 'batch':
        batch(port, sys.argv[3], int(sys.argv[4]), sys.argv[5])
