"""Process plumbing shared by the torch DDP scripts in bench/ (torch_ddp.py, torch_fashion.py):
start W ranks on this machine and join them in a gloo process group on 127.0.0.1.

    import torch_loopback
    torch_loopback.spawn_ranks(train, world, cfg)   # calls train(rank, world, cfg) in W processes

Inside train, rank processes call torch_loopback.join_group(rank, world) first.
"""
import ctypes
import datetime
import os
import signal
import socket
import sys

import torch.distributed as dist
import torch.multiprocessing as mp

# A rank stuck on a peer that died fails after this long instead of waiting torch's default 30 minutes.
COLLECTIVE_TIMEOUT = datetime.timedelta(seconds=120)

PORT_VARIABLE = "GRADFLEET_BENCH_DDP_PORT"


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():
    """A rank must not outlive the process that spawned it (which the bench kills on a timeout)."""
    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() == 1:  # the parent was gone before prctl took effect
        os._exit(1)


def _rank_main(rank, fn, world, args):
    _die_with_parent()
    fn(rank, world, *args)
    # Leave without running destructors: tearing down the DDP model and its gloo group after the
    # training function returned sometimes never ended (one rank gone, the other spinning in a
    # gloo thread), and the bench waited on it until its timeout.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def spawn_ranks(fn, world, *args):
    """Runs fn(rank, world, *args) in `world` new processes; raises if any of them fails."""
    # The spawned ranks inherit the environment: the port travels there.
    os.environ[PORT_VARIABLE] = str(_free_port())
    mp.spawn(_rank_main, args=(fn, world, args), nprocs=world, join=True)


def join_group(rank, world):
    """Joins this rank to the gloo process group of the ranks spawn_ranks started."""
    port = os.environ[PORT_VARIABLE]
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world,
                            timeout=COLLECTIVE_TIMEOUT)
