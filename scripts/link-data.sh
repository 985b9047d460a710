#!/usr/bin/env bash
# link-data.sh: makes ./data/mnist hold the four MNIST files. Uses ../shared/data/mnist when it
# exists (a symbolic link to the read-only copy, never written to), else downloads them.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p data
have() { for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
           [ -e "data/mnist/$f.gz" ] || [ -e "data/mnist/$f" ] || return 1; done; }
if have; then exit 0; fi
if [ -d ../shared/data/mnist ] && [ ! -e data/mnist ]; then
  ln -s "$(cd ../shared/data/mnist && pwd)" data/mnist
  echo "data: using ../shared/data/mnist"
  exit 0
fi
echo "data: downloading MNIST into data/mnist"
"${1:-build/mnist}" data fetch --dir data/mnist
