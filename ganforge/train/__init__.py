"""The one training loop and what it needs: checkpoints, sample grids, metrics, EMA."""
from .loop import Run, train  # noqa: F401
