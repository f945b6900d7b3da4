#!/usr/bin/env bash
# Install ganforge and train the default model (DCGAN on Fashion-MNIST) for a few minutes.
# Usage: bash quickstart.sh [SECONDS]      (default 180 seconds of training)
set -euo pipefail
cd "$(dirname "$0")"
budget="${1:-180}"

# Fashion-MNIST: Debian ships it (offline machines); otherwise ganforge downloads it on first use
if [ ! -d /usr/share/datasets/fashion-mnist ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist) || echo "note: dataset-fashion-mnist not installed; ganforge will try to download the data"
fi
# torch 2.13.0 first: on CPU machines that is the CPU build; an unpinned `torch` may pull a multi-GB CUDA build
python3 -m pip install -q torch==2.13.0
# all: every optional feature (the digits toy set, SSIM of translations), so that every packaged config runs;
# test + experiments: what the README's second command (the tests) needs
python3 -m pip install -q -e ".[all,test,experiments]"

ganforge train --time-budget "$budget"
