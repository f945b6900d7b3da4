"""Run by torchrun from test_families_on_two_ranks.py: one gloo process group, then one training step of every
family named on the command line (its tiny config), each into OUT/<family>. Not a test module."""
import sys
from pathlib import Path

import torch.distributed as dist

import ganforge
from ganforge.config import load_config

if __name__ == "__main__":
    tiny, out, families = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]
    dist.init_process_group("gloo")  # kept across the runs: ganforge joins a group it finds started
    for family in families:
        cfg = load_config(tiny / f"{family}.yaml", ["train.steps=1", "checkpoint.every=1"])
        ganforge.train(cfg, out=out / family)
    dist.destroy_process_group()
