#!/usr/bin/env python3
"""Relay failover with several relays (issue 15's --relay, issue 20's failover), on 127.0.0.1 only.

Two relays R1 and R2; `accept` and `dial` both list both (--relay-only, so every byte goes through a relay); the
dialer streams about 6 MB/s; once 4 MiB arrived, R1 is killed with SIGKILL. Per run: when the dialer logged the move
to R2, when each side printed `path: relayed R2`, and the longest stall of the accepter's stdout around the kill.

Usage: perf/relay-failover.py [RUNS] [--dll PATH]   (default 5 runs, this tree's Release build)
Every process it starts is killed at the end of its run; keys go to a temporary directory.
"""
import argparse, os, shutil, signal, socket, subprocess, sys, tempfile, threading, time

parser = argparse.ArgumentParser()
parser.add_argument("runs", nargs="?", type=int, default=5)
parser.add_argument("--dll", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src/QuicPipe.Cli/bin/Release/net10.0/quicpipe.dll"))
args = parser.parse_args()
DLL = args.dll
D = tempfile.mkdtemp(prefix="relay-failover-")
def start(*a): return subprocess.Popen(["dotnet", DLL, *a], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
def keygen(f):
    if os.path.exists(f): os.remove(f)
    return subprocess.run(["dotnet", DLL, "keygen", "--out", f], capture_output=True, text=True, check=True).stdout.strip()
def port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p
class Lines:
    def __init__(self, stream):
        self.lines = []; threading.Thread(target=self.run, args=(stream,), daemon=True).start()
    def run(self, stream):
        for l in stream: self.lines.append((time.monotonic(), l.decode(errors="replace").rstrip()))
    def wait(self, pred, timeout=30):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for t, l in list(self.lines):
                if pred(l): return t
            time.sleep(0.005)
        return None
class Counter:
    def __init__(self, stream):
        self.total = 0; self.times = []; threading.Thread(target=self.run, args=(stream,), daemon=True).start()
    def run(self, stream):
        while True:
            b = stream.read1(65536)
            if not b: break
            self.total += len(b); self.times.append((time.monotonic(), self.total))
for run in range(args.runs):
    procs = []
    try:
        ids = {n: keygen(f"{D}/{n}.key") for n in ["r1", "r2", "a", "b"]}
        addr = {n: f"127.0.0.1:{port()}" for n in ["r1", "r2"]}
        rel = {}
        for n in ["r1", "r2"]:
            p = start("relay", "--listen", addr[n], "--key", f"{D}/{n}.key", "--threads", "1", "--stats-interval", "0"); procs.append(p)
            rel[n] = (p, Lines(p.stderr)); assert rel[n][1].wait(lambda l: "Relay running" in l)
        common = ["--relay", addr["r1"], "--relay", addr["r2"], "--relay-id", ids["r1"], "--relay-id", ids["r2"], "--relay-only", "--log-level", "Information"]
        acc = start("accept", *common, "--key", f"{D}/a.key", "--allow", ids["b"]); procs.append(acc)
        accl = Lines(acc.stderr); got = Counter(acc.stdout)
        assert accl.wait(lambda l: l.startswith("accepting as"))
        dial = start("dial", *common, "--key", f"{D}/b.key", ids["a"]); procs.append(dial)
        diall = Lines(dial.stderr)
        chunk = os.urandom(32 * 1024)
        stop = False
        def feed():
            while not stop:
                dial.stdin.write(chunk); dial.stdin.flush(); time.sleep(0.005)   # about 6 MB/s
        threading.Thread(target=feed, daemon=True).start()
        while got.total < 4 * 1024 * 1024: time.sleep(0.01)
        t0 = time.monotonic(); rel["r1"][0].send_signal(signal.SIGKILL); at_kill = got.total
        moved = diall.wait(lambda l: "moves to relay" in l)
        dpath = diall.wait(lambda l: l.startswith(f"path: relayed {addr['r2']}"))
        apath = accl.wait(lambda l: l.startswith(f"path: relayed {addr['r2']}"))
        time.sleep(3)
        # the longest gap between two reads of the accepter's stdout after the kill: how long bytes stopped arriving
        after = [t for t, _ in got.times if t >= t0 - 0.5]
        gap = max(b - a for a, b in zip(after, after[1:])) if len(after) > 1 else None
        stop = True
        print(f"run {run}: move logged {moved - t0:.2f}s, dialer path line {dpath - t0:.2f}s, accepter path line {apath - t0:.2f}s, longest stall {gap:.2f}s, bytes after kill {got.total - at_kill}, dial alive {dial.poll() is None}")
    finally:
        for p in procs:
            if p.poll() is None: p.kill()
shutil.rmtree(D, ignore_errors=True)
