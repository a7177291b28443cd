#!/usr/bin/env bash
# Creates (once) and reuses the Python environment of autopar's PyTorch
# importer: torch, torchvision, torch-mlir and transformers from PyPI.
#   scripts/torch-env.sh            prints the environment's python on stdout
# The environment lives outside the work tree so that clones and CI runs on
# the same machine share it: $AUTOPAR_VENV, default ~/.cache/autopar/torch-venv.
# It is about 6 GB installed (torch's CUDA wheels); a second call is instant.
set -euo pipefail
home=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
venv=${AUTOPAR_VENV:-$home/.cache/autopar/torch-venv}
# Versions measured to work together (../shared/FRONTEND.md): torch-mlir's only
# PyPI build is 20261001, whose FX importer matches torch 2.14.
pins=(torch==2.14.1 torchvision==0.29.2 torch-mlir==20261001 transformers==5.24.0)
stamp="$venv/.autopar-pins"
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "${pins[*]}" ]; then
  echo "$venv/bin/python"
  exit 0
fi
echo "autopar: creating the PyTorch importer's environment in $venv (one time, ~3 GB download)" >&2
mkdir -p "$(dirname "$venv")"
python3 -m venv "$venv" >&2
"$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >&2
"$venv/bin/python" -m pip install -q --disable-pip-version-check "${pins[@]}" >&2
printf '%s' "${pins[*]}" > "$stamp"
echo "$venv/bin/python"
