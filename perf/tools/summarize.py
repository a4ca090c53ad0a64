#!/usr/bin/env python3
"""Turn one forwarder-comparison run directory (relay-vs-reference, relay-vs-coturn) into a table
(stdout) and a JSON file.

Per forwarder directory (--forwarders, the reference first: ref, relay-gso-off, relay-gso-on by default):
  meta          key=value lines: kind, t0/t1 (wall clock of the window), cpu0/cpu1 (ticks), error=...
  sink.out      udp-sink per-second lines {"t","ts","packets","bytes"} + summary
  fwd.out/.err  forwarder output; the relay's JSON stats lines are on stderr
  stats0/1.json the relay's last stats line at the start / end of the window
  loadgen.out   udp-loadgen summary
"""
import argparse
import json
import os
import platform
import sys

DEFAULT_FORWARDERS = "ref,relay-gso-off,relay-gso-on"


def read_meta(path):
    meta, errors, warnings = {}, [], []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if "=" not in line:
                continue
            k, v = line.split("=", 1)
            if k == "error":
                errors.append(v)
            elif k == "warning":
                warnings.append(v)
            else:
                meta[k] = v
    return meta, errors, warnings


def json_lines(path):
    out = []
    if not os.path.exists(path):
        return out
    with open(path, errors="replace") as f:
        for line in f:
            # Tolerate a log prefix before the JSON object (e.g. a timestamp or category).
            start, end = line.find("{"), line.rfind("}")
            if start < 0 or end < start:
                continue
            try:
                obj = json.loads(line[start:end + 1])
            except json.JSONDecodeError:
                continue
            if isinstance(obj, dict):
                out.append(obj)
    return out


def stats_at(path, size):
    """The last complete relay stats line in the first `size` bytes of its stderr (what had been
    written when the window edge was sampled; a line cut in the middle is not complete)."""
    try:
        with open(path, "rb") as f:
            data = f.read(size)
    except OSError:
        return None
    for raw in reversed(data.split(b"\n")[:-1]):
        line = raw.decode("utf-8", "replace")
        start, end = line.find("{"), line.rfind("}")
        if '"uptime_s"' not in line or start < 0 or end < start:
            continue
        try:
            obj = json.loads(line[start:end + 1])
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            return obj
    return None


def one_json(path):
    lines = json_lines(path)
    return lines[-1] if lines else None


def analyse(d):
    meta, errors, warnings = read_meta(os.path.join(d, "meta"))
    r = {"name": meta.get("name", os.path.basename(d)), "kind": meta.get("kind"), "gso": meta.get("gso") or None,
         "ok": False, "errors": errors, "warnings": warnings}
    if errors or "t0" not in meta:
        if not errors:
            r["errors"].append("no measurement window recorded")
        return r
    t0, t1 = float(meta["t0"]), float(meta["t1"])
    window = t1 - t0
    r["window_seconds"] = round(window, 3)

    ticks = [x for x in json_lines(os.path.join(d, "sink.out")) if "ts" in x]
    inside = [x for x in ticks if t0 <= x["ts"] <= t1]
    if len(inside) < 2:
        r["errors"].append("sink has fewer than two per-second samples inside the window")
        return r
    a, b = inside[0], inside[-1]
    span = b["ts"] - a["ts"]
    pps = (b["packets"] - a["packets"]) / span
    r["forwarded_pps"] = round(pps, 1)
    r["forwarded_mbit_s"] = round((b["bytes"] - a["bytes"]) * 8 / span / 1e6, 1)
    per_second = [y["packets"] - x["packets"] for x, y in zip(inside, inside[1:])]
    r["pps_per_second_min"] = min(per_second)
    r["pps_per_second_max"] = max(per_second)

    clk = float(meta.get("clk_tck", "100"))
    if meta.get("cpu0") and meta.get("cpu1"):
        cpu_s = (int(meta["cpu1"]) - int(meta["cpu0"])) / clk
        r["cpu_seconds"] = round(cpu_s, 3)
        r["cpu_cores"] = round(cpu_s / window, 3)
        fwd_in_window = pps * window
        r["cpu_us_per_packet"] = round(cpu_s / fwd_in_window * 1e6, 4) if fwd_in_window > 0 else None

    gen = one_json(os.path.join(d, "loadgen.out"))
    sink_sum = next((x for x in json_lines(os.path.join(d, "sink.out")) if x.get("summary")), None)
    if gen:
        r["loadgen_pps"] = gen.get("pps")
        r["loadgen_sent"] = gen.get("sent")
        if sink_sum and gen.get("sent"):
            r["delivered_fraction"] = round(sink_sum["packets"] / gen["sent"], 4)
    if sink_sum:
        r["sink_packets_total"] = sink_sum["packets"]
        if sink_sum.get("latency_us") and sink_sum.get("latency_count"):
            for k in ("p50", "p99", "p999", "max"):
                r["latency_%s_us" % k] = sink_sum["latency_us"][k]
        if sink_sum.get("verified"):
            r["sink_verify_mismatches"] = sink_sum["mismatches"]
            if sink_sum["mismatches"]:
                r["errors"].append("sink --verify: %d bad datagrams (length %d, header %d, pattern %d, truncated %d)" % (
                    sink_sum["mismatches"], sink_sum["bad_length"], sink_sum["bad_header"],
                    sink_sum["bad_pattern"], sink_sum["truncated"]))

    if r["kind"] == "ref":
        c = one_json(os.path.join(d, "fwd.out"))
        if c:
            r["forwarder_counters"] = c
    else:
        err = os.path.join(d, "fwd.err")
        if "err_size0" in meta and "err_size1" in meta:
            s0, s1 = stats_at(err, int(meta["err_size0"])), stats_at(err, int(meta["err_size1"]))
        else:
            s0, s1 = one_json(os.path.join(d, "stats0.json")), one_json(os.path.join(d, "stats1.json"))
        if not s0 or not s1:
            r["errors"].append("relay printed no JSON stats lines on stderr (--stats-format json)")
        else:
            try:
                du = s1["uptime_s"] - s0["uptime_s"]
                r["relay_stats_seconds"] = round(du, 3)
                for k in ("gc0", "gc1", "gc2", "allocated_bytes", "dropped", "gso_sends", "gso_segments"):
                    r[k + "_in_window"] = s1[k] - s0[k]
                if du > 0:
                    r["relay_reported_pps"] = round((s1["forwarded"] - s0["forwarded"]) / du, 1)
                    batches = s1["batches"] - s0["batches"]
                    if batches > 0:
                        r["relay_avg_batch"] = round((s1["received"] - s0["received"]) / batches, 2)
                r["relay_final_stats"] = s1
            except (KeyError, TypeError) as e:
                r["errors"].append("relay stats line lacks a field: %s" % e)
    if pps <= 0:
        r["errors"].append("nothing reached the sink during the window")
    r["ok"] = not r["errors"]
    return r


def fmt(v, spec):
    return format(v, spec) if isinstance(v, (int, float)) else "-"


def median(xs):
    xs = sorted(x for x in xs if isinstance(x, (int, float)))
    if not xs:
        return None
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def round_ratios(by, order):
    out = {}
    ref = by.get(order[0])
    for n in order[1:]:
        r = by.get(n)
        if ref and r and ref["ok"] and r["ok"] and ref["forwarded_pps"] > 0:
            q = {"pps": round(r["forwarded_pps"] / ref["forwarded_pps"], 3)}
            if r.get("cpu_us_per_packet") and ref.get("cpu_us_per_packet"):
                q["cpu_per_packet"] = round(r["cpu_us_per_packet"] / ref["cpu_us_per_packet"], 3)
            out[n + "/" + order[0]] = q
    return out


MEDIAN_FIELDS = ("forwarded_pps", "forwarded_mbit_s", "cpu_us_per_packet", "cpu_cores", "gc0_in_window",
                 "gc1_in_window", "gc2_in_window", "allocated_bytes_in_window", "loadgen_pps", "delivered_fraction",
                 "latency_p50_us", "latency_p99_us", "latency_p999_us", "latency_max_us", "relay_avg_batch")


def row(name, r, status):
    return "%-22s %12s %9s %11s %9s %5s %5s %5s %12s  %s" % (
        name, fmt(r.get("forwarded_pps"), ".0f"), fmt(r.get("forwarded_mbit_s"), ".0f"),
        fmt(r.get("cpu_us_per_packet"), ".3f"), fmt(r.get("cpu_cores"), ".2f"),
        fmt(r.get("gc0_in_window"), ".0f"), fmt(r.get("gc1_in_window"), ".0f"), fmt(r.get("gc2_in_window"), ".0f"),
        fmt(r.get("loadgen_pps"), ".0f"), status)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--params", default="{}", help="JSON object of the run's parameters")
    ap.add_argument("--out", required=True, help="JSON file to write")
    ap.add_argument("--forwarders", default=DEFAULT_FORWARDERS,
                    help="comma-separated forwarder directory names, the reference first")
    ap.add_argument("--tool", default="perf/relay-vs-reference.sh", help="the script that made the run")
    args = ap.parse_args()
    order = args.forwarders.split(",")

    round_dirs = sorted((d for d in os.listdir(args.run_dir) if d.startswith("round-")),
                        key=lambda d: int(d.split("-", 1)[1]))
    rounds = []
    for rd in round_dirs:
        base = os.path.join(args.run_dir, rd)
        results = [analyse(os.path.join(base, n)) for n in order if os.path.isdir(os.path.join(base, n))]
        by = {r["name"]: r for r in results}
        rounds.append({"round": int(rd.split("-", 1)[1]), "results": results, "ratios": round_ratios(by, order)})

    names = [n for n in order if any(n == r["name"] for rd in rounds for r in rd["results"])]
    summary = []
    for n in names:
        rs = [r for rd in rounds for r in rd["results"] if r["name"] == n]
        ok = [r for r in rs if r["ok"]]
        m = {"name": n, "rounds_ok": len(ok), "rounds": len(rs), "ok": bool(ok)}
        for k in MEDIAN_FIELDS:
            v = median([r.get(k) for r in ok])
            if v is not None:
                m[k] = v
        if not ok:
            m["errors"] = sorted({e for r in rs for e in r["errors"]})
        summary.append(m)
    ratios = {}
    for key in (n + "/" + order[0] for n in order[1:]):
        per = [rd["ratios"][key] for rd in rounds if key in rd["ratios"]]
        if per:
            cpu = [q.get("cpu_per_packet") for q in per if q.get("cpu_per_packet") is not None]
            ratios[key] = {"pps": median([q["pps"] for q in per]),
                           "pps_min": min(q["pps"] for q in per), "pps_max": max(q["pps"] for q in per),
                           "cpu_per_packet": median(cpu),
                           "cpu_per_packet_min": min(cpu) if cpu else None,
                           "cpu_per_packet_max": max(cpu) if cpu else None,
                           "rounds": len(per)}

    doc = {
        "tool": args.tool,
        "run_dir": args.run_dir,
        "params": json.loads(args.params),
        "host": {"cpus": os.cpu_count(), "kernel": platform.release(), "machine": platform.machine(),
                 "loadavg": open("/proc/loadavg").read().split()[:3]},
        "summary": summary,
        "ratios": ratios,
        "rounds": rounds,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")

    print()
    print("%-22s %12s %9s %11s %9s %5s %5s %5s %12s  %s" % (
        "forwarder", "fwd pps", "Mbit/s", "cpu us/pkt", "cpu cores", "gc0", "gc1", "gc2", "loadgen pps", "status"))
    if len(rounds) > 1:
        for rd in rounds:
            for r in rd["results"]:
                print(row("%s #%d" % (r["name"], rd["round"]), r,
                          "ok" if r["ok"] else "FAILED: " + "; ".join(r["errors"])))
        print("-- medians over rounds --")
    for m in summary:
        status = ("ok" if m["rounds_ok"] == m["rounds"] else "%d/%d rounds ok" % (m["rounds_ok"], m["rounds"])) \
            if m["ok"] else "FAILED: " + "; ".join(m["errors"])
        print(row(m["name"], m, status))
    if any("latency_p50_us" in m for m in summary):
        print("one-way delay generator -> sink, after the warm-up (us; medians over rounds):")
        for m in summary:
            print("  %-20s p50 %6s   p99 %6s   p99.9 %6s   max %8s" % (
                m["name"], fmt(m.get("latency_p50_us"), ".0f"), fmt(m.get("latency_p99_us"), ".0f"),
                fmt(m.get("latency_p999_us"), ".0f"), fmt(m.get("latency_max_us"), ".0f")))
    print()
    if ratios:
        for k, q in ratios.items():
            print("ratio %-18s pps %.3f (%.3f-%.3f)   cpu/packet %s (%s-%s)   (same-round ratios, median (min-max) "
                  "of %d; pps > 1 and cpu/packet < 1 mean ours is better)" % (
                      k, q["pps"], q["pps_min"], q["pps_max"], fmt(q.get("cpu_per_packet"), ".3f"),
                      fmt(q.get("cpu_per_packet_min"), ".3f"), fmt(q.get("cpu_per_packet_max"), ".3f"), q["rounds"]))
    elif names == order[:1]:
        print("no ratios: only the reference ran")
    else:
        print("no ratios: no round had both the reference and a relay run succeed (see status above)")
    print("json: %s" % args.out)
    all_ok = all(r["ok"] for rd in rounds for r in rd["results"])
    return 0 if all_ok and rounds else 1


if __name__ == "__main__":
    sys.exit(main())
