#!/usr/bin/env bash
# demo.sh: what `make demo` shows: the tutorial's softmax regression, the tutorial's CNN with the
# fast recipe, then predictions for random test images. Models go to ./out/.
set -euo pipefail
mnist=${1:-build/mnist}
cd "$(dirname "$0")/.."
mkdir -p out
echo "== 1. Softmax regression, the tutorial's recipe (SGD 0.5, batch 100, 1000 steps)"
"$mnist" train --model softmax --out out/softmax.safetensors
echo
echo "== 2. The tutorial's convolutional network, fast recipe (2 epochs)"
"$mnist" train --model cnn --recipe fast --out out/cnn.safetensors
echo
echo "== 3. Random test images and what the network says"
"$mnist" sample out/cnn.safetensors -n 8 --png out/sample.png
