#!/usr/bin/env python3
"""Slowloris and connection-flood measurement for `livecart serve` (BENCHMARKS.md).

Starts the given livecart binary on 127.0.0.1 (port 0, temp data dir, no demo stream),
then, from this one process:
  1. opens N idle sockets (half send nothing, half an unfinished upgrade head) and
     records how many the server closes by itself, and when;
  2. opens N WebSockets that say hello and join the demo room, then closes them all;
  3. opens more sockets than the per-IP cap and counts the 503s;
recording the server's RSS (VmRSS) and open fds before, during and after each.

    python3 scripts/slowloris.py target/debug/livecart [N] [extra serve flags...]
"""
import base64, json, os, re, resource, socket, subprocess, sys, tempfile, time

binary = sys.argv[1]
N = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
extra = sys.argv[3:]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

data = tempfile.mkdtemp(prefix="livecart-slowloris-")
proc = subprocess.Popen(
    [binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", data, "--no-demo-stream",
     "--rtmp-listen", "127.0.0.1:0", "--rtmps-listen", "127.0.0.1:0",
     "--demo-plugins", "/nonexistent"] + extra,
    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
try:
    addr = None
    for line in proc.stdout:
        m = re.search(r"health:\s+http://([\d.]+):(\d+)/healthz", line)
        if m:
            addr = (m.group(1), int(m.group(2)))
            break
    assert addr, "no banner"

    def rss_mb():
        with open(f"/proc/{proc.pid}/status") as f:
            kb = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
        return kb / 1024

    def fds():
        return len(os.listdir(f"/proc/{proc.pid}/fd"))

    def row(what):
        print(f"{what:<44} RSS {rss_mb():7.1f} MB   fds {fds():6}", flush=True)

    def healthz():
        # From another address than the flood's 127.0.0.1, as another client would.
        t = time.time()
        try:
            s = socket.create_connection(addr, timeout=5, source_address=("127.0.0.2", 0))
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            ok = s.recv(64).startswith(b"HTTP/1.1 200")
            s.close()
            return f"{'200' if ok else 'not 200'} in {(time.time() - t) * 1000:.0f} ms"
        except OSError as e:
            return f"failed: {e}"

    def metric(name):
        s = socket.create_connection(addr, timeout=5)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        body = b""
        while chunk := s.recv(65536):
            body += chunk
        m = re.search(rf"^{name} (\d+)", body.decode(), re.M)
        return int(m.group(1)) if m else None

    time.sleep(1)
    row("idle server")

    # 1. Slowloris.
    socks = []
    for i in range(N):
        s = socket.create_connection(addr)
        if i % 2:
            s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")
        socks.append(s)
    row(f"{N} slowloris sockets open")
    print(f"  /healthz meanwhile: {healthz()}")
    t0 = time.time()
    for s in socks:
        s.settimeout(max(0.1, 60 - (time.time() - t0)))
        try:
            while s.recv(4096):
                pass
        except OSError:
            pass
    print(f"  all {N} closed by the server after {time.time() - t0:.1f} s")
    for s in socks:
        s.close()
    time.sleep(7)
    row("after they closed (+7 s)")
    print(f"  header timeouts counted: {metric('livecart_http_header_timeouts_total')}")

    # 2. A flood of joined WebSocket viewers.
    def frame(obj):
        payload = json.dumps(obj).encode()
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        assert len(payload) < 126
        return bytes([0x81, 0x80 | len(payload)]) + mask + masked

    ws = []
    for i in range(N):
        s = socket.create_connection(addr)
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall((f"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        s.sendall(frame({"type": "hello", "v": 1}) + frame({"type": "join", "room": "demo"}))
        ws.append(s)
    time.sleep(3)
    row(f"{N} WebSocket viewers joined")
    print(f"  /healthz meanwhile: {healthz()}")
    for s in ws:
        s.close()
    time.sleep(2)
    row("after they closed (+2 s)")
    time.sleep(8)
    row("after they closed (+10 s)")

    # 3. The per-IP cap.
    cap = 0
    for i, a in enumerate(extra):
        if a == "--max-conns-per-ip":
            cap = int(extra[i + 1])
    cap = cap or 1000
    held, refused = [], 0
    for i in range(cap + 100):
        s = socket.create_connection(addr)
        held.append(s)
    time.sleep(1)
    for s in held[cap:]:
        s.settimeout(2)
        try:
            if s.recv(64).startswith(b"HTTP/1.1 503"):
                refused += 1
        except OSError:
            pass
    row(f"{cap + 100} sockets from one IP (cap {cap})")
    for s in held:
        s.close()
    time.sleep(2)
    print(f"  answered 503: {refused}; counted refused: "
          f"{metric('livecart_http_connections_refused_per_ip_total')}")
    time.sleep(6)
    row("after they closed (+8 s)")
finally:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
