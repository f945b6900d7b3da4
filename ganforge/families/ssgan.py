"""Semi-supervised GAN (Salimans et al. 2016, Sec. 5): the discriminator is a K+1-class classifier — the K classes of
the data and "generated" — trained on a few labelled examples, on unlabelled data and on G's samples at once.

With the generated class's logit fixed at 0, p(real | x) = Z(x)/(Z(x) + 1), Z = Σ_k exp l_k(x), so D's cost is the
supervised cross-entropy of the labelled batch plus the usual real-vs-fake cost of logsumexp_k l_k on unlabelled and
generated batches. G trains by feature matching, which the paper found to give the better classifier (minibatch
discrimination gave the better samples). The product is the classifier: `test_metrics` reports its test error.

    ganforge train configs/ssgan-fashion.yaml --labels-per-class 10
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator

from ..data import labelled_subset
from ..data.base import Dataset
from ..nets.conditional import KPlusOneDiscriminator, feature_dim
from .base import Batch, register_family
from .gan import GAN, GANOptions


class SSGANOptions(GANOptions):
    feature_matching: bool = True  # the paper's choice for semi-supervised learning
    # weight of the real-vs-fake cost beside the labelled cross-entropy; 0.5 is the paper's (its code halves
    # −log D(x) − log(1 − D(G(z))))
    unsupervised_weight: float = Field(0.5, ge=0)

    @model_validator(mode="after")
    def _k_plus_one(self):
        if self.loss != "bce":
            raise ValueError("ssgan's real-vs-fake cost is the bce of the K+1-class softmax; loss must be 'bce'")
        if self.pack != 1:
            raise ValueError("pack does not apply to ssgan (D classifies one example at a time)")
        if self.generators != 1:
            raise ValueError("generators does not apply to ssgan (its D's classes are the data's)")
        return self


@register_family("ssgan")
class SemiSupervisedGAN(GAN):
    """Semi-supervised GAN: a K+1-class discriminator learns from a few labels, unlabelled data and G's samples."""

    Options = SSGANOptions
    semi_supervised = True

    def __init__(self, cfg, data_shape, num_classes=0, **kw):
        self.require_classes(cfg, num_classes)  # data.labels_per_class then hides all but a few
        super().__init__(cfg, data_shape, num_classes, **kw)
        self.game = self.game.scaled(d_weight=self.opts.unsupervised_weight)

    def build(self, name: str, role: str):
        if role == "generator":
            return super().build(name, role)
        trunk = self.build_trunk(name, "ssgan's class head")
        return KPlusOneDiscriminator(trunk, self.num_classes, feature_dim(trunk, self.data_shape))

    @property
    def needs(self) -> tuple[str, ...]:
        # with data.labels_per_class the main batch's labels stay hidden and the labelled few come as a stream;
        # without it every label is known and the main batch serves as the labelled one too
        return ("x",) if self.cfg.data.labels_per_class else ("x", "label")

    def streams(self, data: Dataset) -> dict[str, tuple[Dataset, int]]:
        """The labelled few (`data.labels_per_class` of each class, drawn with the run's seed) in a stream of their
        own, so they are seen every step, not once an epoch."""
        per_class = self.cfg.data.labels_per_class
        if per_class is None:
            return {}
        index = labelled_subset(data, per_class, self.cfg.train.seed)
        few = data.subset(index, name=f"{data.name} ({per_class} labels per class)")
        return {"labelled": (few, min(self.cfg.train.batch_size, len(index)))}

    def d_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        labelled = batch.labelled if "labelled" in batch else batch
        x_lab, y_lab = labelled.x, labelled.label
        with torch.no_grad():
            fake = self.generate(batch.size, None)
        real_s, fake_s = self.scores(batch.x, fake)
        terms = self.d_terms(batch.x, fake, real_s, fake_s)
        logits = self.nets.D.class_logits(x_lab).float()
        terms["d_class"] = F.cross_entropy(logits, y_lab)
        self.monitor(**{"D_class_accuracy(labelled)": (logits.argmax(1) == y_lab).float().mean()})
        return terms

    @torch.no_grad()
    def predict(self, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """The class D names for each example (the argmax over the K real classes)."""
        D = self.nets.D
        device = next(D.parameters()).device
        return torch.cat([D.class_logits(b.to(device)).argmax(1).cpu() for b in x.split(batch_size)])

    def test_metrics(self, test: Dataset) -> dict[str, float]:
        if test.labels is None:
            return {}
        error = (self.predict(test.x) != test.labels).float().mean()
        return {"test_error": float(error), "test_examples": len(test)}
