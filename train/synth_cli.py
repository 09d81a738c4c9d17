"""Subcommands of ``fuiqa`` that belong to this package (registered by app/cli.py): ``fuiqa synth``."""
from __future__ import annotations

import json
import sys
import time


def register(sub) -> None:
    """Add this package's subcommands to ``sub`` (an argparse subparsers object)."""
    p = sub.add_parser(
        "synth",
        help="make a SYNTHETIC labelled fetal ultrasound data set (images, labels.csv, sweeps)",
        description="Write OUT/images/synth_<plane>_<i>.png, OUT/labels.csv (name,mos,std,plane,group + "
                    "criterion flags and factor severities), OUT/SYNTHETIC.txt and OUT/sweeps/sweep_XXX."
                    "{mp4,dcm,csv}. The same seed gives the same bytes. With --demo, write the demo "
                    "sweep (OUT/demo_sweep.mp4 + .csv) instead.")
    p.add_argument("out", help="output folder")
    p.add_argument("--n", type=int, default=100, help="number of images (default 100)")
    p.add_argument("--planes", default="head,abdomen,femur",
                   help="comma-separated planes: head,abdomen,femur (assessed) and 4CH (four-chamber heart, "
                        "not assessed: labels.csv then has a 'scored' column, 0 on its rows)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sweeps", type=int, default=0, help="number of sweeps (cine loops) to write")
    p.add_argument("--sweep-frames", type=int, default=75, help="frames per sweep (25 fps)")
    p.add_argument("--size", type=int, default=256, help="image side in pixels (default 256)")
    p.add_argument("--screen", action="store_true",
                   help="draw a scanner-like screen (text, grey bar) around the fan; 4:3 canvas")
    p.add_argument("--style", choices=("plain", "real"), default="plain",
                   help="plain: the fan on black, as before (default); real: domain randomisation - tissue "
                        "and fluid filling the fan, zoomed anatomy, speckle, TGC, grey maps, tinted maps "
                        "(docs/synthetic.md); the labels follow the same rules")
    p.add_argument("--realism", type=float, default=None,
                   help="strength of the real style, 0-1 (default: 1 with --style real, 0 otherwise)")
    p.add_argument("--maps", action="store_true",
                   help="also write maps/<name>.png (imaging region 128, shadow / lift-off 255) named in an "
                        "artefact_map column, with a shadow or lift-off added to --artefact-share of the images: "
                        "per-cell supervision of the heatmap (plain fans only)")
    p.add_argument("--artefact-share", type=float, default=0.5)
    p.add_argument("--workers", type=int, default=1, help="processes (output is the same for any count)")
    p.add_argument("--demo", action="store_true",
                   help="write the demo asset OUT/demo_sweep.{mp4,csv} (e.g. OUT=assets/demo)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from train.synth.dataset import generate
    from train.synth.sweep import write_demo

    t0 = time.perf_counter()
    if args.demo:
        path = write_demo(args.out, progress=not args.no_progress)
        print(f"wrote {path} (SYNTHETIC demo) in {time.perf_counter() - t0:.1f} s")
        return 0
    planes = [p.strip() for p in args.planes.split(",") if p.strip()]
    realism = args.realism if args.realism is not None else (1.0 if args.style == "real" else 0.0)
    try:
        summary = generate(args.out, args.n, planes=planes, seed=args.seed, sweeps=args.sweeps, size=args.size,
                           screen=args.screen, workers=args.workers, progress=not args.no_progress,
                           sweep_frames=args.sweep_frames, realism=realism,
                           maps=args.maps, artefact_share=args.artefact_share)
    except ValueError as e:
        print(f"fuiqa synth: {e}", file=sys.stderr)
        return 2
    dt = time.perf_counter() - t0
    summary["seconds"] = round(dt, 2)
    print(json.dumps(summary))
    return 0
