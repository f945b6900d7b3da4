"""ganforge: train, evaluate and use generative adversarial networks, from Goodfellow's game to its descendants."""
from ._version import __version__  # noqa: F401

# Load the `ganforge.train` subpackage before binding the function of the same name: importing a subpackage for
# the first time rebinds the parent's attribute, which would otherwise replace `ganforge.train()` by a module.
from . import train as _train_package  # noqa: E402,F401
from .api import Generator, load, train  # noqa: E402,F401
