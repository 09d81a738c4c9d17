"""Model soups (Wortsman et al. 2022): the uniform average of the weights of fine-tuned runs of one lineage.

    .venv/bin/python tools/soup.py OUT.fuiqa A.fuiqa B.fuiqa [C.fuiqa ...]

Runs fine-tuned from one initialisation (or from each other) lie in one basin, so the mean of their
weights is a model, often better than each on the data they share. Every floating tensor (BatchNorm
statistics too) is averaged over the packages; the density buffers (``density_*``) are the first
package's, *stale* for the averaged features until tools/refit_density.py refits them. The packages
must have the same architecture; the metadata is the first one's, with ``soup`` recorded.
"""
from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))


def soup(paths, out: Path):
    """The uniform soup of the packages ``paths`` as a package at ``out``."""
    import torch

    from engine import modelpack
    from wise_ft import package_state

    pkgs = [modelpack.load(p) for p in paths]
    if len(pkgs) < 2:
        raise SystemExit("a soup needs at least two models")
    if any(p.weights is None for p in pkgs):
        raise SystemExit("every package needs its torch weights")
    arch = pkgs[0].meta["arch"]
    if any(p.meta.get("arch") != arch for p in pkgs[1:]):
        raise SystemExit("the packages differ in architecture: no soup")
    states = [torch.load(io.BytesIO(p.weights), map_location="cpu", weights_only=True) for p in pkgs]
    mixed = {}
    for k, v in states[0].items():
        if v.is_floating_point() and not k.startswith("density_"):
            mixed[k] = sum(s[k] for s in states) / len(states)
        else:
            mixed[k] = v
    return package_state(mixed, pkgs[0], out, f"{pkgs[0].meta.get('name', 'model')}-soup{len(paths)}",
                         soup={"models": [str(p) for p in paths], "density": "the first model's (stale until refit)"})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("models", type=Path, nargs="+")
    a = ap.parse_args(argv)
    soup(a.models, a.out)
    print(f"soup of {len(a.models)} -> {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
