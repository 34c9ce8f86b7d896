#!/usr/bin/env python3
"""HTTP client for bench/daemon.sh (stdlib only).

    http_load.py startup --runs N --port P -- KYSO serve ARGS...
        Spawns the daemon N times; each time measures from just before the
        spawn until GET /v1/hello answers 200, then stops it (SIGTERM).
        Prints one time in milliseconds per line.

    http_load.py login --port P --origin O --pdf ONE.pdf --pin PIN
        Makes the first POST /v1/sign (202 + consent_url), answers the consent
        page as the user would (approve, PIN), and checks that the next
        POST /v1/sign answers 200 with a PDF: the login is cached from then on.

    http_load.py sign --port P --origin O --pdf ONE.pdf -n N [--clients C]
                      [--save OUT.pdf] [--warmup W]
        N POST /v1/sign of the same PDF, each client on its own keep-alive
        connection, one request at a time per client. Every request is timed
        end to end: from sending the request line until the last byte of the
        signed PDF is read. Prints JSON: per-request latencies (ms) summary,
        the wall time of the whole run and documents per second.

The Host header http.client sends is "127.0.0.1:PORT", which the daemon's
guard accepts; every /v1 call carries X-Kyso-Request: 1 and the Origin.
"""

import argparse
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse


def api_headers(origin, content_type=None):
    h = {"X-Kyso-Request": "1", "Origin": origin}
    if content_type:
        h["Content-Type"] = content_type
    return h


def percentile(sorted_ms, p):
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_ms:
        return float("nan")
    k = max(1, -(-len(sorted_ms) * p // 100))  # ceil(n * p / 100), at least 1
    return sorted_ms[int(k) - 1]


# --- start-up -----------------------------------------------------------------

HELLO = (b"GET /v1/hello HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
         b"X-Kyso-Request: 1\r\nConnection: close\r\n\r\n")


def hello_ok(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(HELLO % port)
            data = b""
            while b"\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    return False
                data += chunk
            return data.split(b"\r\n", 1)[0].split()[1] == b"200"
    except OSError:
        return False


def cmd_startup(a):
    for _ in range(a.runs):
        t0 = time.perf_counter()
        p = subprocess.Popen(a.command, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = t0 + 20
            while not hello_ok(a.port):
                if p.poll() is not None:
                    sys.exit("the daemon exited with status %d" % p.returncode)
                if time.perf_counter() > deadline:
                    sys.exit("the daemon did not answer within 20 s")
                time.sleep(0.001)
            t1 = time.perf_counter()
        finally:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        print("%.2f" % ((t1 - t0) * 1000))
        time.sleep(0.2)  # the port is free again; let the machine settle


# --- login ----------------------------------------------------------------------

def request(conn, method, path, body=None, headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()


def cmd_login(a):
    pdf = open(a.pdf, "rb").read()
    base = "http://127.0.0.1:%d" % a.port
    conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=60)
    st, _, body = request(conn, "POST", "/v1/sign", pdf,
                          api_headers(a.origin, "application/pdf"))
    if st != 202:
        sys.exit("first POST /v1/sign: expected 202, got %d: %r" % (st, body[:300]))
    job = json.loads(body)
    url = job["consent_url"]
    assert url.startswith(base), url
    st, _, page = request(conn, "GET", url[len(base):])
    if st != 200:
        sys.exit("consent page: %d" % st)
    m = re.search(rb'name="t" value="([^"]*)"', page)
    if not m:
        sys.exit("no one-time token in the consent page")
    form = urllib.parse.urlencode({"t": m.group(1).decode(), "decision": "approve",
                                   "pin": a.pin})
    st, _, body = request(conn, "POST", "/consent/%s" % job["job_id"], form.encode(),
                          {"Origin": base,
                           "Content-Type": "application/x-www-form-urlencoded"})
    if st >= 400:
        sys.exit("consent answer: %d %r" % (st, body[:300]))
    # The consent answer signs the first job; from now on the PIN is cached.
    st, h, body = request(conn, "POST", "/v1/sign", pdf,
                          api_headers(a.origin, "application/pdf"))
    if st != 200 or h.get("content-type") != "application/pdf":
        sys.exit("POST /v1/sign after login: expected 200 with a PDF, got %d %r"
                 % (st, body[:300]))
    print("logged in; signed PDF %d bytes" % len(body), file=sys.stderr)


# --- signing load --------------------------------------------------------------

def client(port, origin, pdf, n, out, errors, save=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.connect()
    # Nagle would hold back the body after the headers: http.client sends
    # them in separate writes for small bodies. Browsers and curl disable it.
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    headers = api_headers(origin, "application/pdf")
    for _ in range(n):
        t0 = time.perf_counter()
        conn.request("POST", "/v1/sign", body=pdf, headers=headers)
        r = conn.getresponse()
        body = r.read()
        t1 = time.perf_counter()
        if r.status != 200 or not body.startswith(b"%PDF"):
            errors.append("%d %r" % (r.status, body[:200]))
            return
        if r.will_close:
            errors.append("the server closed the keep-alive connection")
            return
        out.append((t1 - t0) * 1000)
        if save:
            with open(save, "wb") as f:
                f.write(body)
            save = None
    conn.close()


def run_clients(a, pdf, n_each, clients):
    lat, errors, threads = [], [], []
    for i in range(clients):
        threads.append(threading.Thread(
            target=client,
            args=(a.port, a.origin, pdf, n_each, lat, errors,
                  a.save if i == 0 else None)))
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if errors:
        sys.exit("POST /v1/sign failed: %s" % errors[0])
    return lat, wall


def cmd_sign(a):
    pdf = open(a.pdf, "rb").read()
    if a.warmup:
        run_clients(a, pdf, a.warmup, 1)
    n_each = a.n // a.clients
    lat, wall = run_clients(a, pdf, n_each, a.clients)
    lat.sort()
    print(json.dumps({
        "clients": a.clients,
        "requests": len(lat),
        "wall_s": wall,
        "docs_per_s": len(lat) / wall,
        "p50_ms": percentile(lat, 50),
        "p90_ms": percentile(lat, 90),
        "p99_ms": percentile(lat, 99),
        "min_ms": lat[0],
        "max_ms": lat[-1],
        "mean_ms": sum(lat) / len(lat),
    }))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("startup")
    s.add_argument("--runs", type=int, default=7)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("command", nargs=argparse.REMAINDER)
    s = sub.add_parser("login")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--origin", required=True)
    s.add_argument("--pdf", required=True)
    s.add_argument("--pin", required=True)
    s = sub.add_parser("sign")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--origin", required=True)
    s.add_argument("--pdf", required=True)
    s.add_argument("-n", type=int, default=500)
    s.add_argument("--clients", type=int, default=1)
    s.add_argument("--warmup", type=int, default=0)
    s.add_argument("--save")
    a = ap.parse_args()
    if a.cmd == "startup":
        if a.command and a.command[0] == "--":
            a.command = a.command[1:]
        if not a.command:
            ap.error("startup needs the daemon command after --")
        cmd_startup(a)
    elif a.cmd == "login":
        cmd_login(a)
    else:
        cmd_sign(a)


if __name__ == "__main__":
    main()
