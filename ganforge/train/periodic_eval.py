"""Evaluation during training (`eval.every`) and at its end (`eval.final`): metrics of fresh samples logged beside
the losses, and the checkpoint with the best FID kept in RUN/checkpoints/best."""
from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn

from .. import seeds
from ..config import RunConfig
from ..data import MIXTURES
from ..errors import GanforgeError
from ..rundir import BEST_RECORD, WEIGHTS, RunDir
from ..scoring import check_metrics_fit, evaluate_images, evaluate_points, evaluate_translations, test_pairs
from ..families import draw_latents
from ..metrics.frozen_evaluator import resolve_evaluator
from ..nets.conditional import balanced_labels
from ..sampling import generate_batches
from .checkpoint import flatten_state


class RunEvaluator:
    """`inputs`: what the sampling generator takes (`Family.generator_inputs()`); a generator of data fields (a
    translator) is evaluated on the test split's inputs against their own targets."""

    def __init__(self, cfg: RunConfig, run_dir: Path, dataset: str, kind: str, inputs: tuple[str, ...] = ("z",)):
        self.cfg, self.dataset, self.kind, self.inputs = cfg, dataset, kind, tuple(inputs)
        # what scores the images, and where the real ones are: the run's own data, its own evaluator file
        self.options = {"evaluator": cfg.eval.evaluator, "data_path": cfg.data.path}
        self.features: str | None = None  # sha256 of the network that measures FID (images only)
        self._check_scorable()
        self.run = RunDir(run_dir)
        self.best_dir = self.run.best
        self.best = self._previous_best()

    def _previous_best(self) -> float:
        """The best FID of the run so far, if the same feature network measured it: FIDs from two evaluators are
        on different scales, so a resumed run with another eval.evaluator starts its best afresh."""
        best = self.run.read_best()
        if best is None:
            return float("inf")
        if best.get("evaluator_sha256") not in (None, self.features):
            print(f"eval: the best checkpoint's FID {best['fid']:.4g} (step {best['step']}) was measured by another "
                  f"evaluator (sha256 {best['evaluator_sha256'][:12]}…); FIDs from different feature networks are "
                  "not comparable, so the best is chosen afresh", file=sys.stderr)
            return float("inf")
        return best["fid"]

    def _check_scorable(self) -> None:
        """Before any training: say now, not after hours, when this data cannot be scored."""
        off = "or turn evaluation off: eval.final=false eval.every=0"
        if "z" in self.inputs and self.inputs != ("z",):
            raise GanforgeError(f"family '{self.cfg.family}': evaluation of a generator that takes z beside data "
                                f"fields ({', '.join(self.inputs)}) is not available yet; turn evaluation off: "
                                "eval.final=false eval.every=0")
        if self.kind == "vector" and self.dataset not in MIXTURES:
            raise GanforgeError(f"evaluation of vector data needs one of the 2-D mixtures ({', '.join(MIXTURES)}); "
                                f"this run's data is '{self.dataset}': {off}")
        if self.kind == "image":
            try:
                scorer = resolve_evaluator(self.dataset, self.cfg.eval.evaluator)
                self.features = scorer.sha256
                check_metrics_fit((self.cfg.eval.metrics if self.cfg.eval.every else []) +
                                  (self.cfg.eval.final_metrics if self.cfg.eval.final else []), scorer, labels=None)
            except GanforgeError as e:
                raise GanforgeError(f"{e}; {off}") from None

    @torch.no_grad()
    def evaluate(self, generator: nn.Module, num: int, metrics: list[str], out_dir: Path | None = None) -> dict:
        """Metrics of `num` samples whose z come from their own generator, never the training RNG."""
        z = draw_latents(self.cfg, num, torch.Generator().manual_seed(self.cfg.train.seed + seeds.EVALUATION))
        if self.inputs != ("z",):
            return self._translations(generator, z, metrics, out_dir)
        was_training = generator.training
        generator.eval()
        k = int(getattr(generator, "num_classes", 0))  # a conditional G is asked for every class equally often
        labels = balanced_labels(num, k) if k else None
        x = generate_batches(generator, z, labels, batch_size=500)
        generator.train(was_training)
        if self.kind == "vector":
            return evaluate_points(x, self.dataset)
        return evaluate_images(x, self.dataset, metrics, labels=labels, out_dir=out_dir, **self.options)

    def _translations(self, generator: nn.Module, z: torch.Tensor, metrics: list[str], out_dir: Path | None) -> dict:
        given, targets, labels = test_pairs(self.cfg.data, self.inputs, len(z))
        inputs = [given[f] for f in self.inputs]
        was_training = generator.training
        generator.eval()
        outputs = generate_batches(generator, *inputs, batch_size=500)
        generator.train(was_training)
        return evaluate_translations(outputs, targets, self.dataset, metrics, labels=labels, out_dir=out_dir,
                                     inputs=inputs[0], **self.options)

    def __call__(self, step: int, generator: nn.Module, modules: dict[str, nn.Module]) -> dict[str, float]:
        result = self.evaluate(generator, self.cfg.eval.num, self.cfg.eval.metrics)
        values = {f"eval/{k}": float(v) for k, v in result.items() if isinstance(v, (int, float))}
        if "fid" in result and result["fid"] < self.best:
            self.best = result["fid"]
            self._save_best(step, modules)
        return values

    def _save_best(self, step: int, modules: dict[str, nn.Module]) -> None:
        """Weights only (the best checkpoint is for sampling, not resuming), written aside and renamed in."""
        tmp = self.best_dir.with_name(".tmp_best")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        save_file(flatten_state(modules), str(tmp / WEIGHTS))
        # inside the folder that is renamed in whole: no file of it is seen half-written
        (tmp / BEST_RECORD).write_text(json.dumps({"step": step, "fid": self.best,
                                                   "evaluator_sha256": self.features}) + "\n")
        old = self.best_dir.with_name(".old_best")
        if self.best_dir.exists():
            os.replace(self.best_dir, old)
        os.replace(tmp, self.best_dir)
        shutil.rmtree(old, ignore_errors=True)
