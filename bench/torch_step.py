"""PyTorch reference for bench/sections/torch-reference.ts: forward+backward throughput of the
benchmark models (bench/models.ts) on the CPU, timed like bench/timing.ts (warm-up, then runs of
enough iterations to last min_run_seconds; median per iteration).

Usage: python3 torch_step.py '{"models": ["mlp", "cnn"], "batch": 128, "threads": [1, 2],
                               "warmup": 5, "runs": 5, "min_run_seconds": 0.5}'
Prints one JSON object per (model, threads) on stdout.
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


def main():
    cfg = json.loads(sys.argv[1])
    torch.manual_seed(0)
    loss_fn = nn.CrossEntropyLoss(reduction="sum")  # the compiled graphs on workers sum too
    for model_id in cfg["models"]:
        model, shape = build(model_id)
        x = torch.rand(cfg["batch"], *shape)
        y = torch.randint(0, 10, (cfg["batch"],))
        params = sum(p.numel() for p in model.parameters())

        def step():
            for p in model.parameters():
                p.grad = None
            loss = loss_fn(model(x), y)
            loss.backward()

        for threads in cfg["threads"]:
            torch.set_num_threads(threads)
            per_iteration, iterations = time_iterations(step, cfg["warmup"], cfg["runs"], cfg["min_run_seconds"])
            print(json.dumps({"model": model_id, "threads": threads, "params": params, "per_iteration": per_iteration,
                              "iterations": iterations, "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
