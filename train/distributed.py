"""Distributed helpers (torchrun: env RANK / WORLD_SIZE; gloo on CPU, nccl on GPU)."""
from __future__ import annotations

import os


def _dist():
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist
    return None


def init_distributed_from_env() -> bool:
    """Initialise torch.distributed when launched by torchrun (RANK/WORLD_SIZE set)."""
    import torch
    import torch.distributed as dist

    if _dist() is not None:
        return True
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or "RANK" not in os.environ:
        return False
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend)
    return True


def _rank_world():
    d = _dist()
    return (d.get_rank(), d.get_world_size()) if d else (0, 1)


def _any_true(flag: bool, device) -> bool:
    d = _dist()
    if d is None:
        return flag
    import torch

    t = torch.tensor([1.0 if flag else 0.0], device=device)
    d.all_reduce(t)
    return bool(t.item() > 0)


