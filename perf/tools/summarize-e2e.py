#!/usr/bin/env python3
"""Summarizes a relay-e2e.sh run: medians, ratio relayed/direct, relay CPU per forwarded packet; writes the JSON.

Usage: summarize-e2e.py RUNS_JSONL OUT_JSON CLK_TCK BYTES
"""
import json
import os
import statistics
import sys


def relay_costs(run, clk_tck, setup_s=0.0):
    """The relay's work during one relayed run, from its cumulative stats before and after; setup_s is the
    relay CPU of a 1-byte relayed run (registrations, signalling, handshakes), taken off before dividing."""
    relay = run.get("relay")
    if not relay:
        return None
    before, after = relay["before"], relay["after"]
    forwarded = after["forwarded"] - before["forwarded"]
    cpu_s = relay["cpu_ticks"] / clk_tck
    drops = {k: after["dropped_by_reason"][k] - before["dropped_by_reason"].get(k, 0)
             for k in after["dropped_by_reason"]}
    return {
        "forwarded": forwarded,
        "received": after["received"] - before["received"],
        "cpu_s": round(cpu_s, 3),
        "cpu_us_per_packet": round(max(0.0, cpu_s - setup_s) * 1e6 / forwarded, 3) if forwarded else None,
        "cpu_us_per_packet_with_setup": round(cpu_s * 1e6 / forwarded, 3) if forwarded else None,
        # Relay CPU over the whole bench process (start-up, dial and close included), in cores.
        "cpu_cores": round(cpu_s / relay["wall_s"], 3) if relay["wall_s"] > 0 else None,
        # Net of setup, over the receiver's first-byte-to-last-byte time: how busy the relay was while it mattered.
        "cpu_cores_in_transfer": round(max(0.0, cpu_s - setup_s) / run["seconds"], 3) if run.get("seconds") else None,
        "dropped": {k: v for k, v in drops.items() if v},
        "gc0": after["gc0"] - before["gc0"],
    }


def main():
    runs_path, out_path, clk_tck, total = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    runs = [json.loads(line) for line in open(runs_path) if line.strip()]
    setup = [r for r in runs if r["mode"] == "setup"]
    setup_s = 0.0
    if setup and setup[0].get("relay"):
        setup[0]["relay"] = relay_costs(setup[0], clk_tck)
        setup_s = setup[0]["relay"]["cpu_s"]
    runs = [r for r in runs if r["mode"] != "setup"]
    for run in runs:
        costs = relay_costs(run, clk_tck, setup_s)
        if costs is not None:
            run["relay"] = costs
    direct = [r for r in runs if r["mode"] == "direct"]
    relayed = [r for r in runs if r["mode"] == "relayed"]
    ok = bool(direct and relayed) and all(r["ok"] for r in runs)

    def med(rs, key):
        values = [r[key] for r in rs if r.get(key) is not None]
        return statistics.median(values) if values else 0.0

    d_rate, r_rate = med(direct, "mb_per_s"), med(relayed, "mb_per_s")
    ratio = r_rate / d_rate if d_rate else 0.0
    costs = [r["relay"] for r in relayed if isinstance(r.get("relay"), dict)]
    us = statistics.median([c["cpu_us_per_packet"] for c in costs if c["cpu_us_per_packet"]] or [0])
    # Per round ratio too: the spread says how noisy the machine was during this run.
    pairs = [round(rl["mb_per_s"] / d["mb_per_s"], 3) for d, rl in zip(direct, relayed) if d["mb_per_s"]]
    summary = {
        "bytes": total, "rounds": len(relayed), "ok": ok, "loadavg": os.getloadavg()[0],
        "direct_mb_per_s": d_rate, "relayed_mb_per_s": r_rate, "ratio_relayed_direct": round(ratio, 3),
        "round_ratios": pairs, "relay_cpu_us_per_forwarded_packet": us, "relay_setup_cpu_s": setup_s,
        "setup_run": setup[0] if setup else None, "runs": runs,
    }
    with open(out_path, "w") as f:
        json.dump(summary, f, indent=2)

    print(f"{'mode':<8} {'MB/s (median)':>14}  per round")
    print(f"{'direct':<8} {d_rate:>14.1f}  {', '.join(str(r['mb_per_s']) for r in direct)}")
    print(f"{'relayed':<8} {r_rate:>14.1f}  {', '.join(str(r['mb_per_s']) for r in relayed)}")
    print(f"ratio relayed/direct: {ratio:.2f} (per round: {', '.join(map(str, pairs))})")
    for i, c in enumerate(costs, 1):
        print(f"relay, round {i}: {c['forwarded']} packets forwarded, {c['cpu_s']:.2f} s CPU, "
              f"{c['cpu_us_per_packet']} us/packet net of setup, {c['cpu_cores_in_transfer']} cores in transfer, dropped {c['dropped'] or 'none'}")
    print(f"relay CPU per forwarded packet (median): {us:.2f} us (setup cost taken off: {setup_s:.2f} s per run)")
    # RTT at the end of each transfer: the extra hop's latency (and the scheduler's) shows here.
    print("sender RTT min/smoothed us: " + ", ".join(f"{r['mode']} {r.get('min_rtt_us')}/{r.get('smoothed_rtt_us')}" for r in runs))
    print("GC gen0 during transfer: " + ", ".join(f"{r['mode']} {r.get('gc_gen0')}" for r in runs))
    print(f"load average {summary['loadavg']:.1f}; json: {out_path}")
    if not ok:
        print("A TRANSFER FAILED: see the runs in the JSON")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
