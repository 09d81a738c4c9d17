#!/usr/bin/env bash
# Build the one-folder PyInstaller bundle (build_installer.spec) and start it headless on the demo:
#   bash tools/smoke_installer.sh
# Exits non-zero if the build fails or the bundled program does not run, score and exit 0.
# Not part of pytest/CI (the build takes minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
"$PY" -c "import PyInstaller" 2>/dev/null || "$PY" -m pip install -q "pyinstaller>=6.0"
WORK=${WORK:-$(mktemp -d)}
t0=$(date +%s)
nice -n 10 "$PY" -m PyInstaller build_installer.spec --noconfirm --log-level WARN \
    --distpath "$WORK/dist" --workpath "$WORK/build"
echo "built in $(( $(date +%s) - t0 )) s: $(du -sh "$WORK/dist/fuiqa" | cut -f1) in $WORK/dist/fuiqa"
export QT_QPA_PLATFORM=offscreen FUIQA_SETTINGS="$WORK/settings.ini" FUIQA_DATA_DIR="$WORK/data"
out=$("$WORK/dist/fuiqa/fuiqa" gui --source demo --exit-after 4 --screenshot "$WORK/bundle.png" --json)
echo "$out"
echo "$out" | tail -1 | "$PY" -c "import json,sys; c=json.loads(sys.stdin.read()); assert c['scored'] > 0, c; print('bundle OK:', c)"
test -s "$WORK/bundle.png"
