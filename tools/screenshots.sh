#!/usr/bin/env bash
# Start the program under Xvfb (a real X server) on the built-in demo and save screenshots of the live
# view and of cine review to docs/; the same two also under QT_QPA_PLATFORM=offscreen, for comparison.
#
#   bash tools/screenshots.sh            # needs: apt-get install -y xvfb libxcb-icccm4 libxcb-keysyms1 imagemagick
#
# Settings and captures go to a temp folder (the user's own settings are never touched).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-docs}
SECS=${SECS:-6}
mkdir -p "$OUT"
TMP=$(mktemp -d)
export FUIQA_SETTINGS="$TMP/settings.ini" FUIQA_DATA_DIR="$TMP/data"

# a cine to review: the demo sweep (regenerate with `fuiqa synth assets/demo --demo` if missing)
CINE=assets/demo/demo_sweep.mp4
[ -f "$CINE" ] || { echo "missing $CINE" >&2; exit 1; }

XPID=""
cleanup() { [ -n "$XPID" ] && kill "$XPID" 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT

if command -v Xvfb >/dev/null; then
  for n in $(seq 91 99); do [ -e "/tmp/.X11-unix/X$n" ] || { DISP=":$n"; break; }; done
  Xvfb "$DISP" -screen 0 1400x900x24 -nolisten tcp >/dev/null 2>&1 &
  XPID=$!
  sleep 1.5
  DISPLAY="$DISP" QT_QPA_PLATFORM=xcb "$PY" -m app gui --source demo --tab live --exit-after "$SECS" \
      --screenshot "$OUT/screenshot_live.png"
  DISPLAY="$DISP" QT_QPA_PLATFORM=xcb "$PY" -m app gui --source demo --cine "$CINE" --tab cine \
      --exit-after "$((SECS + 4))" --screenshot "$OUT/screenshot_cine.png"
  if command -v import >/dev/null; then  # the whole X screen, as a user would see it (window manager-less)
    DISPLAY="$DISP" QT_QPA_PLATFORM=xcb "$PY" -m app gui --source demo --exit-after "$SECS" &
    GP=$!
    sleep "$((SECS - 1))"
    DISPLAY="$DISP" import -window root "$TMP/root.png" && echo "X root screenshot taken (not kept: $TMP/root.png)"
    wait "$GP"
  fi
else
  echo "Xvfb not installed: only the offscreen screenshots are made" >&2
fi
QT_QPA_PLATFORM=offscreen "$PY" -m app gui --source demo --tab live --exit-after "$SECS" \
    --screenshot "$OUT/screenshot_live_offscreen.png"
QT_QPA_PLATFORM=offscreen "$PY" -m app gui --source demo --cine "$CINE" --tab cine --exit-after "$((SECS + 4))" \
    --screenshot "$OUT/screenshot_cine_offscreen.png"
ls -l "$OUT"/screenshot_*.png
