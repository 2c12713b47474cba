"""PyTorch reference for bench/sections/torch-reference.ts: the benchmark models (bench/models.ts)
on the CPU, timed like bench/timing.ts (warm-up, then runs of enough iterations to last
min_run_seconds; median per iteration). Two kinds of iteration:

  grad   forward + backward, loss summed over the batch: what gradfleet's compiled gradient graph
         computes, the reference for the bare gradient step.
  train  the full training step of a user's plain PyTorch loop: zero grads, forward,
         nn.CrossEntropyLoss() (mean), backward, clip_grad_norm_(params, 1.0),
         AdamW(lr=1e-3, weight_decay=0.01).step(); the reference for the training loop.

Usage: python3 torch_step.py '{"models": ["mlp", "cnn"], "batch": 128, "threads": [1, 2],
                               "warmup": 5, "runs": 5, "min_run_seconds": 0.5,
                               "kinds": ["grad", "train"]}'
("kinds" defaults to both.) Prints one JSON object per (model, threads, kind) on stdout; its
"kind" field says which.
"""
import json
import sys
import time

import torch
from torch import nn


def build(model_id):
    if model_id == "mlp":
        return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10)), (784,)
    if model_id == "cnn":
        # 28 -conv3-> 26 -pool2-> 13 -conv3-> 11 -pool2-> 5: 16·5·5 features into the dense layer.
        return nn.Sequential(
            nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(16 * 5 * 5, 10),
        ), (1, 28, 28)
    raise SystemExit(f"unknown model {model_id!r}")


def time_iterations(work, warmup, runs, min_run_seconds):
    for _ in range(warmup):
        work()
    t0 = time.perf_counter()
    work()
    probe = max(time.perf_counter() - t0, 1e-6)
    iterations = max(1, -(-min_run_seconds // probe))
    iterations = int(iterations)
    per_iteration = []
    for _ in range(runs):
        t0 = time.perf_counter()
        for _ in range(iterations):
            work()
        per_iteration.append((time.perf_counter() - t0) / iterations)
    return per_iteration, iterations


def grad_step(model, x, y):
    """forward + backward with the loss summed, as the compiled graphs on the workers do."""
    loss_fn = nn.CrossEntropyLoss(reduction="sum")

    def step():
        for p in model.parameters():
            p.grad = None
        loss_fn(model(x), y).backward()

    return step


def train_step(model, x, y):
    """The whole step of a plain PyTorch training loop. AdamW keeps its defaults, as a user's loop
    would: on the CPU, torch 1.13 then updates tensor by tensor (foreach off), which costs more than
    the foreach kernels; the reference is what the user gets, not torch's best."""
    loss_fn = nn.CrossEntropyLoss()
    params = list(model.parameters())
    optimizer = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.01)

    def step():
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()

    return step


STEPS = {"grad": grad_step, "train": train_step}


def main():
    cfg = json.loads(sys.argv[1])
    kinds = cfg.get("kinds", ["grad", "train"])
    unknown = [k for k in kinds if k not in STEPS]
    if unknown:
        raise SystemExit(f"unknown kinds {unknown}; known: {sorted(STEPS)}")
    for model_id in cfg["models"]:
        for threads in cfg["threads"]:
            torch.set_num_threads(threads)
            for kind in kinds:
                # A fresh model and optimizer per case: the train kind changes the weights and
                # keeps Adam state, which must not leak into the next case.
                torch.manual_seed(0)
                model, shape = build(model_id)
                x = torch.rand(cfg["batch"], *shape)
                y = torch.randint(0, 10, (cfg["batch"],))
                params = sum(p.numel() for p in model.parameters())
                step = STEPS[kind](model, x, y)
                per_iteration, iterations = time_iterations(step, cfg["warmup"], cfg["runs"], cfg["min_run_seconds"])
                print(json.dumps({"model": model_id, "threads": threads, "kind": kind, "params": params,
                                  "per_iteration": per_iteration, "iterations": iterations,
                                  "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
