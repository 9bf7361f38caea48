#!/usr/bin/env python3
"""The machine's floor for fan-out over loopback TCP, without livecart.

Opens N loopback connections (a child process holds the readers and drains them with
epoll, as N viewers would), then times a bare loop that writes one 400-byte message to each
of the N sockets, 20 times. No WebSocket, no queues, no scheduling: one send() per socket,
which is the least any one-socket-per-viewer server has to do per broadcast frame.

    python3 scripts/loopback-floor.py 1000 10000
"""
import os
import select
import socket
import sys
import time


def floor(n: int) -> str:
    msg = b"x" * 400
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4096)
    port = srv.getsockname()[1]
    reader = os.fork()
    if reader == 0:
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
        ep = select.epoll()
        by_fd = {}
        for c in clients:
            c.setblocking(False)
            ep.register(c.fileno(), select.EPOLLIN)
            by_fd[c.fileno()] = c
        deadline = time.time() + 60
        while time.time() < deadline:
            for fd, _ in ep.poll(1):
                try:
                    by_fd[fd].recv(65536)
                except BlockingIOError:
                    pass
        os._exit(0)
    try:
        conns = [srv.accept()[0] for _ in range(n)]
        for c in conns:
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        time.sleep(1)
        runs = []
        for _ in range(20):
            start = time.perf_counter()
            for c in conns:
                c.send(msg)
            runs.append((time.perf_counter() - start) * 1000)
            time.sleep(0.2)
        runs.sort()
        median = runs[len(runs) // 2]
        return (
            f"| {n} | {median:.2f} ms | {runs[-1]:.2f} ms | {median * 1000 / n:.1f} µs |"
        )
    finally:
        os.kill(reader, 9)
        os.waitpid(reader, 0)


if __name__ == "__main__":
    print("| sockets | one write to each: median | max | per write |")
    print("|---|---|---|---|")
    for arg in sys.argv[1:] or ["1000", "10000"]:
        print(floor(int(arg)))
