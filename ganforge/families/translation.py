"""What the image-to-image families share: options that pick the game, and (pix2pix, SRGAN) one translator G of
the data field "source" judged by one discriminator D of its outputs.

A `Translator` trains D, when its adversarial weight is above 0, on the batch that G's step then uses again; D sees
what `seen_by_d` makes of an output and its input (the output alone by default), augmented alike in D's steps and
G's. A subclass sets its options (with `adversarial`), its game, the names of the monitors of D's probabilities and
G's step, in which `adversarial_cost` gives the adversarial term.
"""
from __future__ import annotations

from typing import ClassVar

import torch
from pydantic import model_validator

from .. import objectives
from ..data.paired import SOURCE
from ..nets import build_net
from .base import Batch, Family, Options, Phase, Signals


class TranslationOptions(Options):
    loss: str = "bce"  # the game (objectives.GAMES); pix2pix's and SRGAN's is the original GAN's, non-saturating

    @model_validator(mode="after")
    def _known_game(self):
        if self.loss not in objectives.GAMES:
            raise ValueError(f"loss '{self.loss}' unknown; choose from {', '.join(objectives.GAMES)}")
        return self


class Translator(Family):
    """One translator G (the field "source" → x) and one discriminator D of its outputs; `opts.adversarial` 0
    trains G on its other terms alone, with no D step."""

    networks = {"G": "translator", "D": "discriminator"}
    inputs = {"G": (SOURCE,)}
    directions = {"AtoB": "G"}  # source (A) → target (B); a paired model learns one direction
    needs = ("x", SOURCE)
    augmentable = True
    # the monitors of D's mean probabilities that a real output and a translated one are real (`signals`)
    probability_monitors: ClassVar[tuple[str, str]] = ("D(x)", "D(G(a))")
    game: objectives.Game

    def build(self, name: str, role: str):
        net_cfg = self.cfg.nets[name]
        if role == "translator":
            return build_net(net_cfg.arch, in_shape=self.field_shape(SOURCE), out_shape=self.data_shape,
                             **net_cfg.args)
        return build_net(net_cfg.arch, in_shape=self.in_shape(name), **net_cfg.args)

    def phases(self) -> list[Phase]:
        g = Phase("g_step", updates=("G",), same_batch=self.opts.adversarial > 0)
        return [Phase("d_step", updates=("D",)), g] if self.opts.adversarial else [g]

    def signals(self) -> Signals:
        if self.game.probabilities and self.opts.adversarial:
            p_real, p_fake = self.probability_monitors
            return Signals(p_real=p_real, p_fake=p_fake)
        return Signals()

    def seen_by_d(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """What D judges of output b (real or translated) of input a: b alone unless a subclass pairs them."""
        return b

    def judge(self, batch: Batch) -> torch.Tensor | None:
        # D's scores of the real outputs (the doctor's overfitting probe); no verdict where D is not trained
        return self.nets.D(self.seen_by_d(batch.fields[SOURCE], batch.x)).float() if self.opts.adversarial else None

    def d_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        a, b = batch.fields[SOURCE], batch.x
        with torch.no_grad():
            fake = self.nets.G(a)
        real_s = self.nets.D(self.d_sees(self.seen_by_d(a, b))).float()  # one augmentation of input and output alike
        fake_s = self.nets.D(self.d_sees(self.seen_by_d(a, fake))).float()
        self.observe_real(real_s)
        if self.game.probabilities:
            p_real, p_fake = self.probability_monitors
            self.monitor(**{p_real: torch.sigmoid(real_s).mean(), p_fake: torch.sigmoid(fake_s).mean()})
        return {f"d_{self.game.name}": self.game.d_cost(real_s, fake_s)}

    def adversarial_cost(self, a: torch.Tensor, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        """G's adversarial term for its outputs `fake` of inputs a, weighted by `opts.adversarial` ({} at 0)."""
        if not self.opts.adversarial:
            return {}
        fake_s = self.nets.D(self.d_sees(self.seen_by_d(a, fake))).float()
        return {"g_" + self.game.g_name: self.opts.adversarial * self.game.g_cost(fake_s)}
