#!/usr/bin/env python3
"""TCP round-trip time through a port: N one-byte ping-pongs against an echo server; prints the median in us.

Usage: tcp_rtt.py serve PORT            (echo server on 127.0.0.1:PORT, one connection at a time, forever)
       tcp_rtt.py measure PORT COUNT    (connect to 127.0.0.1:PORT, COUNT ping-pongs, print median us)
"""
import socket
import statistics
import sys
import time


def serve(port):
    with socket.create_server(("127.0.0.1", port), reuse_port=False) as server:
        while True:
            conn, _ = server.accept()
            with conn:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                while data := conn.recv(4096):
                    conn.sendall(data)


def measure(port, count):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        samples = []
        for i in range(count + 10):
            start = time.perf_counter_ns()
            conn.sendall(b"x")
            if conn.recv(1) != b"x":
                sys.exit("echo mismatch")
            if i >= 10:  # the first few include connection set-up through the tunnel
                samples.append((time.perf_counter_ns() - start) / 1000)
    print(f"{statistics.median(samples):.0f}")


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(int(sys.argv[2]))
    else:
        measure(int(sys.argv[2]), int(sys.argv[3]))
