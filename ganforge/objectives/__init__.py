"""Pure loss functions: discriminator/critic outputs in, scalar out. No networks, no optimisers
(the penalties take the network they differentiate through, nothing else).

The logits contract: a discriminator returns raw logits (never probabilities) of shape (N,) or (N, …), e.g. a
PatchGAN's (N, H', W'). Every cost reduces all dimensions by mean, so a map costs the mean over examples and
positions, and (N, 1) costs what (N,) does. The penalties take each example's score as the mean over its positions
and their gradient norms are per example (tests/objectives/test_logits_contract.py checks all of this)."""
from .adversarial import (  # noqa: F401
    GENERATOR_COSTS,
    discriminator_bce,
    generator_maximum_likelihood,
    generator_minimax,
    generator_non_saturating,
)
from .fdivergence import (  # noqa: F401
    DIVERGENCES,
    Divergence,
    fgan_bound,
    fgan_discriminator_loss,
    fgan_generator_loss,
)
from .games import GAMES, Game, all_game_options, game, game_options  # noqa: F401
from .hinge import discriminator_hinge, generator_hinge  # noqa: F401
from .least_squares import discriminator_least_squares, generator_least_squares  # noqa: F401
from .penalties import clip_weights_, gradient_penalty, r1_penalty  # noqa: F401
from .wasserstein import critic_wasserstein, generator_wasserstein  # noqa: F401
