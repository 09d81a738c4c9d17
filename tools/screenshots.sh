#!/usr/bin/env bash
# Screenshots for docs/, under Xvfb (a real X server), dark theme: the live view (gauge, plane panel,
# exam strip), cine review, the exam report (+ its preview window) and the retrain dialog
# (tools/screenshots.py says how each is made); then the live view under QT_QPA_PLATFORM=offscreen too.
#
#   bash tools/screenshots.sh            # needs: apt-get install -y xvfb libxcb-icccm4 libxcb-keysyms1 imagemagick
#
# Settings and captures go to a temp folder (the user's own settings are never touched).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-docs}
mkdir -p "$OUT"
TMP=$(mktemp -d)
export FUIQA_SETTINGS="$TMP/settings.ini" FUIQA_DATA_DIR="$TMP/data"
[ -f assets/demo/demo_sweep.mp4 ] || { echo "missing assets/demo/demo_sweep.mp4" >&2; exit 1; }

XPID=""
cleanup() { [ -n "$XPID" ] && kill "$XPID" 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT

if command -v Xvfb >/dev/null; then
  for n in $(seq 91 99); do [ -e "/tmp/.X11-unix/X$n" ] || { DISP=":$n"; break; }; done
  Xvfb "$DISP" -screen 0 1400x900x24 -nolisten tcp >/dev/null 2>&1 &
  XPID=$!
  sleep 1.5
  DISPLAY="$DISP" QT_QPA_PLATFORM=xcb "$PY" tools/screenshots.py "$OUT"
  # 800 px wide: nothing cut
  DISPLAY="$DISP" QT_QPA_PLATFORM=xcb "$PY" -m app gui --source demo --tab live --size 800x600 --exit-after 5 \
      --screenshot "$OUT/screenshot_live_800.png"
else
  echo "Xvfb not installed: only the offscreen screenshot is made" >&2
fi
QT_QPA_PLATFORM=offscreen "$PY" -m app gui --source demo --tab live --exit-after 5 \
    --screenshot "$OUT/screenshot_live_offscreen.png"
ls -l "$OUT"/screenshot_*.png "$OUT"/exam_report.png
