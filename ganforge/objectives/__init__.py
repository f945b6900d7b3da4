"""Pure loss functions: discriminator logits in, scalar out. No networks, no optimisers."""
from .adversarial import (  # noqa: F401
    GENERATOR_COSTS,
    discriminator_bce,
    generator_maximum_likelihood,
    generator_minimax,
    generator_non_saturating,
)
