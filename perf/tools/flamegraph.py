#!/usr/bin/env python3
"""Flame graphs from `perf script` output, with no dependencies beyond the Python standard library.

  flamegraph.py collapse [PERF_SCRIPT_TXT] [-o STACKS.folded]
      perf script text -> one "root;caller;...;leaf COUNT" line per distinct stack.
  flamegraph.py svg [STACKS.folded] -o OUT.svg [--title T] [--subtitle S]
      folded stacks -> interactive SVG (hover: name, samples, %; click: zoom; Search; Reset).
  flamegraph.py render [PERF_SCRIPT_TXT] -o OUT.svg [--folded-out F] [--title T] [--subtitle S]
      both steps at once.

Input defaults to stdin. Frame markers added by collapse: " [k]" kernel, " [j]" JIT code named by a
/tmp/perf-PID.map (e.g. .NET with DOTNET_PerfMapEnabled=1). The thread name (comm) is the root frame
unless --no-comm is given.
"""
import argparse
import html
import re
import sys
import zlib

HEADER_RE = re.compile(r"^(?P<comm>.*?)\s+(?P<pid>\d+)(?:/(?P<tid>\d+))?\s+(?:\[\d+\]\s+)?[\d.]+:")
OFFSET_RE = re.compile(r"\+0x[0-9a-fA-F]+$")


# ----------------------------------------------------------------------------------------------
# collapse


def frame_name(line):
    """'ffffffff81000c82 asm_exc_page_fault+0x22 ([kernel.kallsyms])' -> 'asm_exc_page_fault [k]'."""
    parts = line.strip().split(None, 1)
    if len(parts) < 2:
        return None
    rest = parts[1].rstrip()
    dso = ""
    if rest.endswith(")"):
        # The DSO is the trailing parenthesised group; it may nest, e.g. "(/memfd:doublemapper (deleted))".
        depth, i = 0, len(rest) - 1
        while i >= 0:
            if rest[i] == ")":
                depth += 1
            elif rest[i] == "(":
                depth -= 1
                if depth == 0:
                    break
            i -= 1
        if i >= 0:
            dso, rest = rest[i + 1:-1], rest[:i].rstrip() or "[unknown]"
    sym = OFFSET_RE.sub("", rest.strip()) or "[unknown]"
    if sym == "[unknown]":
        base = dso.replace(" (deleted)", "").rsplit("/", 1)[-1] if dso and dso != "[unknown]" else ""
        sym = "[%s]" % base if base else "[unknown]"
    sym = sym.replace(";", ":")
    if "kernel.kallsyms" in dso or dso.startswith("[kernel") or dso.endswith(".ko"):
        sym += " [k]"
    elif re.search(r"/perf-\d+\.map$", dso) or "memfd:doublemapper" in dso:
        sym += " [j]"
    return sym


def collapse(lines, with_comm=True):
    counts = {}
    comm, frames = None, []

    def flush():
        if comm is None:
            return
        stack = list(reversed(frames))
        if with_comm:
            stack.insert(0, comm.replace(";", ":") or "[unknown]")
        if not stack:
            return
        key = ";".join(stack)
        counts[key] = counts.get(key, 0) + 1

    for raw in lines:
        line = raw.rstrip("\n")
        if not line.strip():
            flush()
            comm, frames = None, []
            continue
        if line[0] in " \t":
            if comm is not None:
                name = frame_name(line)
                if name is not None:
                    frames.append(name)
            continue
        if line.startswith("#"):
            continue
        # A new sample header (perf script separates samples with blank lines, but be tolerant).
        flush()
        m = HEADER_RE.match(line)
        comm = m.group("comm").strip() if m else line.split()[0]
        frames = []
    flush()
    return counts


def write_folded(counts, out):
    for stack in sorted(counts):
        out.write("%s %d\n" % (stack, counts[stack]))


def read_folded(lines):
    counts = {}
    for n, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line:
            continue
        stack, _, num = line.rpartition(" ")
        try:
            value = int(num)
        except ValueError:
            raise SystemExit("flamegraph.py: line %d is not 'stack count': %r" % (n, line[:80]))
        counts[stack] = counts.get(stack, 0) + value
    return counts


# ----------------------------------------------------------------------------------------------
# layout


class Node:
    __slots__ = ("name", "value", "children")

    def __init__(self, name):
        self.name = name
        self.value = 0
        self.children = {}


def build_tree(counts):
    root = Node("all")
    for stack, value in counts.items():
        root.value += value
        node = root
        for name in stack.split(";"):
            child = node.children.get(name)
            if child is None:
                child = node.children[name] = Node(name)
            child.value += value
            node = child
    return root


def layout(root, min_samples):
    """Yields (name, x_samples, width_samples, depth), parents before children, siblings by name."""
    out = []
    stack = [(root, 0, 0)]
    while stack:
        node, x, depth = stack.pop()
        out.append((node.name, x, node.value, depth))
        cx = x
        kids = []
        for name in sorted(node.children):
            child = node.children[name]
            if child.value >= min_samples:
                kids.append((child, cx, depth + 1))
            cx += child.value
        stack.extend(reversed(kids))
    return out


# ----------------------------------------------------------------------------------------------
# colours


def colour(name, depth):
    if depth == 0:
        return "rgb(200,200,200)"
    h = zlib.crc32(name.encode("utf-8", "replace"))
    a, b, c = (h & 0xFF) / 255.0, ((h >> 8) & 0xFF) / 255.0, ((h >> 16) & 0xFF) / 255.0
    if name.endswith(" [k]"):  # kernel: orange
        r, g, bl = 230 + 25 * a, 130 + 60 * b, 40 + 30 * c
    elif name.endswith(" [j]"):  # JIT (managed) code: green
        r, g, bl = 60 + 70 * a, 180 + 50 * b, 70 + 60 * c
    elif depth == 1 and "[" not in name and ";" not in name and " " not in name.strip():
        r, g, bl = 205 + 50 * a, 70 + 120 * b, 40 + 30 * c
    else:  # native user code: red to yellow
        r, g, bl = 205 + 50 * a, 60 + 150 * b, 40 + 30 * c
    return "rgb(%d,%d,%d)" % (r, g, bl)


# ----------------------------------------------------------------------------------------------
# SVG

SCRIPT = r"""
(function () {
  var svg = document.documentElement;
  var W = +svg.getAttribute('data-plot-width'), PAD = +svg.getAttribute('data-pad');
  var TOTAL = +svg.getAttribute('data-total'), CW = +svg.getAttribute('data-char-width');
  var frames = Array.prototype.slice.call(document.querySelectorAll('g.frame'));
  var details = document.getElementById('details'), matched = document.getElementById('matched');
  var reset = document.getElementById('reset');
  function fit(name, w) {
    var n = Math.floor((w - 6) / CW);
    if (n < 3) return '';
    return name.length <= n ? name : name.substring(0, n - 2) + '..';
  }
  function place(f, x, w, dim) {
    var r = f.querySelector('rect'), t = f.querySelector('text');
    r.setAttribute('x', x); r.setAttribute('width', Math.max(w - 0.5, 0.1));
    t.setAttribute('x', x + 3); t.textContent = fit(f.getAttribute('data-name'), w);
    f.style.display = ''; f.style.opacity = dim ? '0.55' : '';
  }
  function zoom(g) {
    var x0 = +g.getAttribute('data-x'), w0 = +g.getAttribute('data-w'), d0 = +g.getAttribute('data-d');
    frames.forEach(function (f) {
      var x = +f.getAttribute('data-x'), w = +f.getAttribute('data-w'), d = +f.getAttribute('data-d');
      if (d < d0) {
        if (x <= x0 && x + w >= x0 + w0) place(f, PAD, W, true); else f.style.display = 'none';
      } else if (x >= x0 && x + w <= x0 + w0) {
        var nw = w / w0 * W;
        if (nw < 0.1) f.style.display = 'none'; else place(f, PAD + (x - x0) / w0 * W, nw, false);
      } else f.style.display = 'none';
    });
    reset.style.display = d0 > 0 ? '' : 'none';
  }
  function unzoom() { zoom(frames[0]); }
  function describe(f) {
    var w = +f.getAttribute('data-w');
    return f.getAttribute('data-name') + ' (' + w + ' samples, ' + (100 * w / TOTAL).toFixed(2) + '%)';
  }
  frames.forEach(function (f) {
    f.addEventListener('click', function (e) { zoom(f); e.stopPropagation(); });
    f.addEventListener('mouseover', function () { details.textContent = describe(f); });
    f.addEventListener('mouseout', function () { details.textContent = ' '; });
  });
  reset.addEventListener('click', function (e) { unzoom(); e.stopPropagation(); });
  document.getElementById('search').addEventListener('click', function (e) {
    e.stopPropagation();
    var term = window.prompt('Search frames (regular expression); empty to clear', '');
    if (term === null) return;
    var re = null;
    if (term !== '') { try { re = new RegExp(term); } catch (err) { window.alert('Bad expression: ' + err); return; } }
    var hits = [];
    frames.forEach(function (f) {
      var r = f.querySelector('rect');
      if (re && re.test(f.getAttribute('data-name'))) {
        r.setAttribute('fill', 'rgb(230,0,230)');
        hits.push([+f.getAttribute('data-x'), +f.getAttribute('data-w')]);
      } else r.setAttribute('fill', f.getAttribute('data-fill'));
    });
    // Sum matched samples without counting a match nested inside another match twice.
    hits.sort(function (a, b) { return a[0] - b[0] || b[1] - a[1]; });
    var sum = 0, end = -1;
    hits.forEach(function (h) { if (h[0] >= end) { sum += h[1]; end = h[0] + h[1]; } });
    matched.textContent = re ? 'Matched: ' + (100 * sum / TOTAL).toFixed(2) + '% (' + term + ')' : '';
  });
  svg.addEventListener('click', function () { unzoom(); });
})();
"""


def render_svg(counts, title, subtitle, width=1200, frame_h=16, font_size=12, min_px=0.1):
    root = build_tree(counts)
    total = root.value
    if total == 0:
        raise SystemExit("flamegraph.py: no samples to draw (is the perf script input empty?)")
    pad = 10
    plot_w = width - 2 * pad
    min_samples = total * min_px / plot_w
    frames = layout(root, min_samples)
    max_depth = max(d for _, _, _, d in frames)
    top = 3 * font_size + 24
    bottom = 2 * font_size + 12
    height = top + (max_depth + 1) * frame_h + bottom
    char_w = font_size * 0.59

    def fit(name, w):
        n = int((w - 6) // char_w)
        if n < 3:
            return ""
        return name if len(name) <= n else name[: n - 2] + ".."

    out = []
    w = out.append
    w('<?xml version="1.0" standalone="no"?>\n')
    w('<svg version="1.1" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
      'data-plot-width="%d" data-pad="%d" data-total="%d" data-char-width="%.2f">\n'
      % (width, height, width, height, plot_w, pad, total, char_w))
    w('<style>\n'
      'text { font-family: Verdana, "DejaVu Sans", sans-serif; font-size: %dpx; fill: #000; }\n'
      'g.frame text { pointer-events: none; }\n'
      'g.frame:hover rect { stroke: #000; stroke-width: 0.5; cursor: pointer; }\n'
      '.button { cursor: pointer; fill: #1f4e9c; }\n'
      '.title { font-size: %dpx; text-anchor: middle; }\n'
      '.sub { fill: #555; text-anchor: middle; }\n'
      '</style>\n' % (font_size, font_size + 5))
    w('<rect x="0" y="0" width="%d" height="%d" fill="#f8f8f0"/>\n' % (width, height))
    w('<text class="title" x="%d" y="%d">%s</text>\n' % (width // 2, font_size + 10, html.escape(title)))
    if subtitle:
        w('<text class="sub" x="%d" y="%d">%s</text>\n' % (width // 2, 2 * font_size + 16, html.escape(subtitle)))
    w('<text id="reset" class="button" x="%d" y="%d" style="display:none">Reset zoom</text>\n'
      % (pad, 2 * font_size + 16))
    w('<text id="search" class="button" x="%d" y="%d" text-anchor="end">Search</text>\n'
      % (width - pad, 2 * font_size + 16))
    w('<text id="matched" x="%d" y="%d" text-anchor="end"> </text>\n' % (width - pad, height - 8))
    w('<text id="details" x="%d" y="%d"> </text>\n' % (pad, height - 8))

    w('<g id="frames">\n')
    for name, x, value, depth in frames:
        fx = pad + x / total * plot_w
        fw = value / total * plot_w
        fy = top + (max_depth - depth) * frame_h
        label = "all (%d samples)" % total if depth == 0 else name
        fill = colour(name, depth)
        esc = html.escape(label, quote=True)
        w('<g class="frame" data-name="%s" data-x="%d" data-w="%d" data-d="%d" data-fill="%s">'
          '<title>%s (%d samples, %.2f%%)</title>'
          '<rect x="%.2f" y="%d" width="%.2f" height="%d" rx="2" fill="%s"/>'
          '<text x="%.2f" y="%.1f">%s</text></g>\n'
          % (esc, x, value, depth, fill, esc, value, 100.0 * value / total, fx, fy, max(fw - 0.5, 0.1),
             frame_h - 1, fill, fx + 3, fy + frame_h - 4.5, html.escape(fit(label, fw))))
    w('</g>\n')
    w('<script type="text/ecmascript"><![CDATA[%s]]></script>\n' % SCRIPT)
    w('</svg>\n')
    return "".join(out)


# ----------------------------------------------------------------------------------------------
# CLI


def open_in(path):
    return sys.stdin if path in (None, "-") else open(path, errors="replace")


def open_out(path):
    return sys.stdout if path in (None, "-") else open(path, "w")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    pc = sub.add_parser("collapse", help="perf script text -> folded stacks")
    pc.add_argument("input", nargs="?")
    pc.add_argument("-o", "--output")
    pc.add_argument("--no-comm", action="store_true", help="do not use the thread name as root frame")
    for name in ("svg", "render"):
        p = sub.add_parser(name, help="folded stacks -> SVG" if name == "svg" else "perf script text -> SVG")
        p.add_argument("input", nargs="?")
        p.add_argument("-o", "--output", required=True)
        p.add_argument("--title", default="Flame graph")
        p.add_argument("--subtitle", default="")
        p.add_argument("--width", type=int, default=1200)
        if name == "render":
            p.add_argument("--folded-out", help="also write the folded stacks here")
            p.add_argument("--no-comm", action="store_true")
    args = ap.parse_args(argv)

    with open_in(args.input) as f:
        if args.cmd == "svg":
            counts = read_folded(f)
        else:
            counts = collapse(f, with_comm=not args.no_comm)
    if args.cmd == "collapse":
        with open_out(args.output) as o:
            write_folded(counts, o)
        return 0
    if args.cmd == "render" and args.folded_out:
        with open(args.folded_out, "w") as o:
            write_folded(counts, o)
    svg = render_svg(counts, args.title, args.subtitle, width=args.width)
    with open_out(args.output) as o:
        o.write(svg)
    sys.stderr.write("flamegraph.py: %d samples, %d distinct stacks -> %s\n"
                     % (sum(counts.values()), len(counts), args.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
