"""The registry of adversarial games: name → (discriminator cost, generator cost, options).

A family composes a game rather than inheriting one: `game("bce", generator_cost="minimax")` returns a `Game`
whose `d_cost(real_scores, fake_scores)` and `g_cost(fake_scores)` are the costs of that objective with those
options. Options are the keyword arguments of the game's builder (with its defaults), so a config key that
belongs to another game can be named in the error, and a new game is one builder added to `GAMES`.

    game = objectives.game("hinge")
    loss_d = game.d_cost(D(x), D(G(z)))
    loss_g = game.g_cost(D(G(z)))
"""
from __future__ import annotations

import difflib
import inspect
from dataclasses import dataclass
from functools import partial
from typing import Callable

import torch

from .adversarial import GENERATOR_COSTS, discriminator_bce
from .fdivergence import DIVERGENCES, fgan_discriminator_loss, fgan_generator_loss
from .hinge import discriminator_hinge, generator_hinge
from .least_squares import discriminator_least_squares, generator_least_squares
from .wasserstein import critic_wasserstein, generator_wasserstein

DCost = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
GCost = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Game:
    """One objective: D's (or the critic's) cost of real and fake scores, G's cost of fake scores."""

    name: str  # the game's key in GAMES; D's loss term is logged as d_<name>
    d_cost: DCost
    g_cost: GCost
    g_name: str  # G's loss term is logged as g_<g_name> (the generator cost, e.g. non_saturating)
    # True: scores are logits of D's probability that its input is real, so σ(score) means something (D(x))
    probabilities: bool = False
    # the score at which D cannot tell (bce and hinge 0, least squares 0.5); None where no score means that (a
    # Wasserstein critic's scores shift freely). ADA counts how many real scores lie above it.
    boundary: float | None = 0.0

    def scaled(self, d_weight: float = 1.0, g_weight: float = 1.0) -> "Game":
        """The same game with its costs multiplied (a semi-supervised D weighs the real-vs-fake cost beside its
        class cost)."""
        d, g = self.d_cost, self.g_cost
        return Game(self.name, d if d_weight == 1.0 else (lambda real, fake: d_weight * d(real, fake)),
                    g if g_weight == 1.0 else (lambda fake: g_weight * g(fake)), self.g_name, self.probabilities,
                    self.boundary)


def _bce(generator_cost: str = "non_saturating", real_target: float = 1.0) -> Game:
    """Goodfellow et al. 2014: cross-entropy of real vs fake; real_target < 1 is one-sided label smoothing."""
    if generator_cost not in GENERATOR_COSTS:
        raise ValueError(f"generator_cost '{generator_cost}' unknown; choose from {sorted(GENERATOR_COSTS)}")
    return Game("bce", partial(discriminator_bce, real_target=real_target), GENERATOR_COSTS[generator_cost],
                generator_cost, probabilities=True)


def _fgan(divergence: str = "gan", fgan_heuristic: bool = True) -> Game:
    """Nowozin et al. 2016: the variational bound of an f-divergence (`DIVERGENCES`)."""
    if divergence not in DIVERGENCES:
        raise ValueError(f"divergence '{divergence}' unknown; choose from {sorted(DIVERGENCES)}")
    return Game("fgan", partial(fgan_discriminator_loss, divergence=divergence),
                partial(fgan_generator_loss, divergence=divergence, heuristic=fgan_heuristic), f"fgan_{divergence}",
                boundary=None)  # V = T's inverse activation: the undecided V differs for every divergence


def _plain(name: str, d_cost: DCost, g_cost: GCost, boundary: float | None) -> Callable[[], Game]:
    def build() -> Game:
        return Game(name, d_cost, g_cost, name, boundary=boundary)
    return build


GAMES: dict[str, Callable[..., Game]] = {
    "bce": _bce,
    "wasserstein": _plain("wasserstein", critic_wasserstein, generator_wasserstein, boundary=None),
    "least_squares": _plain("least_squares", discriminator_least_squares, generator_least_squares, boundary=0.5),
    "hinge": _plain("hinge", discriminator_hinge, generator_hinge, boundary=0.0),
    "fgan": _fgan,
}


def game_options(name: str) -> dict[str, object]:
    """The options of game `name` with their defaults."""
    return {k: p.default for k, p in inspect.signature(_builder(name)).parameters.items()}


def all_game_options() -> dict[str, tuple[str, object]]:
    """Every game option → (the game it belongs to, its default)."""
    return {k: (name, default) for name in GAMES for k, default in game_options(name).items()}


def game(name: str, **options) -> Game:
    """The game `name` with `options` (each a keyword of its builder; unknown ones are a ValueError)."""
    known = game_options(name)
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValueError(f"game '{name}' has no option(s) {unknown}" +
                         (f"; its options: {', '.join(known)}" if known else "; it takes none"))
    return _builder(name)(**options)


def _builder(name: str) -> Callable[..., Game]:
    if name not in GAMES:
        close = difflib.get_close_matches(name, list(GAMES), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown game '{name}'{hint} (known: {', '.join(GAMES)})")
    return GAMES[name]
