#!/usr/bin/env python3
"""TCP round-trip time through a port: N one-byte ping-pongs against an echo server; prints the median in us.

Usage: tcp_rtt.py serve PORT            (echo server on 127.0.0.1:PORT, forever)
       tcp_rtt.py measure PORT COUNT    (connect to 127.0.0.1:PORT, COUNT ping-pongs, print median us)
       tcp_rtt.py interleave COUNT PORT...
                                        (one connection to each port, COUNT rounds of one ping-pong on each in
                                        turn, so every way is measured over the same moments; prints one median
                                        per port, in order, on one line. On a shared VM the scheduler's mood
                                        drifts over seconds: measured one after the other, two ways' medians
                                        differ by more than the ways do.)
"""
import threading
import socket
import statistics
import sys
import time


def echo(conn):
    with conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while data := conn.recv(4096):
            conn.sendall(data)


def serve(port):
    # A thread per connection: the interleaved measurement holds one connection per way open at once.
    with socket.create_server(("127.0.0.1", port), reuse_port=False) as server:
        while True:
            conn, _ = server.accept()
            threading.Thread(target=echo, args=(conn,), daemon=True).start()


def ping(conn):
    start = time.perf_counter_ns()
    conn.sendall(b"x")
    if conn.recv(1) != b"x":
        sys.exit("echo mismatch")
    return (time.perf_counter_ns() - start) / 1000


def measure(port, count):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        samples = []
        for i in range(count + 10):
            rtt = ping(conn)
            if i >= 10:  # the first few include connection set-up through the tunnel
                samples.append(rtt)
    print(f"{statistics.median(samples):.0f}")


def interleave(count, ports):
    conns = [socket.create_connection(("127.0.0.1", port), timeout=10) for port in ports]
    samples = [[] for _ in ports]
    for conn in conns:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for i in range(count + 10):
        for conn, kept in zip(conns, samples):
            rtt = ping(conn)
            if i >= 10:
                kept.append(rtt)
    for conn in conns:
        conn.close()
    print(" ".join(f"{statistics.median(kept):.0f}" for kept in samples))


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(int(sys.argv[2]))
    elif sys.argv[1] == "interleave":
        interleave(int(sys.argv[2]), [int(p) for p in sys.argv[3:]])
    else:
        measure(int(sys.argv[2]), int(sys.argv[3]))
