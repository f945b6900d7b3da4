import pytest
import torch

from ganforge.config import config_from_dict


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(1)  # tiny networks: one thread beats two, and CI shares its cores


def tiny_config(**over) -> dict:
    """A DCGAN on the 8×8 digits resized to 16 px, small enough for a CPU step in milliseconds."""
    raw = {
        "family": "gan", "latent_dim": 8,
        "data": {"name": "digits", "image_size": 16},
        "nets": {"G": {"arch": "dcgan_generator", "args": {"base": 8}},
                 "D": {"arch": "dcgan_discriminator", "args": {"base": 8}}},
        "train": {"steps": 6, "batch_size": 16, "seed": 3},
        "log": {"every": 2, "sample_every": 4, "progress": False, "tensorboard": False},
        "checkpoint": {"every": 3, "keep": 2},
    }
    for key, value in over.items():
        node = raw
        *parents, leaf = key.split("__")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return raw


@pytest.fixture
def tiny():
    return lambda **over: config_from_dict(tiny_config(**over))
