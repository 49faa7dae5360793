"""One process or many: ``torchrun`` sets RANK/WORLD_SIZE/LOCAL_RANK and this module does the rest.

gloo on CPU, NCCL on GPU, chosen automatically; collective calls time out (``SEQOCR_DIST_TIMEOUT`` seconds,
default 300) so that a rank that dies takes the job down with an error instead of a hang.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from ..device import pick_device
from ..errors import SeqocrError

CPU = torch.device("cpu")


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = CPU

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup(device_name: str = "") -> Dist:
    """Join the process group when launched by torchrun (WORLD_SIZE > 1); otherwise a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(device_name, local_rank)
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.set_device(device)
    if world == 1:
        return Dist(device=device)
    if not dist.is_initialized():
        timeout = timedelta(seconds=float(os.environ.get("SEQOCR_DIST_TIMEOUT", "300")))
        dist.init_process_group("nccl" if cuda else "gloo", timeout=timeout)
    return Dist(dist.get_rank(), dist.get_world_size(), local_rank, device)


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def all_sum(values: list[float], d: Dist) -> list[float]:
    """Element-wise sum over ranks (a no-op for one process). Counts are summed, never averaged ratios."""
    if d.world == 1:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=d.device if d.device.type == "cuda" else "cpu")
    dist.all_reduce(t)
    return t.tolist()


def all_sum_(t: torch.Tensor, d: Dist) -> torch.Tensor:
    """:func:`all_sum` of a tensor on this process's device, in place, without a host synchronisation."""
    if d.world > 1:
        dist.all_reduce(t)
    return t


def check_same_config(config: dict, d: Dist) -> None:
    """Refuse to train when the ranks were started with different configs."""
    if d.world == 1:
        return
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()
    digests: list[str] = [""] * d.world
    dist.all_gather_object(digests, digest)
    if len(set(digests)) != 1:
        bad = [r for r, h in enumerate(digests) if h != digests[0]]
        raise SeqocrError(f"ranks {bad} were started with a config that differs from rank 0's; "
                          "every rank must run the same config and --set overrides")


def gather_objects(obj, d: Dist) -> list:
    """Every rank's ``obj``, in rank order, on every rank."""
    if d.world == 1:
        return [obj]
    out: list = [None] * d.world
    dist.all_gather_object(out, obj)
    return out
