#!/usr/bin/env bash
# cli_serve.sh: `mnist serve` over HTTP with curl: every endpoint, every error (404, 405, 400 for
# malformed JSON, wrong pixel counts, bad numbers, non-image and truncated bodies, blank images,
# 413 for bodies over the limit, with and without a Content-Length), concurrent requests batched
# together without mixing their answers, garbage on the socket, and a clean exit on SIGTERM and
# SIGINT (under the sanitizer build, a leak would make that exit status non-zero).
set -uo pipefail
. "$(dirname "$0")/harness.sh" cli_serve
py=/usr/bin/python3
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; }
trap cleanup EXIT

# Options and files, before any server runs.
check "serve --help" "'$mnist' serve --help | grep -q 'usage: mnist serve MODEL'"
"$mnist" serve >/dev/null 2>&1; check "no model: exit 2" "[ $? -eq 2 ]"
"$mnist" serve m.safetensors --port 70000 >/dev/null 2>&1; check "bad --port: exit 2" "[ $? -eq 2 ]"
out=$("$mnist" serve missing.safetensors --port 0 2>&1); rc=$?
check "missing model: exit 1 naming the file" "[ $rc -eq 1 ] && grep -q 'missing.safetensors' <<<\"\$out\""

if ! command -v curl >/dev/null; then echo "SKIP: no curl (scripts/setup-deps.sh test installs it)"; echo "$pass passed, $fail failed"; [ $fail -eq 0 ]; exit; fi
if [ ! -d "${MNIST_DATA:-}" ]; then echo "SKIP: no MNIST data to train a model"; echo "$pass passed, $fail failed"; [ $fail -eq 0 ]; exit; fi

"$mnist" train --model softmax --out sm.safetensors --quiet >/dev/null 2>&1
check "trained a softmax model" "[ -s sm.safetensors ]"

# start_server OUT ERR ARGS...: starts it, waits for its "serving ... on URL" line, sets $pid, $url.
start_server() {
  local o=$1 e=$2; shift 2
  "$mnist" serve "$@" >"$o" 2>"$e" &
  pid=$!; pids+=("$pid")
  url=""
  for _ in $(seq 200); do
    url=$(grep -o 'http://[^ ]*/' "$o" 2>/dev/null) && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
}
start_server serve.out serve.err sm.safetensors --port 0 --threads 2 --verbose
check "prints 'serving MODEL on http://127.0.0.1:PORT/' ($(cat serve.out))" \
  "grep -q '^serving sm.safetensors on http://127.0.0.1:[0-9]*/$' serve.out"
[ -n "$url" ] || { echo "FAIL: the server did not start: $(cat serve.err)"; echo "$pass passed, $((fail+1)) failed"; exit 1; }
port=${url##*:}; port=${port%/}

# req NAME WANT_STATUS CURL_ARGS...: the status must match; the body is left in body.txt.
req() {
  local name=$1 want=$2; shift 2
  local got; got=$(curl -s -o body.txt -w '%{http_code}' --max-time 20 "$@")
  if [ "$got" = "$want" ]; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $name: HTTP $got (want $want): $(head -c 300 body.txt)"; fi
}
# err NAME WANT_STATUS NEEDLE CURL_ARGS...: a JSON {"error": "...NEEDLE..."} with that status.
err() {
  local name=$1 want=$2 needle=$3; shift 3
  req "$name" "$want" "$@"
  check "$name: JSON error mentioning '$needle'" "json 'assert \"$needle\" in d[\"error\"], d' <body.txt"
}
post() { curl -s --max-time 20 -H 'Content-Type: application/json' --data-binary "@$1" "${url}api/predict"; }

req "GET /healthz" 200 "${url}healthz"
check "/healthz says ok" "[ \"\$(cat body.txt)\" = ok ]"
req "HEAD /healthz" 200 -I "${url}healthz"
req "GET /" 200 -D headers.txt "$url"
check "the page has a canvas, a clear button, bars and the 28x28" \
  "grep -q '<canvas id=\"draw\"' body.txt && grep -q 'id=\"clear\"' body.txt && grep -q 'id=\"bars\"' body.txt && grep -q 'id=\"seen\"' body.txt"
check "the page loads nothing from elsewhere (no http:// or https:// in it)" "! grep -qE 'https?://' body.txt"
check "the page is text/html with a CSP allowing only this server" \
  "grep -qi '^content-type: text/html' headers.txt && grep -qi \"^content-security-policy: default-src 'none'.*connect-src 'self'\" headers.txt"
req "GET /api/model" 200 "${url}api/model"
check "/api/model describes the model" \
  "json 'assert d[\"preset\"]==\"softmax\" and d[\"parameters\"]==7850 and d[\"num_classes\"]==10 and d[\"input_shape\"]==[1,28,28] and d[\"spec\"]==\"dense:10\" and d[\"file\"]==\"sm.safetensors\"' <body.txt"

# Test images: a "1" and a "0" as JSON 28x28 (ink bright), the "1" dark on light at 56x56, and
# as PNG and PGM files; a blank one.
"$py" - <<'EOF'
import json, struct, zlib
def one(x, y): return 12 <= x < 16 and 4 <= y < 24
def zero(x, y): return 0.55 <= ((x - 13.5) / 6) ** 2 + ((y - 13.5) / 9) ** 2 <= 1.0
json.dump({"pixels": [255 if one(x, y) else 0 for y in range(28) for x in range(28)]}, open("one.json", "w"))
json.dump({"pixels": [255 if zero(x, y) else 0 for y in range(28) for x in range(28)]}, open("zero.json", "w"))
json.dump({"width": 56, "height": 56, "pixels": [20 if one(x // 2, y // 2) else 235 for y in range(56) for x in range(56)]}, open("one56.json", "w"))
json.dump({"pixels": [0] * 784}, open("blank.json", "w"))
json.dump({"pixels": [0] * 783 + [300]}, open("range.json", "w"))
json.dump({"pixels": [0] * 783 + ["x"]}, open("string.json", "w"))
json.dump({"pixels": [0] * 3}, open("short.json", "w"))
json.dump({"pixels": [0] * 16, "width": 0, "height": 16}, open("width.json", "w"))
json.dump([1, 2, 3], open("array.json", "w"))
rows = [bytes(20 if 17 <= x < 23 and 8 <= y < 52 else 235 for x in range(40)) for y in range(60)]
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 40, 60, 8, 0, 0, 0, 0))
       + chunk(b"IDAT", zlib.compress(b"".join(b"\0" + r for r in rows))) + chunk(b"IEND", b""))
open("one.png", "wb").write(png)
open("cut.png", "wb").write(png[:40])
open("one.pgm", "wb").write(b"P5 40 60 255\n" + b"".join(rows))
open("big.bin", "wb").write(b"{" + b" " * (1 << 20) + b"}")
EOF

req "POST a JSON 28x28 1" 200 -H 'Content-Type: application/json' --data-binary @one.json "${url}api/predict"
check "it is read as 1, with 10 probabilities summing to 1 and the 784-pixel 28x28" \
  "json 'p=d[\"probabilities\"]; q=d[\"preprocessed\"]; assert d[\"digit\"]==1 and len(p)==10 and abs(sum(p)-1)<1e-4 and p[1]==max(p) and abs(d[\"probability\"]-p[1])<1e-6 and len(q)==784 and all(type(v) is int and 0<=v<=255 for v in q) and sum(q)>0' <body.txt"
req "POST a JSON 28x28 0" 200 --data-binary @zero.json "${url}api/predict"
check "it is read as 0" "json 'assert d[\"digit\"]==0' <body.txt"
req "POST JSON 56x56, dark ink on light" 200 --data-binary @one56.json "${url}api/predict"
check "width/height and dark ink are handled: read as 1" "json 'assert d[\"digit\"]==1' <body.txt"
req "POST a PNG" 200 -H 'Content-Type: image/png' --data-binary @one.png "${url}api/predict"
check "the PNG is read as 1" "json 'assert d[\"digit\"]==1 and len(d[\"preprocessed\"])==784' <body.txt"
req "POST a PGM" 200 --data-binary @one.pgm "${url}api/predict"
check "the PGM is read as 1" "json 'assert d[\"digit\"]==1' <body.txt"
"$mnist" predict sm.safetensors one.png --json > predict.json
check "the same 28x28 and probabilities as mnist predict" \
  "curl -s --data-binary @one.png '${url}api/predict' | json 'import json; e=json.load(open(\"predict.json\")); assert d[\"preprocessed\"]==e[\"preprocessed\"] and max(abs(a-b) for a,b in zip(d[\"probabilities\"],e[\"probabilities\"]))<1e-5'"

err "malformed JSON" 400 "malformed JSON" --data-binary '{"pixels": [1, 2,' "${url}api/predict"
err "JSON that is not an object" 400 "must be an object" --data-binary @array.json "${url}api/predict"
err "no pixels field" 400 "\\\"pixels\\\" must be an array" --data-binary '{"pixel": []}' "${url}api/predict"
err "wrong pixel count" 400 "has 3 numbers" --data-binary @short.json "${url}api/predict"
err "pixel over 255" 400 "pixels[783] is not a number from 0 to 255" --data-binary @range.json "${url}api/predict"
err "pixel that is a string" 400 "pixels[783]" --data-binary @string.json "${url}api/predict"
err "width 0" 400 "\\\"width\\\" must be a whole number" --data-binary @width.json "${url}api/predict"
err "duplicate keys" 400 "malformed JSON" --data-binary '{"pixels": [], "pixels": []}' "${url}api/predict"
err "a body that is not an image" 400 "not a PNG, JPEG or PGM/PPM image" --data-binary 'hello there' "${url}api/predict"
err "a truncated PNG" 400 "PNG" --data-binary @cut.png "${url}api/predict"
head -c 8 one.png > sig.png
err "a PNG signature and nothing else" 400 "truncated PNG" -H 'Content-Type: image/png' --data-binary @sig.png "${url}api/predict"
{ printf x; head -c 3000 /dev/urandom; } > noise.bin
err "random bytes" 400 "request body" --data-binary @noise.bin "${url}api/predict"
head -c 100 /dev/zero > zeros.bin
err "NUL bytes" 400 "not a PNG, JPEG or PGM/PPM image" --data-binary @zeros.bin "${url}api/predict"
err "a blank image" 400 "no ink found" --data-binary @blank.json "${url}api/predict"
err "an empty body" 400 "empty body" -X POST "${url}api/predict"
err "a body over 1 MiB" 413 "over the limit of 1048576 bytes" --data-binary @big.bin "${url}api/predict"
err "a chunked body over 1 MiB" 413 "over the limit" -H 'Transfer-Encoding: chunked' --data-binary @big.bin "${url}api/predict"
err "an unknown path" 404 "no such path: /api/nothing" "${url}api/nothing"
err "GET /api/predict" 405 "use POST" "${url}api/predict"
req "405 names the allowed method" 405 -D headers.txt "${url}api/predict"
check "Allow: POST" "grep -qi '^allow: POST' headers.txt"
err "POST /healthz" 405 "use GET" --data-binary x "${url}healthz"
err "a path with odd bytes" 404 "no such path" "${url}%00%ff%1b"

# Garbage on the socket, and a client that goes away mid-body: the server answers or drops it.
exec 3<>"/dev/tcp/127.0.0.1/$port" && printf 'NOT HTTP AT ALL\r\n\r\n' >&3 && timeout 5 cat <&3 >garbage.txt; exec 3<&-
check "garbage on the socket gets a 400 from the HTTP layer" "grep -q '^HTTP/1.1 400' garbage.txt"
exec 3<>"/dev/tcp/127.0.0.1/$port" && printf 'POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{"pix' >&3; exec 3<&-

# Concurrency: 48 requests, 16 at a time, alternating two digits: batched, never mixed up.
seq 48 | xargs -P 16 -I{} sh -c 'f=one; [ $(({} % 2)) -eq 0 ] && f=zero; curl -s --max-time 30 --data-binary @$f.json "$0api/predict" > par.{}.$f.out' "$url"
check "48 concurrent requests all answered, each with its own digit" "$py - <<'EOF'
import glob, json
outs = glob.glob('par.*.out')
assert len(outs) == 48, len(outs)
for f in outs:
    d = json.load(open(f))
    assert d['digit'] == (1 if f.endswith('one.out') else 0), (f, d.get('digit'), d.get('error'))
EOF"
req "still healthy after all that" 200 "${url}healthz"
check "--verbose logs one line per request" "grep -q 'POST /api/predict 200' serve.err && grep -q 'GET /api/nothing 404' serve.err"

# A second server on the same port fails with a message; SIGTERM and SIGINT stop cleanly.
out=$("$mnist" serve sm.safetensors --port "$port" 2>&1); rc=$?
check "a port in use: exit 1, 'cannot listen' ($out)" "[ $rc -eq 1 ] && grep -q 'cannot listen on 127.0.0.1 port $port' <<<\"\$out\""
kill -TERM "$pid"; wait "$pid"; rc=$?
check "SIGTERM: exit 0 (got $rc)" "[ $rc -eq 0 ] && grep -q 'SIGTERM, stopping' serve.err && grep -q 'stopped' serve.err"
start_server serve2.out serve2.err sm.safetensors --port 0
curl -s --max-time 10 --data-binary @one.json "${url}api/predict" >/dev/null
kill -INT "$pid"; wait "$pid"; rc=$?
check "SIGINT: exit 0 (got $rc)" "[ $rc -eq 0 ] && grep -q 'stopped' serve2.err"
check "quiet without --verbose" "! grep -q 'POST /api/predict' serve2.err"

finish
