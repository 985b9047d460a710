#!/usr/bin/env bash
# setup-deps.sh: makes sure the Debian packages mnist.c needs are installed.
# As root on Debian it apt-gets what is missing; otherwise it prints exactly what to install.
# Usage: scripts/setup-deps.sh [build|test|bench|loadtest]   (bench adds PyTorch; test adds the
# browser and playwright-core; loadtest adds wrk)
set -euo pipefail
what=${1:-build}

pkgs=(build-essential cmake pkg-config zlib1g-dev libpng-dev libjpeg-dev libjansson-dev
      libcurl4-openssl-dev libssl-dev libmicrohttpd-dev python3 clang libclang-rt-14-dev)
case "$what" in
  test)  pkgs+=(chromium nodejs valgrind curl)
         # NodeSource's nodejs bundles npm and conflicts with Debian's npm package.
         command -v npm >/dev/null || pkgs+=(npm) ;;
  bench) pkgs+=(python3-torch libopenblas0-openmp wrk) ;;
  loadtest) pkgs+=(wrk curl) ;;
esac

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  :
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || true
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: missing packages: ${missing[*]}" >&2
  echo "setup: install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi

# The browser test drives chromium with playwright-core, pinned by tests/browser/package-lock.json.
browser_dir=$(dirname "$0")/../tests/browser
if [ "$what" = test ] && [ ! -f "$browser_dir/node_modules/playwright-core/package.json" ]; then
  echo "setup: installing playwright-core into tests/browser (npm ci)"
  (cd "$browser_dir" && npm ci --no-audit --no-fund --loglevel=error)
fi
