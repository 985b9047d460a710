#!/usr/bin/env bash
# loadtest.sh: how many predictions per second `mnist serve` answers over HTTP on loopback: wrk
# POSTs one MNIST test digit to /api/predict for 30 s over 16 connections and reports requests/s,
# latency percentiles and errors (non-200 answers and socket errors; the target is zero). Also,
# shorter: the same digit as a PNG, and a 112x112 drawing as the web page sends it.
# Not part of `make test` (it takes the machine's cores for a minute); run it with `make loadtest`.
# Usage: bench/loadtest.sh [MNIST_BIN] [MODEL]    (MODEL default: out/loadtest-cnn.safetensors,
#        trained with `--model cnn --recipe fast --steps 600` if missing)
# Env: DURATION (30s), CONNECTIONS (16), WRK_THREADS (2), SERVE_THREADS (all cores), EXTRA (1: also
#      the PNG and page-sized bodies, 10 s each; 0: skip them).
set -euo pipefail
mnist=${1:-build/mnist}
model=${2:-out/loadtest-cnn.safetensors}
duration=${DURATION:-30s} conns=${CONNECTIONS:-16} wrk_threads=${WRK_THREADS:-2}
data=${MNIST_DATA:-data/mnist}
command -v wrk >/dev/null || { echo "loadtest: wrk is missing (scripts/setup-deps.sh loadtest installs it)" >&2; exit 1; }
[ -x "$mnist" ] || { echo "loadtest: $mnist is not built (make build)" >&2; exit 1; }
if [ ! -f "$model" ]; then
  echo "loadtest: training $model (cnn, fast recipe, 600 steps) first"
  mkdir -p "$(dirname "$model")"
  "$mnist" train --model cnn --recipe fast --steps 600 --data "$data" --out "$model" --quiet
fi

work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# Bodies: test image 0 (a 7) as JSON 28x28 and as a PNG (dark on light, 4x), and a 112x112
# canvas-like drawing of it (what the page sends while you draw).
python3 - "$data" "$work" <<'EOF'
import gzip, json, os, struct, sys, zlib
data, out = sys.argv[1], sys.argv[2]
path = os.path.join(data, "t10k-images-idx3-ubyte")
raw = gzip.open(path + ".gz").read() if os.path.exists(path + ".gz") else open(path, "rb").read()
img = list(raw[16:16 + 784])
json.dump({"pixels": img}, open(os.path.join(out, "json28.body"), "w"), separators=(",", ":"))
big = [255 - img[(y // 4) * 28 + x // 4] for y in range(112) for x in range(112)]
json.dump({"width": 112, "height": 112, "pixels": big}, open(os.path.join(out, "page112.body"), "w"),
          separators=(",", ":"))
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
rows = b"".join(b"\0" + bytes(big[y * 112:(y + 1) * 112]) for y in range(112))
open(os.path.join(out, "png.body"), "wb").write(
    b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 112, 112, 8, 0, 0, 0, 0))
    + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
EOF
cat >"$work/post.lua" <<'EOF'
wrk.method = "POST"
local f = assert(io.open(os.getenv("BODY"), "rb"))
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = os.getenv("TYPE")
EOF

"$mnist" serve "$model" --port 0 ${SERVE_THREADS:+--threads $SERVE_THREADS} >"$work/serve.out" 2>"$work/serve.err" &
pid=$!
url=""
for _ in $(seq 100); do
  url=$(grep -o 'http://127.0.0.1:[0-9]*/' "$work/serve.out" 2>/dev/null) && break
  kill -0 $pid 2>/dev/null || { cat "$work/serve.err" >&2; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { echo "loadtest: the server did not start" >&2; exit 1; }
answer=$(curl -s --data-binary @"$work/json28.body" "${url}api/predict" | python3 -c 'import json,sys; print(json.load(sys.stdin)["digit"])')
echo "loadtest: $model on $url, test image 0 (a 7) is read as $answer; $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

# run NAME BODY TYPE DURATION: one wrk run, then a summary line and a Markdown table row.
run() {
  local name=$1 body=$2 type=$3 dur=$4 before after
  before=$(curl -s "${url}api/model")
  BODY=$work/$body TYPE=$type wrk -t"$wrk_threads" -c"$conns" -d"$dur" --latency -s "$work/post.lua" "${url}api/predict" >"$work/$name.txt"
  after=$(curl -s "${url}api/model")
  cat "$work/$name.txt"
  python3 - "$work/$name.txt" "$name" "$(stat -c %s "$work/$body")" "$before" "$after" "$dur" "$conns" <<'EOF'
import json, re, sys
text, name, size, before, after, dur, conns = open(sys.argv[1]).read(), *sys.argv[2:]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
lat = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", text, re.M))
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, sock.groups())) if sock else 0)
b, a = json.loads(before), json.loads(after)
images, batches = a["images_predicted"] - b["images_predicted"], a["batches_run"] - b["batches_run"]
mean_batch = images / batches if batches else 0
print(f"loadtest: {name}: {rps:.0f} requests/s, latency p50 {lat.get('50')} p90 {lat.get('90')} "
      f"p99 {lat.get('99')}, errors {errors}, mean batch {mean_batch:.1f}")
print(f"| {name} ({size} B) | {dur} x {conns} | {rps:,.0f} | {lat.get('50')} | {lat.get('90')} | "
      f"{lat.get('99')} | {errors} | {mean_batch:.1f} |")
EOF
}
run json28 json28.body application/json "$duration"
if [ "${EXTRA:-1}" = 1 ]; then
  run png png.body image/png 10s
  run page112 page112.body application/json 10s
fi
kill -TERM $pid; rc=0; wait $pid || rc=$?; pid=""
[ $rc -eq 0 ] || { echo "loadtest: the server exited with $rc" >&2; exit 1; }
