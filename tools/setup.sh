#!/usr/bin/env bash
# Make the environment in .venv at the repo root and install FUIQA into it (editable).
#   bash tools/setup.sh        the program
#   bash tools/setup.sh dev    the program plus the test tools (pytest, pytest-qt, pydicom-data)
# torch is installed first as torch==2.13.0: on these machines that is a CPU build on local disk,
# whereas an unpinned torch pulls a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."

# Qt's xcb platform plugin needs these system libraries (a fresh Debian/Ubuntu lacks libxcb-cursor0 and
# some of the others): install them where we may (root + apt), else stop and say the exact command.
QT_LIBS="libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-randr0
libxcb-shape0 libxcb-xfixes0 libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0 libegl1 libgl1 libfontconfig1 libdbus-1-3"
if [ "$(uname -s)" = "Linux" ] && command -v dpkg-query >/dev/null 2>&1 && [ "${FUIQA_SKIP_QT_LIBS:-0}" != "1" ]; then
  missing=""
  for p in $QT_LIBS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
  if [ -n "$missing" ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
      echo "installing the Qt system libraries:$missing"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
    else
      echo "The window needs Qt's system libraries, missing here:$missing" >&2
      echo "Install them, then run this again:" >&2
      echo "  sudo apt-get install -y$missing" >&2
      echo "(or FUIQA_SKIP_QT_LIBS=1 bash tools/setup.sh for a headless / offscreen-only machine)" >&2
      exit 1
    fi
  fi
fi
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
