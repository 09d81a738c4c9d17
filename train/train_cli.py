"""``fuiqa train`` and ``fuiqa eval`` (registered by app/cli.py).

    fuiqa train DATA --out MODEL_DIR [--config F] [--epochs N] [--model rt|gpu] [--fusion mqf|last]
                [--loss gcc|mse|l1|nin] [--mixing cmx|mixup|cmixup|none] [--seed S] [--resume|--fresh]
                [--progress-jsonl]
    fuiqa eval MODEL DATA [--split test|val|train|all] [--json] [--boot N]

Under torchrun (``torchrun --nproc_per_node 2 -m app.cli train DATA --out DIR``) the same command
trains with DistributedDataParallel.
"""
from __future__ import annotations

import json
import signal
import sys


def register(sub) -> None:
    """Add this package's subcommands to ``sub`` (an argparse subparsers object)."""
    p = sub.add_parser("train", help="train a quality model on a labelled image folder")
    p.add_argument("data", help="folder with labels.csv and the images")
    p.add_argument("--out", required=True, help="output folder (model.fuiqa, checkpoint.pt, metrics.json)")
    p.add_argument("--config", help="JSON file with TrainConfig options (see docs/training.md)")
    p.add_argument("--model", choices=["rt", "gpu"])
    p.add_argument("--fusion", choices=["mqf", "last"])
    p.add_argument("--input-size", type=int, help="train the size's layers at this input side (multiple of 32)")
    p.add_argument("--loss", choices=["gcc", "mse", "l1", "nin"])
    p.add_argument("--mixing", choices=["cmx", "mixup", "cmixup", "none"])
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--threads", type=int, help="torch threads (default 1)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"])
    g = p.add_mutually_exclusive_group()
    g.add_argument("--resume", action="store_true", help="resume from out/checkpoint.pt (error if it does not match)")
    g.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint and start over")
    p.add_argument("--progress-jsonl", action="store_true", help="print progress as JSON lines on stdout (for the GUI)")
    p.set_defaults(func=cmd_train)

    e = sub.add_parser("eval", help="evaluate a model package on a labelled folder (PLCC/SRCC/KRCC/RMSE, 95%% CIs)")
    e.add_argument("model", help="a .fuiqa model package")
    e.add_argument("data", help="folder with labels.csv and the images")
    e.add_argument("--split", default="test", choices=["train", "val", "test", "all"])
    e.add_argument("--json", action="store_true", help="print only the JSON")
    e.add_argument("--boot", type=int, default=1000, help="bootstrap resamples for the 95%% CIs")
    e.add_argument("--split-from", metavar="MODEL",
                   help="take the train/val/test split from this model's training config instead of MODEL's own "
                        "(to compare two models on the same images)")
    e.set_defaults(func=cmd_eval)


def _config(args):
    from .trainer import TrainConfig

    cfg = TrainConfig.from_json(args.config) if args.config else TrainConfig()
    over = {"model": args.model, "fusion": args.fusion, "loss": args.loss, "mixing": args.mixing,
            "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed,
            "input_size": args.input_size, "num_threads": args.threads, "device": args.device}
    d = cfg.to_dict()
    d.update({k: v for k, v in over.items() if v is not None})
    return TrainConfig.from_dict(d, "command line")


def cmd_train(args) -> int:
    from .data import DataError
    from .trainer import TrainError, train

    jsonl = args.progress_jsonl
    stop = {"flag": False}

    def on_signal(signum, frame):  # noqa: ARG001
        stop["flag"] = True
        print("stopping after this step (signal)", file=sys.stderr, flush=True)

    for s in (signal.SIGINT, signal.SIGTERM):
        try:
            signal.signal(s, on_signal)
        except (ValueError, OSError):  # not the main thread / not supported
            pass

    bar = {"b": None}

    def progress(ev: dict) -> None:
        if jsonl:
            print(json.dumps(ev, default=str), flush=True)
            return
        kind = ev["event"]
        if kind == "step":
            if bar["b"] is None:
                from tqdm import tqdm

                bar["b"] = tqdm(total=ev["steps"], desc=f"epoch {ev['epoch']}", leave=False, file=sys.stderr)
            bar["b"].set_postfix(loss=f"{ev['loss']:.4f}")
            bar["b"].update(1)
        elif kind in ("epoch", "stopped", "done"):
            if bar["b"] is not None:
                bar["b"].close()
                bar["b"] = None
            if kind == "epoch":
                print(f"epoch {ev['epoch']}/{ev['epochs']}  loss {ev['train_loss']:.4f}  val SRCC {ev['val_srcc']:.4f}  "
                      f"PLCC {ev['val_plcc']:.4f}  (best epoch {ev['best_epoch']}, {ev['seconds']} s)", file=sys.stderr)
            elif kind == "stopped":
                print(f"stopped in epoch {ev['epoch']}; no model written; checkpoint: {ev['checkpoint']}", file=sys.stderr)
        elif kind == "start":
            print(f"training on {ev['n_train']} images (val {ev['n_val']}, test {ev['n_test']}), "
                  f"{ev['epochs']} epochs from {ev['start_epoch'] + 1}, {ev['device']}, world {ev['world_size']}", file=sys.stderr)
        elif kind == "resume":
            print(f"resuming after epoch {ev['epoch']} from {ev['checkpoint']}", file=sys.stderr)

    try:
        cfg = _config(args)
        resume = True if args.resume else (False if args.fresh else "auto")
        res = train(args.data, args.out, cfg, progress=progress, should_stop=lambda: stop["flag"], resume=resume)
    except (TrainError, DataError) as e:
        if jsonl:
            print(json.dumps({"event": "error", "message": str(e)}), flush=True)
        print(f"error: {e}", file=sys.stderr)
        return 2
    if res.stopped:
        return 130
    if not jsonl:
        from .metrics import format_table

        print(format_table(res.metrics, f"test split ({res.metrics['n']} images), best epoch {res.best_epoch}"))
        print(f"model: {res.model_path}")
    return 0


def cmd_eval(args) -> int:
    from engine.modelpack import ModelError

    from .data import DataError
    from .metrics import format_table
    from .trainer import TrainError, evaluate_package

    try:
        m = evaluate_package(args.model, args.data, args.split, n_boot=args.boot, split_from=args.split_from)
    except (TrainError, DataError, ModelError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not args.json:
        print(format_table(m, f"{args.model} on {args.data} [{args.split}], backend {m['backend']}"))
        if not m["trained"]:
            print("WARNING: UNTRAINED MODEL (random weights)")
    from .metrics import json_safe

    print(json.dumps(json_safe(m), indent=None if not args.json else 2, default=str, allow_nan=False))
    return 0
