"""ganforge: train, evaluate and use generative adversarial networks, from Goodfellow's game to its descendants."""
__version__ = "0.1.0"

from .api import Generator, load, train  # noqa: E402,F401
