"""The one training loop and what it needs: checkpoints, sample grids, metrics, EMA."""
from .loop import Run, lr_factor, train  # noqa: F401
