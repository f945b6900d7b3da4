#!/usr/bin/env bash
# The kit bench/gpu.py needs on the lent accelerator machine, prepared here, where PyPI and the datasets are: that
# machine's image has PyTorch (and most of ganforge's needs) but not pydantic, and no datasets, and reaches nothing.
# Writes .gpu_kit/ (ignored by git): whl/ (pydantic and its needs, for its Python 3.12) and fashion-mnist/ (the idx
# files). Then one device call, carrying .gpu_kit, runs the command in bench/gpu.py's docstring.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.gpu_kit/' .git/info/exclude 2>/dev/null || echo '/.gpu_kit/' >> .git/info/exclude
rm -rf .gpu_kit && mkdir -p .gpu_kit/whl .gpu_kit/fashion-mnist
# the versions installed here, so both machines run the same pydantic
versions=$(python3 - <<'PY'
from importlib.metadata import version
print(" ".join(f"{n}=={version(n)}" for n in ("pydantic", "pydantic_core", "annotated-types", "typing-inspection")))
PY
)
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .gpu_kit/whl $versions
src=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
cp "$src"/*-ubyte.gz .gpu_kit/fashion-mnist/
du -sh .gpu_kit
ls .gpu_kit/whl .gpu_kit/fashion-mnist
