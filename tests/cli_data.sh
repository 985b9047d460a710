#!/usr/bin/env bash
# cli_data.sh: `mnist data fetch` and `mnist data verify` against HTTP servers on 127.0.0.1 only
# (a good one, python3 -m http.server, and misbehaving ones, tests/http_corrupt_server.py). No
# test here contacts any other host: MNIST_MIRRORS always names local servers.
set -euo pipefail

BIN=${MNIST_BIN:?set MNIST_BIN to the mnist program}
SRC=${MNIST_SOURCE:-$(cd "$(dirname "$0")/.." && pwd)}
TMP=${MNIST_TMP:-/tmp/mnist-tests}/cli_data
rm -rf "$TMP"
mkdir -p "$TMP"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export NO_PROXY='*' no_proxy='*'

pass=0
fail=0
check() { # check DESCRIPTION COMMAND...
    local desc=$1
    shift
    if "$@"; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL: $desc" >&2
        echo "  output was: ${out:-}" >&2
    fi
}
run() { # run COMMAND...: sets $out (stdout and stderr) and $rc
    set +e
    out=$("$@" 2>&1)
    rc=$?
    set -e
}
has() { [[ "$out" == *"$1"* ]]; }
empty_dir() { [ -d "$1" ] && [ -z "$(ls -A "$1")" ]; }
no_temp_files() { [ -z "$(find "$1" -name '*.tmp.*' -o -name '*.part*')" ]; }

FILES="train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz"

# The real files, if we can find them; else synthetic ones (which can never match the real sums).
DATA=""
for d in "${MNIST_DATA:-}" "$SRC/../shared/data/mnist"; do
    [ -n "$d" ] || continue
    all=1
    for f in $FILES; do [ -r "$d/$f" ] || all=0; done
    if [ $all = 1 ]; then DATA=$d; break; fi
done
WWW=$TMP/www
mkdir -p "$WWW"
if [ -n "$DATA" ]; then
    REAL=1
    for f in $FILES; do cp "$DATA/$f" "$WWW/$f"; done
else
    REAL=0
    echo "skip: no MNIST data (\$MNIST_DATA, $SRC/../shared/data/mnist); using synthetic files," \
        "so the checks that need the real SHA-256 sums are skipped"
    for f in $FILES; do head -c 5000 /dev/urandom | gzip -c > "$WWW/$f"; done
fi

# ---- servers ------------------------------------------------------------------------------------
PIDS=()
cleanup() {
    for p in ${PIDS[@]+"${PIDS[@]}"}; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 1' INT TERM

wait_port() { # wait_port PORT: until something accepts connections there (10 s at most)
    for _ in $(seq 100); do
        if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 0.5).close()" "$1" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "server on port $1 did not start" >&2
    exit 1
}

GOOD_PORT=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
python3 -m http.server --bind 127.0.0.1 --directory "$WWW" "$GOOD_PORT" >"$TMP/good.log" 2>&1 &
PIDS+=($!)
wait_port "$GOOD_PORT"
GOOD=http://127.0.0.1:$GOOD_PORT/

start_bad() { # start_bad MODE [TARGET]: prints the server's base URL
    local mode=$1 target=${2:-}
    local pf=$TMP/port.$mode
    python3 "$SRC/tests/http_corrupt_server.py" --dir "$WWW" --mode "$mode" --port-file "$pf" \
        --target "$target" >"$TMP/$mode.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 100); do [ -s "$pf" ] && break; sleep 0.1; done
    [ -s "$pf" ] || { echo "server $mode did not start" >&2; exit 1; }
}
start_bad corrupt
start_bad truncate
start_bad flip
start_bad 404
start_bad redirect "$GOOD"
start_bad huge
url_of() { echo "http://127.0.0.1:$(cat "$TMP/port.$1")/"; }
CORRUPT=$(url_of corrupt)
TRUNCATE=$(url_of truncate)
FLIP=$(url_of flip)
NOTFOUND=$(url_of 404)
REDIRECT=$(url_of redirect)
HUGE=$(url_of huge)
# A port nothing listens on: bind, note the port, close.
CLOSED=http://127.0.0.1:$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")/

# The built-in mirrors are never used here: every fetch sees local mirrors only.
export MNIST_MIRRORS=$NOTFOUND

# ---- command line -------------------------------------------------------------------------------
run "$BIN" data --help
check "data --help exits 0" [ "$rc" = 0 ]
check "help documents MNIST_MIRRORS" has MNIST_MIRRORS
check "help documents --mirror" has "--mirror URL"
run "$BIN" data
check "data without a subcommand exits 2" [ "$rc" = 2 ]
run "$BIN" data frobnicate
check "unknown subcommand exits 2 and says so" eval '[ "$rc" = 2 ] && has "frobnicate"'
run "$BIN" data fetch --dir "$TMP/x" --mirror
check "--mirror without a value exits 2" eval '[ "$rc" = 2 ] && has "--mirror needs a value"'
run "$BIN" data verify --mirror "$GOOD"
check "verify takes no --mirror" eval '[ "$rc" = 2 ] && has "unknown option"'
run "$BIN" data fetch --dir "$TMP/x" --mirror "127.0.0.1/nothing"
check "a mirror that is not a URL is refused" eval '[ "$rc" != 0 ] && has "is not a http://"'

# ---- failures that leave nothing behind (real or synthetic data) -------------------------------
D=$TMP/corrupt
run "$BIN" data fetch --dir "$D" --mirror "$CORRUPT"
check "corrupt mirror: fetch fails" [ "$rc" != 0 ]
check "corrupt mirror: message names the file" has "train-images-idx3-ubyte.gz"
check "corrupt mirror: message says checksum mismatch" has "checksum mismatch"
check "corrupt mirror: message names the mirror" has "$CORRUPT"
check "corrupt mirror: directory created and left empty" empty_dir "$D"

D=$TMP/truncate
run "$BIN" data fetch --dir "$D" --mirror "$TRUNCATE"
check "truncating mirror: fetch fails, says truncated" eval '[ "$rc" != 0 ] && has "truncated gzip"'
check "truncating mirror: nothing left behind" empty_dir "$D"

D=$TMP/flip
run "$BIN" data fetch --dir "$D" --mirror "$FLIP"
check "bit-flipping mirror: fetch fails, names the file" \
    eval '[ "$rc" != 0 ] && has "train-images-idx3-ubyte.gz" && has "gzip"'
check "bit-flipping mirror: nothing left behind" empty_dir "$D"

D=$TMP/notfound
run "$BIN" data fetch --dir "$D"
check "404 mirror: fetch fails with HTTP 404 and the file" \
    eval '[ "$rc" != 0 ] && has "HTTP 404" && has "train-images-idx3-ubyte.gz" && has "$NOTFOUND"'
check "404 mirror: nothing left behind" empty_dir "$D"

D=$TMP/closed
run "$BIN" data fetch --dir "$D" --mirror "$CLOSED"
check "closed port: fails and names both mirrors tried" \
    eval '[ "$rc" != 0 ] && has "$CLOSED" && has "$NOTFOUND"'
check "closed port: nothing left behind" empty_dir "$D"

D=$TMP/huge
run "$BIN" data fetch --dir "$D" --mirror "$HUGE"
check "oversized download is refused" eval '[ "$rc" != 0 ] && has "limit"'
check "oversized download: nothing left behind" empty_dir "$D"

D=$TMP/corrupt-all
MNIST_MIRRORS="$FLIP,$TRUNCATE" run "$BIN" data fetch --dir "$D" --mirror "$CORRUPT"
check "three bad mirrors: the error lists all three" \
    eval '[ "$rc" != 0 ] && has "$CORRUPT" && has "$FLIP" && has "$TRUNCATE"'
check "three bad mirrors: nothing left behind" empty_dir "$D"

if [ $REAL = 0 ]; then
    echo "skip: fetch/verify success cases need the real MNIST files"
    echo "$pass passed, $fail failed"
    [ "$fail" = 0 ]
    exit
fi

# ---- success ------------------------------------------------------------------------------------
D=$TMP/good
run "$BIN" data fetch --dir "$D" --mirror "$GOOD"
check "good mirror: fetch succeeds" [ "$rc" = 0 ]
check "good mirror: progress names each file" eval 'has "got   train-images-idx3-ubyte.gz" && has "got   t10k-labels-idx1-ubyte.gz"'
for f in $FILES; do
    check "good mirror: $f matches the served bytes" cmp -s "$WWW/$f" "$D/$f"
done
check "good mirror: no temporary files" no_temp_files "$D"
run "$BIN" data verify --dir "$D"
check "verify passes after fetch" [ "$rc" = 0 ]
check "verify prints one ok line per file" [ "$(grep -c '^ok  ' <<<"$out")" = 4 ]
check "verify prints the sum" has "ok  train-images-idx3-ubyte.gz  sha256 ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
MNIST_DATA=$D run "$BIN" data verify
check "verify uses \$MNIST_DATA by default" eval '[ "$rc" = 0 ] && [ "$(grep -c "^ok  " <<<"$out")" = 4 ]'

run "$BIN" data fetch --dir "$D" --mirror "$NOTFOUND"
check "fetch skips files already present and valid (no mirror needed)" \
    eval '[ "$rc" = 0 ] && [ "$(grep -c "^have  " <<<"$out")" = 4 ]'

D=$TMP/fallback
MNIST_MIRRORS="$NOTFOUND,$GOOD" run "$BIN" data fetch --dir "$D" --mirror "$CORRUPT"
check "corrupt first, 404 second, good third: fetch succeeds" [ "$rc" = 0 ]
check "fallback: the corrupt mirror's failure is reported" eval 'has "$CORRUPT" && has "checksum mismatch"'
check "fallback: files verify" eval '"$BIN" data verify --dir "$D" >/dev/null'
check "fallback: no temporary files" no_temp_files "$D"

D=$TMP/redirect
run "$BIN" data fetch --dir "$D" --mirror "$REDIRECT"
check "redirects are followed" eval '[ "$rc" = 0 ] && "$BIN" data verify --dir "$D" >/dev/null'

D=$TMP/file
run "$BIN" data fetch --dir "$D" --mirror "file://$WWW/"
check "a file:// mirror works" eval '[ "$rc" = 0 ] && "$BIN" data verify --dir "$D" >/dev/null'

# ---- verify on damaged directories, and fetch repairing them -------------------------------------
D=$TMP/damaged
mkdir -p "$D"
cp "$WWW"/*.gz "$D"/
head -c 1000 "$WWW/t10k-labels-idx1-ubyte.gz" >"$D/t10k-labels-idx1-ubyte.gz"
run "$BIN" data verify --dir "$D"
check "verify fails on a damaged file" [ "$rc" != 0 ]
check "verify names the damaged file" has "BAD t10k-labels-idx1-ubyte.gz  truncated gzip"
check "verify still checks the others" [ "$(grep -c '^ok  ' <<<"$out")" = 3 ]

gzip -dc "$WWW/train-labels-idx1-ubyte.gz" | python3 -c "
import sys, gzip; b = bytearray(sys.stdin.buffer.read()); b[100] ^= 1
sys.stdout.buffer.write(gzip.compress(bytes(b)))" >"$D/train-labels-idx1-ubyte.gz"
rm "$D/train-images-idx3-ubyte.gz"
run "$BIN" data verify --dir "$D"
check "verify: a valid gzip with wrong content is a checksum mismatch" \
    has "BAD train-labels-idx1-ubyte.gz  checksum mismatch"
check "verify: a missing file is named" has "BAD train-images-idx3-ubyte.gz  missing"
check "verify: exactly one ok line left" [ "$(grep -c '^ok  ' <<<"$out")" = 1 ]

run "$BIN" data fetch --dir "$D" --mirror "$GOOD"
check "fetch repairs a damaged directory" eval '[ "$rc" = 0 ] && has "have  t10k-images-idx3-ubyte.gz"'
check "repaired directory verifies" eval '"$BIN" data verify --dir "$D" >/dev/null'

D=$TMP/raw
mkdir -p "$D"
for f in $FILES; do gzip -dc "$WWW/$f" >"$D/${f%.gz}"; done
run "$BIN" data verify --dir "$D"
check "verify accepts uncompressed files" eval '[ "$rc" = 0 ] && has "ok  train-images-idx3-ubyte  sha256"'

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
