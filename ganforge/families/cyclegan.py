"""CycleGAN (Zhu et al. 2017): unpaired translation between two image domains A and B.

G_AB maps A to B and G_BA maps B to A; D_B judges B images, D_A judges A images (PatchGANs). Without pairs, the
adversarial costs only ask that G_AB(a) look like some B image; the cycle-consistency loss
λ·(‖G_BA(G_AB(a)) − a‖₁ + ‖G_AB(G_BA(b)) − b‖₁) asks that it keep what a was, and the identity loss
0.5·λ·(‖G_AB(b) − b‖₁ + ‖G_BA(a) − a‖₁) that a B image be left alone. Least-squares GAN costs, λ = 10; each D's
cost is halved, and D learns from a pool of 50 past fakes rather than only the newest (Shrivastava et al. 2017),
so it does not chase the generator's latest move. The pools are saved in every checkpoint.

Data: the B images are the batches' `x`; the A images are the dataset's field "source", drawn as a stream of their
own with its own seed, so the two sides arrive independently shuffled and the pairing a derived task keeps
(`data.task`) stays hidden from training: it serves only to score the translations (`test_metrics` and the
evaluation of G_AB against the hidden pair).

    ganforge train configs/cyclegan-edges-fashion.yaml
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field

from .. import objectives
from ..data.base import Dataset
from ..data.paired import SOURCE
from ..errors import GanforgeError
from ..metrics import fidelity
from ..nets import build_net
from .base import Batch, Family, Phase, register_family
from .translation import TranslationOptions

TEST_EXAMPLES = 2000  # test images `test_metrics` scores (the first ones, like the evaluation's)


class CycleGANOptions(TranslationOptions):
    loss: str = "least_squares"  # the game (objectives.GAMES); the paper's is least squares
    cycle: float = Field(10.0, ge=0)  # λ of the cycle-consistency loss; 0 = none (the ablation)
    identity: float = Field(0.5, ge=0)  # the identity loss's weight as a fraction of λ (the paper's 0.5 · λ)
    pool: int = Field(50, ge=0)  # past fakes each D learns from; 0 = the newest fakes only
    d_weight: float = Field(0.5, gt=0)  # each D's cost is multiplied by this (the paper's ½)


def query_pool(pool: torch.Tensor, fakes: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(the pool after, the fakes D judges) for a new batch of fakes: while the pool is not full every fake joins it
    and is judged itself; after that, each fake is judged itself with probability ½ or else swapped for a random
    stored one, which it replaces. Draws from the global RNG, so a resumed run draws the same."""
    if size == 0:
        return pool, fakes
    pool = pool.to(fakes.device)
    room = max(0, size - len(pool))
    pool = torch.cat([pool, fakes[:room]])
    rest = fakes[room:]
    if not len(rest):
        return pool, fakes
    swap = torch.rand(len(rest), device=fakes.device) < 0.5
    slots = torch.randint(size, (len(rest),), device=fakes.device)
    judged = rest.clone()
    pool = pool.clone()
    for i in swap.nonzero().flatten().tolist():  # in order, so a slot drawn twice hands on the newer fake
        judged[i] = pool[slots[i]]
        pool[slots[i]] = rest[i]
    return pool, torch.cat([fakes[:room], judged])


@register_family("cyclegan")
class CycleGAN(Family):
    """CycleGAN: G_AB, G_BA and a PatchGAN D per domain, least squares + cycle and identity L1 (unpaired)."""

    networks = {"G_AB": "translator", "G_BA": "translator", "D_A": "discriminator", "D_B": "discriminator"}
    generator = "G_AB"
    inputs = {"G_AB": (SOURCE,), "G_BA": ("x",)}
    directions = {"AtoB": "G_AB", "BtoA": "G_BA"}
    needs = ("x",)  # the B side; the A side comes as the stream "a"
    Options = CycleGANOptions
    augmentable = True

    def __init__(self, cfg, data_shape, num_classes=0, **kw):
        a = kw.get("fields", {}).get(SOURCE)  # checked before the networks are built for these shapes
        if a is not None and self.Options.model_validate(cfg.objective).identity and tuple(a.shape) != tuple(data_shape):
            raise GanforgeError(f"objective.identity needs domains of one shape (A {tuple(a.shape)}, B "
                                f"{tuple(data_shape)}); set objective.identity=0")
        super().__init__(cfg, data_shape, num_classes, **kw)
        self.game = objectives.game(self.opts.loss).scaled(d_weight=self.opts.d_weight)
        self.pools = {"a": torch.zeros(0, *self.field_shape(SOURCE)), "b": torch.zeros(0, *self.data_shape)}
        self._fakes: dict[str, torch.Tensor] = {}

    @classmethod
    def remedies(cls, opts: dict) -> dict[str, str]:
        """Beside the game: the cycle-consistency loss, when it is off (nothing then ties a translation to its
        input)."""
        offered = super().remedies(opts)
        if opts.get("cycle") == 0:
            offered["content_loss"] = ("a loss that ties each output to its input: the cycle-consistency loss "
                                       "(objective.cycle=10)")
        return offered

    def build(self, name: str, role: str):
        net_cfg = self.cfg.nets[name]
        a, b = self.field_shape(SOURCE), self.data_shape
        shapes = {"G_AB": {"in_shape": a, "out_shape": b}, "G_BA": {"in_shape": b, "out_shape": a},
                  "D_A": {"in_shape": a}, "D_B": {"in_shape": b}}[name]
        return build_net(net_cfg.arch, **shapes, **net_cfg.args)

    def streams(self, data: Dataset) -> dict[str, tuple[Dataset, int]]:
        if SOURCE not in data.extra and SOURCE not in data.domains:
            raise GanforgeError(f"family 'cyclegan' needs two image domains: a dataset with the field '{SOURCE}' "
                                f"(e.g. data.task=edges); '{data.name}' has {', '.join(data.spec)}")
        return {"a": (data.view(SOURCE, name=f"{data.name} (domain A)"), self.cfg.train.batch_size)}

    def phases(self) -> list[Phase]:
        # D judges the fakes of the G step just before it, through its pool
        return [Phase("g_step", updates=("G_AB", "G_BA")),
                Phase("d_step", updates=("D_A", "D_B"), same_batch=True)]

    def g_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        a, b = batch.a.x, batch.x
        G_AB, G_BA = self.nets.G_AB, self.nets.G_BA
        fake_b, fake_a = G_AB(a), G_BA(b)
        self._fakes = {"a": fake_a.detach(), "b": fake_b.detach()}
        g = self.game.g_cost
        D_A, D_B, seen = self.nets.D_A, self.nets.D_B, self.d_sees
        terms = {"g_" + self.game.g_name: g(D_B(seen(fake_b)).float()) + g(D_A(seen(fake_a)).float())}
        cycle_a, cycle_b = F.l1_loss(G_BA(fake_b).float(), a), F.l1_loss(G_AB(fake_a).float(), b)
        self.monitor(cycle_a=cycle_a, cycle_b=cycle_b)
        if self.opts.cycle:
            terms["g_cycle"] = self.opts.cycle * (cycle_a + cycle_b)
        if self.opts.identity and self.opts.cycle:
            same = F.l1_loss(G_AB(b).float(), b) + F.l1_loss(G_BA(a).float(), a)
            terms["g_identity"] = self.opts.identity * self.opts.cycle * same
        return terms

    def judge(self, batch: Batch) -> torch.Tensor:
        # D_B's patch logits on real B images (the doctor's overfitting probe): the probe draws the batch's own
        # field, the B side; D_A's domain comes as a stream of its own
        return self.nets.D_B(batch.x).float()

    def d_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        terms, real_scores = {}, []
        for side, real, D in (("a", batch.a.x, self.nets.D_A), ("b", batch.x, self.nets.D_B)):
            self.pools[side], judged = query_pool(self.pools[side], self._fakes[side], self.opts.pool)
            real_s = D(self.d_sees(real)).float()
            terms[f"d_{side}_{self.game.name}"] = self.game.d_cost(real_s, D(self.d_sees(judged)).float())
            real_scores.append(real_s.flatten())
        self.observe_real(torch.cat(real_scores))  # one ADA probability for both discriminators
        return terms

    def training_state(self) -> dict:
        return {"pools": {side: pool.cpu() for side, pool in self.pools.items()}}

    def load_training_state(self, state: dict) -> None:
        if "pools" in state:
            self.pools = dict(state["pools"])

    def test_metrics(self, test: Dataset) -> dict[str, float]:
        """Cycle errors (L1 on the [0, 1] scale) of both directions on the test split, and what a random pairing
        of the test targets scores against the hidden pairs: the baseline a translation that keeps content beats."""
        if SOURCE not in test.extra:  # unpaired data (or none): no hidden pairs to score against
            return {}
        index = torch.arange(min(TEST_EXAMPLES, len(test)))
        device = next(self.parameters()).device
        a, b = test.examples(index, SOURCE).to(device), test.examples(index).to(device)
        out = {"cycle_error_a": float(F.l1_loss(self.nets.G_BA(self.nets.G_AB(a)), a) / 2),
               "cycle_error_b": float(F.l1_loss(self.nets.G_AB(self.nets.G_BA(b)), b) / 2)}
        shuffled = b[torch.randperm(len(b), generator=torch.Generator().manual_seed(0)).to(device)]
        out |= {f"random_pair_{k}": v for k, v in fidelity(shuffled.cpu(), b.cpu()).items()}
        return out
