#!/usr/bin/env bash
# Make the environment in .venv at the repo root and install FUIQA into it (editable).
#   bash tools/setup.sh        the program
#   bash tools/setup.sh dev    the program plus the test tools (pytest, pytest-qt, pydicom-data)
# torch is installed first as torch==2.13.0: on these machines that is a CPU build on local disk,
# whereas an unpinned torch pulls a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for c in python3.11 python3.12 python3.13 python3; do command -v "$c" >/dev/null 2>&1 && { PY=$c; break; }; done
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
export PIP_DISABLE_PIP_VERSION_CHECK=1
if ! .venv/bin/python -c "import torch" >/dev/null 2>&1; then
  .venv/bin/python -m pip install -q torch==2.13.0
fi
extras=""
[ "${1:-}" = "dev" ] && extras="[dev]"
.venv/bin/python -m pip install -q -e ".${extras}"
echo "fuiqa installed in $(pwd)/.venv"
