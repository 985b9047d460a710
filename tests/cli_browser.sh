#!/usr/bin/env bash
# cli_browser.sh: the drawing page in a real browser. Trains a small model, starts `mnist serve`
# on a free loopback port and runs tests/browser/browser_test.js (Debian's chromium, headless,
# driven by playwright-core), which draws digits and checks what the page shows. Screenshots go
# to $MNIST_TMP/browser/ (page.png, digit-N.png). Skips only without node or chromium; without
# playwright-core it fails and says how to install it (scripts/setup-deps.sh test).
set -uo pipefail
mnist=${MNIST_BIN:?} src=${MNIST_SOURCE:?} tmp=${MNIST_TMP:-/tmp}/browser
chromium=${CHROMIUM:-/usr/bin/chromium}
rm -rf "$tmp" && mkdir -p "$tmp" && cd "$tmp"

if ! command -v node >/dev/null || [ ! -x "$chromium" ]; then
  echo "SKIP: the browser test needs node and $chromium (scripts/setup-deps.sh test installs both)"
  echo "0 passed, 0 failed"; exit 0
fi
if [ ! -f "$src/tests/browser/node_modules/playwright-core/package.json" ]; then
  echo "FAIL: playwright-core is not installed in tests/browser: run scripts/setup-deps.sh test"
  echo "(or: cd tests/browser && npm ci)"
  echo "0 passed, 1 failed"; exit 1
fi
if [ ! -d "${MNIST_DATA:-}" ]; then echo "SKIP: no MNIST data to train a model"; echo "0 passed, 0 failed"; exit 0; fi

# The tutorial's softmax regression reads cleanly drawn digits reliably and trains in seconds.
"$mnist" train --model softmax --out model.safetensors --quiet >/dev/null 2>train.err ||
  { echo "FAIL: training: $(cat train.err)"; echo "0 passed, 1 failed"; exit 1; }

"$mnist" serve model.safetensors --port 0 --threads 2 >serve.out 2>serve.err &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
url=""
for _ in $(seq 200); do
  url=$(grep -o 'http://127.0.0.1:[0-9]*/' serve.out 2>/dev/null) && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.05
done
[ -n "$url" ] || { echo "FAIL: the server did not start: $(cat serve.err)"; echo "0 passed, 1 failed"; exit 1; }

MNIST_SERVE_URL=$url OUT_DIR=$tmp CHROMIUM=$chromium timeout 400 node "$src/tests/browser/browser_test.js"
rc=$?
kill -TERM $pid; wait $pid; src_rc=$?
trap - EXIT
if [ $src_rc -ne 0 ]; then echo "FAIL: the server exited with $src_rc: $(tail -5 serve.err)"; rc=1; fi
exit $rc
