"""Engine benchmark (same as ``fuiqa bench``): preprocessing + ORT / torch / TensorRT scoring.

    .venv/bin/python bench/bench_engine.py --json bench/results/engine.json [--threads 1,2]
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.bench import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
