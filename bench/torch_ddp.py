"""torch DDP reference for bench/sections/torch-ddp.ts: training throughput of W processes on
loopback, the job a gradfleet cluster of W workers runs in the cluster section.

Each rank (started by torch_loopback.py): torch.set_num_threads(1), DistributedDataParallel
(gloo, rendezvous on 127.0.0.1 at a free port) over the MLP 784-256-128-10 with ReLU
(bench/models.ts 'mlp'), global_batch / world samples of its own (synthetic: torch.rand inputs,
random int labels, seeded per rank),
nn.CrossEntropyLoss() (mean per rank; DDP averages the gradients, which gives the mean over the
global batch), clip_grad_norm_(params, 1.0), AdamW(lr=1e-3, weight_decay=0.01). After `warmup`
steps, `runs` timed runs of `steps` steps each, all ranks meeting at a barrier before and after
every run. Without "steps", each run lasts at least min_run_seconds (rank 0 times a few steps and
tells the others how many). world=1 is a sanity mode: the same loop in this process, no DDP.

Usage: python3 torch_ddp.py '{"world": 2, "global_batch": 1024, "warmup": 5, "steps": 50, "runs": 5}'
       (optional: "min_run_seconds": 0.5 instead of "steps", "threads": 1 per rank)
Prints one JSON object on stdout (from rank 0): seconds per step of each timed run, the steps
per run, and the global samples per step.
"""
import json
import sys
import time

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

import torch_loopback

PROBE_STEPS = 5


def build_mlp():
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))


def steps_per_run(cfg, step, distributed):
    """cfg["steps"], or enough steps for a run of min_run_seconds, as rank 0 measures them."""
    if "steps" in cfg:
        return int(cfg["steps"])
    t0 = time.perf_counter()
    for _ in range(PROBE_STEPS):
        step()
    per_step = max((time.perf_counter() - t0) / PROBE_STEPS, 1e-6)
    steps = torch.tensor([max(1, -(-cfg.get("min_run_seconds", 0.5) // per_step))], dtype=torch.int64)
    if distributed:
        dist.broadcast(steps, src=0)
    return int(steps.item())


def train(rank, world, cfg):
    distributed = world > 1
    if distributed:
        torch_loopback.join_group(rank, world)
    torch.set_num_threads(cfg.get("threads", 1))

    torch.manual_seed(0)  # the same initial weights everywhere (DDP broadcasts rank 0's anyway)
    model = build_mlp()
    params = sum(p.numel() for p in model.parameters())
    if distributed:
        model = DistributedDataParallel(model)
    local_batch = cfg["global_batch"] // world
    generator = torch.Generator().manual_seed(1000 + rank)
    x = torch.rand(local_batch, 784, generator=generator)
    y = torch.randint(0, 10, (local_batch,), generator=generator)

    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)

    def step():
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    def barrier():
        if distributed:
            dist.barrier()

    for _ in range(cfg["warmup"]):
        step()
    steps = steps_per_run(cfg, step, distributed)
    per_iteration = []
    for _ in range(cfg["runs"]):
        barrier()
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        barrier()
        per_iteration.append((time.perf_counter() - t0) / steps)

    if rank == 0:
        print(json.dumps({"world": world, "global_batch": cfg["global_batch"], "local_batch": local_batch,
                          "threads": cfg.get("threads", 1), "params": params, "per_iteration": per_iteration,
                          "iterations": steps, "torch": torch.__version__}), flush=True)
    if distributed:
        dist.destroy_process_group()


def main():
    cfg = json.loads(sys.argv[1])
    world = int(cfg.get("world", 2))
    if world < 1:
        raise SystemExit(f"world must be at least 1, got {world}")
    if cfg["global_batch"] % world != 0:
        raise SystemExit(f"global_batch {cfg['global_batch']} does not split evenly over {world} ranks")
    if world == 1:
        train(0, 1, cfg)
    else:
        torch_loopback.spawn_ranks(train, world, cfg)


if __name__ == "__main__":
    main()
