"""Time to accuracy on Fashion-MNIST for bench/sections/time-to-accuracy.ts: PyTorch trains the
MLP 784-256-128-10 (ReLU, nn.Dropout(0.2) after the first hidden ReLU: gradfleet's default MLP,
shared/model/defaults.ts) until the accuracy on all 10,000 test images reaches a target.

The data: Debian's dataset-fashion-mnist (gzip IDX files), pixels scaled to [0, 1] as float32.
The step: nn.CrossEntropyLoss() (mean), backward, clip_grad_norm_(params, clip),
AdamW(lr=lr, weight_decay=weight_decay), global_batch samples, a seeded permutation of the 60,000
training images each epoch (the last batch of an epoch is the remainder). Every eval_every steps
(default: at the end of each epoch) the test accuracy is computed; the time that takes counts in
the wall time but not in the training time. Training stops at the first evaluation with
accuracy >= target, or after max_epochs.

world=1: one process, `threads` torch threads. world=2 (or more): DDP with the gloo backend on
loopback (torch_loopback.py), one thread per rank, each rank the same permutation and its
1/world share of every global batch; DDP averages the per-rank mean gradients, which gives the
mean over the global batch. Rank 0 evaluates while the others wait.

Usage: python3 torch_fashion.py '{"world": 2, "global_batch": 256, "target": 0.88,
                                  "max_epochs": 30, "eval_every": null, "seed": 0, "threads": 1,
                                  "lr": 0.001, "weight_decay": 0.01, "clip": 1.0,
                                  "data_dir": "/usr/share/datasets/fashion-mnist",
                                  "files": {"train_images": "train-images-idx3-ubyte.gz", ...}}'
(every field optional; these are the defaults; "files" names the dataset's four files). Prints
one JSON object on stdout: reached, seconds (wall, evaluations included), train_seconds,
load_seconds, steps, epochs, final_accuracy and curve (one entry per evaluation).
"""
import gzip
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

import torch_loopback

DEFAULTS = {"world": 1, "global_batch": 256, "target": 0.88, "max_epochs": 30, "eval_every": None, "seed": 0,
            "threads": 1, "lr": 1e-3, "weight_decay": 0.01, "clip": 1.0,
            "data_dir": "/usr/share/datasets/fashion-mnist",
            "files": {"train_images": "train-images-idx3-ubyte.gz", "train_labels": "train-labels-idx1-ubyte.gz",
                      "test_images": "t10k-images-idx3-ubyte.gz", "test_labels": "t10k-labels-idx1-ubyte.gz"}}


def require(path):
    if not os.path.exists(path):
        raise SystemExit(f"Fashion-MNIST file {path} not found: `apt-get install dataset-fashion-mnist` "
                         f"installs it in /usr/share/datasets/fashion-mnist/ (or set data_dir)")


def read_idx(path, ndim):
    """An unsigned-byte IDX array with `ndim` dimensions from a gzip file."""
    require(path)
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype, dims = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08 or dims != ndim:
        raise SystemExit(f"{path}: expected an unsigned-byte IDX file with {ndim} dimensions, "
                         f"got type 0x{dtype:02x} with {dims}")
    shape = struct.unpack(f">{dims}I", data[4:4 + 4 * dims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(data_dir, files):
    paths = {k: os.path.join(data_dir, files[k]) for k in DEFAULTS["files"]}

    def images(key):
        a = read_idx(paths[key], 3)
        return torch.from_numpy(a.reshape(a.shape[0], -1).astype(np.float32) / 255.0)

    def labels(key):
        return torch.from_numpy(read_idx(paths[key], 1).astype(np.int64))

    return images("train_images"), labels("train_labels"), images("test_images"), labels("test_labels")


def build_mlp():
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Dropout(0.2),
                         nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))


def train(rank, world, cfg):
    distributed = world > 1
    if distributed:
        torch_loopback.join_group(rank, world)
    torch.set_num_threads(1 if distributed else cfg["threads"])

    t_load = time.perf_counter()
    train_x, train_y, test_x, test_y = load(cfg["data_dir"], cfg["files"])
    load_seconds = time.perf_counter() - t_load

    torch.manual_seed(cfg["seed"])  # the same initial weights on every rank
    net = build_mlp()
    model = DistributedDataParallel(net) if distributed else net
    torch.manual_seed(cfg["seed"] * 1000 + 1 + rank)  # dropout masks: a stream of its own per rank
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])

    n = train_x.shape[0]
    batch = cfg["global_batch"]
    steps_per_epoch = math.ceil(n / batch)
    eval_every = cfg["eval_every"] or steps_per_epoch

    def barrier():
        if distributed:
            dist.barrier()

    def evaluate():
        accuracy = torch.zeros(1, dtype=torch.float64)
        if rank == 0:
            net.eval()
            with torch.no_grad():
                accuracy[0] = (net(test_x).argmax(dim=1) == test_y).double().mean()
            net.train()
        if distributed:
            dist.broadcast(accuracy, src=0)
        return accuracy.item()

    curve = []
    step = 0
    train_seconds = 0.0
    reached = False
    barrier()
    start = time.perf_counter()
    segment = start
    for epoch in range(cfg["max_epochs"]):
        # The same permutation on every rank: together they cover each global batch once.
        order = torch.randperm(n, generator=torch.Generator().manual_seed(cfg["seed"] * 100003 + epoch))
        for b in range(steps_per_epoch):
            idx = order[b * batch:(b + 1) * batch].tensor_split(world)[rank]
            optimizer.zero_grad()
            loss_fn(model(train_x[idx]), train_y[idx]).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["clip"])
            optimizer.step()
            step += 1
            last = epoch == cfg["max_epochs"] - 1 and b == steps_per_epoch - 1
            if step % eval_every == 0 or last:
                barrier()
                now = time.perf_counter()
                train_seconds += now - segment
                accuracy = evaluate()
                segment = time.perf_counter()
                curve.append({"step": step, "epoch": round(step / steps_per_epoch, 3), "seconds": now - start,
                              "train_seconds": train_seconds, "accuracy": accuracy})
                if accuracy >= cfg["target"]:
                    reached = True
                    break
        if reached:
            break
    seconds = time.perf_counter() - start

    if rank == 0:
        print(json.dumps({"world": world, "global_batch": batch, "threads": 1 if distributed else cfg["threads"],
                          "target": cfg["target"], "reached": reached, "seconds": seconds,
                          "train_seconds": train_seconds, "load_seconds": load_seconds, "steps": step,
                          "epochs": round(step / steps_per_epoch, 3), "final_accuracy": curve[-1]["accuracy"],
                          "curve": curve, "torch": torch.__version__}), flush=True)
    if distributed:
        dist.barrier()
        dist.destroy_process_group()


def main():
    cfg = {**DEFAULTS, **json.loads(sys.argv[1] if len(sys.argv) > 1 else "{}")}
    unknown = sorted(set(cfg) - set(DEFAULTS))
    if unknown:
        raise SystemExit(f"unknown config fields {unknown}; known: {sorted(DEFAULTS)}")
    world = int(cfg["world"])
    if world < 1 or cfg["global_batch"] < world or cfg["max_epochs"] < 1:
        raise SystemExit(f"need world >= 1, global_batch >= world and max_epochs >= 1; got {cfg}")
    # Checked here, once, rather than as one failure per rank.
    missing = sorted(set(DEFAULTS["files"]) - set(cfg["files"]))
    if missing:
        raise SystemExit(f"files lacks {missing}")
    for key in DEFAULTS["files"]:
        require(os.path.join(cfg["data_dir"], cfg["files"][key]))
    if world == 1:
        train(0, 1, cfg)
    else:
        torch_loopback.spawn_ranks(train, world, cfg)


if __name__ == "__main__":
    main()
