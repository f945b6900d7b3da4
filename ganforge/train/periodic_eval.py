"""Evaluation during training (`eval.every`) and at its end (`eval.final`): metrics of fresh samples logged beside
the losses, and the checkpoint with the best FID kept in RUN/checkpoints/best.

A text-to-image G (z beside a caption's embedding) is asked for the captions of a seeded pick of the test split's
images (`scoring.evaluation_captions`), the same at every evaluation, and scored like any image generator; the
classes of those images give `class_agreement` (does the evaluator see the caption's class?).

On several processes an image run's evaluation is sharded: every rank generates and embeds its slice of the very z
(and captions) one process draws (`gather_embedded`), and rank 0 scores the shares joined in rank order. A
translator's is sharded the same way: every rank translates its slice of the test pairs, embeds the outputs and
scores them against their targets (`gather_translated`). The 2-D mixtures are evaluated by rank 0 alone (well
under a second: docs/scaling.md)."""
from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import torch
from safetensors.torch import save_file
from torch import nn

from .. import seeds
from .._version import __version__
from ..config import DataConfig, RunConfig
from ..data import MIXTURES
from ..errors import GanforgeError
from ..rundir import BEST_RECORD, WEIGHTS, RunDir
from ..scoring import (Embedded, Translated, check_metrics_fit, embed_samples, evaluate_images, evaluate_points,
                       evaluate_translations, evaluation_captions, evaluator_fit, join_embedded, join_translated,
                       test_pairs, translate_share)
from ..families import draw_latents, get_family
from ..families.text2image import CAPTION_FIELD
from ..metrics.fidelity import require_ssim
from ..metrics.frozen_evaluator import has_builtin_evaluator, resolve_evaluator
from ..nets.conditional import balanced_labels
from ..sampling import generate_batches
from .checkpoint import flatten_state
from .distributed import Group


TEXT_INPUTS = ("z", CAPTION_FIELD)  # a text-to-image G's inputs: evaluated on the test split's captions


class EvaluationInputs(NamedTuple):
    """What an evaluation's samples are made of: z, what G takes beside it (a class-conditional G's classes, a text
    G's caption embeddings; None for G(z)), the class each sample is asked for (None where none is), and for
    captions a line saying where they come from."""

    z: torch.Tensor
    given: torch.Tensor | None
    labels: torch.Tensor | None
    conditions: str | None = None


def sampled_inputs(cfg: RunConfig) -> tuple[str, ...]:
    """What the run's sampling generator takes, from its family's declaration (`Family.inputs`)."""
    family = get_family(cfg.family)
    return tuple(family.inputs.get(family.generator, ("z",)))


def evaluation_inputs(cfg: RunConfig, generator: nn.Module, num: int) -> EvaluationInputs:
    """The z of an evaluation's `num` samples, from their own seeded generator (never the training RNG), and what
    a conditional G is asked for: every class equally often, or the captions of a seeded pick of test images."""
    seed = cfg.train.seed + seeds.EVALUATION
    z = draw_latents(cfg, num, torch.Generator().manual_seed(seed))
    if sampled_inputs(cfg) == TEXT_INPUTS:
        return EvaluationInputs(z, *_captions(cfg.data.model_dump_json(), num, seed))
    k = int(getattr(generator, "num_classes", 0))
    labels = balanced_labels(num, k) if k else None
    return EvaluationInputs(z, labels, labels)


@lru_cache(maxsize=4)
def _captions(data: str, num: int, seed: int) -> tuple[torch.Tensor, torch.Tensor | None, str]:
    """`evaluation_captions` of a run's data (its config's `data:` as JSON), loaded once per process and size
    (eval.num and eval.final_num): every evaluation asks for the same captions, and reads the test split once."""
    return evaluation_captions(DataConfig.model_validate_json(data), num, seed)


@torch.no_grad()
def gather_embedded(cfg: RunConfig, dataset: str, generator: nn.Module, num: int, metrics: list[str],
                    procs: Group) -> list[Embedded | None] | None:
    """Called by every rank of a run at the same evaluation: each generates samples r·N/W to (r+1)·N/W of the z one
    process draws and embeds them with the run's evaluator; rank 0 gets every share, in rank order (None on the
    others). Batch-norm statistics, gathered per rank, are averaged first, so every rank samples one network."""
    procs.average_buffers([generator])
    z, given, _, _ = evaluation_inputs(cfg, generator, num)
    share = rank_share(num, procs)
    was_training = generator.training
    generator.eval()
    x = generate_batches(generator, z[share], None if given is None else given[share], batch_size=500)
    generator.train(was_training)
    # more ranks than samples leaves some with none: they send None
    mine = embed_samples(x, resolve_evaluator(dataset, cfg.eval.evaluator), metrics) if len(x) else None
    return procs.gather_to_writer(mine)


def rank_share(num: int, procs: Group) -> slice:
    """This rank's items of `num`: r·num/W to (r+1)·num/W (more ranks than items leaves some with none)."""
    return slice(num * procs.rank // procs.world_size, num * (procs.rank + 1) // procs.world_size)


@torch.no_grad()
def gather_translated(cfg: RunConfig, dataset: str, generator: nn.Module, inputs: tuple[str, ...], num: int,
                      metrics: list[str], procs: Group) -> tuple[list[Translated | None] | None, tuple]:
    """Called by every rank of a translator's run at the same evaluation: each translates its slice of the first
    `num` test pairs, embeds the outputs and scores them against their targets; rank 0 gets every share, in rank
    order (None on the others), and the test pairs themselves ((inputs, targets, labels), for the report)."""
    procs.average_buffers([generator])
    given, targets, labels = test_pairs(cfg.data, inputs, num)
    share = rank_share(len(given[inputs[0]]), procs)
    was_training = generator.training
    generator.eval()
    outputs = generate_batches(generator, *(given[f][share] for f in inputs), batch_size=500)
    generator.train(was_training)
    mine = None
    if len(outputs):
        mine = translate_share(outputs, None if targets is None else targets[share],
                               resolve_evaluator(dataset, cfg.eval.evaluator), metrics)
    return procs.gather_to_writer(mine), ([given[f] for f in inputs], targets, labels)


def samples_from_z(inputs: tuple[str, ...]) -> bool:
    """Whether a generator taking `inputs` is evaluated on samples of z (and captions), not on translations."""
    return tuple(inputs) in (("z",), TEXT_INPUTS)


def evaluate_share(cfg: RunConfig, dataset: str, generator: nn.Module, inputs: tuple[str, ...], num: int,
                   metrics: list[str], procs: Group) -> None:
    """A rank other than 0's part in a sharded evaluation: its share of the samples or of the test pairs."""
    if samples_from_z(inputs):
        gather_embedded(cfg, dataset, generator, num, metrics, procs)
    else:
        gather_translated(cfg, dataset, generator, inputs, num, metrics, procs)


class RunEvaluator:
    """`inputs`: what the sampling generator takes (`Family.generator_inputs()`); a generator of data fields (a
    translator) is evaluated on the test split's inputs against their own targets."""

    def __init__(self, cfg: RunConfig, run_dir: Path, dataset: str, kind: str, inputs: tuple[str, ...] = ("z",),
                 shape: tuple[int, ...] | None = None, procs: Group | None = None):
        self.cfg, self.dataset, self.kind, self.inputs = cfg, dataset, kind, tuple(inputs)
        self.procs = procs or Group()  # the run's processes: several share an image evaluation (`gather_embedded`)
        _captions.cache_clear()  # a new run reads its test captions afresh (a folder's may have changed since)
        self.shape = tuple(shape) if shape is not None else None  # (C, H, W) of the run's images
        # what scores the images, and where the real ones are: the run's own data, its own evaluator file
        self.options = {"evaluator": cfg.eval.evaluator, "data_path": cfg.data.path}
        self.features: str | None = None  # sha256 of the network that measures FID (images only)
        self.run = RunDir(run_dir)
        # image data with no evaluator (none named, none built in): the run trains and says how to make one
        self.missing = self._missing_evaluator()
        if self.missing:
            print(f"eval: {self.missing}; the run trains without evaluation and ends with the command that makes "
                  "one", file=sys.stderr)
        else:
            self._check_scorable()
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

    @property
    def sharded(self) -> bool:
        """Whether the run's processes share its evaluations: several, scoring images of z (and captions:
        `gather_embedded`) or a translator's outputs (`gather_translated`)."""
        return self.procs.several and self.available and self.kind == "image" and (
            samples_from_z(self.inputs) or "z" not in self.inputs)

    @property
    def available(self) -> bool:
        """Whether this run's samples can be scored (False: image data with no evaluator)."""
        return not self.missing

    def _missing_evaluator(self) -> str | None:
        """Why the run's images cannot be scored, when nothing would score them: no eval.evaluator named and no
        built-in evaluator for the dataset; None otherwise (a named evaluator that fails is an error, not this)."""
        if self.kind != "image" or self.cfg.eval.evaluator or has_builtin_evaluator(self.dataset):
            return None
        if not samples_from_z(self.inputs):
            return None  # a translator or a z-beside-fields generator: _check_scorable says what to do
        return f"no evaluator for dataset '{self.dataset}' (no built-in one, and eval.evaluator is not set)"

    def make_evaluator_command(self) -> str:
        """The exact `ganforge evaluator train` command that makes an evaluator for this run's data: its dataset,
        path, image size and channels, so the evaluator takes the images this run generates."""
        parts = ["ganforge evaluator train", f"--dataset {shlex.quote(self.dataset)}"]
        path = self.cfg.data.path
        if path:
            parts.append(f"--data {shlex.quote(str(path))}")
        if self.shape is not None and len(self.shape) == 3:
            parts += [f"--image-size {self.shape[-1]}", f"--channels {self.shape[0]}"]
        parts.append(f"--out {shlex.quote(self.evaluator_suggestion())}")
        return " ".join(parts)

    def evaluator_suggestion(self) -> str:
        """Where the suggested command writes the evaluator: beside the run folder, named after the data."""
        stem = Path(str(self.cfg.data.path)).name if self.cfg.data.path else self.dataset
        size = f"-{self.shape[-1]}px" if self.shape is not None and len(self.shape) == 3 else ""
        return str(self.run.path.parent / f"{stem or self.dataset}{size}-evaluator.safetensors")

    def not_evaluated(self) -> dict:
        """The final 'evaluation' of a run with no evaluator: why, and the commands that make one and score the
        run with it (written to RUN/eval.json and eval.md, and printed)."""
        make = self.make_evaluator_command()
        score = (f"ganforge evaluate {shlex.quote(str(self.run.path))} "
                 f"--evaluator {shlex.quote(self.evaluator_suggestion())}")
        print(f"eval: not evaluated: {self.missing}. Make one: {make}\n"
              f"eval: then score this run: {score}", file=sys.stderr)
        return {"provenance": {"evaluator": None, "dataset": self.dataset, "not_evaluated": self.missing,
                               "make_evaluator": make, "then": score, "ganforge": __version__}}

    def _check_scorable(self) -> None:
        """Before any training: say now, not after hours, when this data cannot be scored."""
        off = "or turn evaluation off: eval.final=false eval.every=0"
        if "z" not in self.inputs:  # a translator: its test-split outputs are scored against their targets by SSIM
            try:
                require_ssim()
            except GanforgeError as e:
                raise GanforgeError(f"{e}; {off}") from None
        if "z" in self.inputs and not samples_from_z(self.inputs):
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
                if self.shape is not None and scorer.in_shape is not None and tuple(scorer.in_shape) != self.shape:
                    raise GanforgeError(f"this run's images of shape {self.shape} do not fit {evaluator_fit(scorer)}")
                check_metrics_fit((self.cfg.eval.metrics if self.cfg.eval.every else []) +
                                  (self.cfg.eval.final_metrics if self.cfg.eval.final else []), scorer, labels=None)
            except GanforgeError as e:
                raise GanforgeError(f"{e}; {off}") from None

    @torch.no_grad()
    def evaluate(self, generator: nn.Module, num: int, metrics: list[str], out_dir: Path | None = None) -> dict:
        """Metrics of `num` samples whose z come from their own generator, never the training RNG. A run with no
        evaluator gets `not_evaluated()` instead: why, and how to make one."""
        if self.missing:
            return self.not_evaluated()
        z, given, labels, conditions = evaluation_inputs(self.cfg, generator, num)
        if not samples_from_z(self.inputs):
            return self._translations(generator, z, metrics, out_dir)
        if self.sharded:
            result = self._sharded(generator, num, metrics, labels, out_dir)
        else:
            was_training = generator.training
            generator.eval()
            x = generate_batches(generator, z, given, batch_size=500)
            generator.train(was_training)
            if self.kind == "vector":
                return evaluate_points(x, self.dataset)
            result = evaluate_images(x, self.dataset, metrics, labels=labels, out_dir=out_dir, **self.options)
        if conditions is not None:
            result["provenance"]["conditions"] = conditions
        return result

    def _sharded(self, generator: nn.Module, num: int, metrics: list[str], labels: torch.Tensor | None,
                 out_dir: Path | None) -> dict:
        """Rank 0's side of a sharded evaluation: the ranks' shares joined, scored; the provenance says who embedded
        how many."""
        shares = gather_embedded(self.cfg, self.dataset, generator, num, metrics, self.procs)
        result = evaluate_images(join_embedded([s for s in shares if s is not None]), self.dataset, metrics,
                                 labels=labels, out_dir=out_dir, **self.options)
        return self._who_embedded(result, shares)

    def _who_embedded(self, result: dict, shares: list) -> dict:
        """A sharded evaluation's result, its provenance saying how many samples each rank embedded."""
        result["provenance"]["processes"] = {"world_size": self.procs.world_size,
                                             "embedded": [0 if s is None else len(s) for s in shares]}
        return result

    def _translations(self, generator: nn.Module, z: torch.Tensor, metrics: list[str], out_dir: Path | None) -> dict:
        if self.sharded:
            return self._sharded_translations(generator, len(z), metrics, out_dir)
        given, targets, labels = test_pairs(self.cfg.data, self.inputs, len(z))
        inputs = [given[f] for f in self.inputs]
        was_training = generator.training
        generator.eval()
        outputs = generate_batches(generator, *inputs, batch_size=500)
        generator.train(was_training)
        return evaluate_translations(outputs, targets, self.dataset, metrics, labels=labels, out_dir=out_dir,
                                     inputs=inputs[0], **self.options)

    def _sharded_translations(self, generator: nn.Module, num: int, metrics: list[str], out_dir: Path | None) -> dict:
        """Rank 0's side of a translator's sharded evaluation: the ranks' shares joined, scored."""
        shares, (inputs, targets, labels) = gather_translated(self.cfg, self.dataset, generator, self.inputs, num,
                                                              metrics, self.procs)
        result = evaluate_translations(join_translated([s for s in shares if s is not None]), targets, self.dataset,
                                       metrics, labels=labels, out_dir=out_dir, inputs=inputs[0], **self.options)
        return self._who_embedded(result, shares)

    def __call__(self, step: int, generator: nn.Module, modules: dict[str, nn.Module]) -> dict[str, float]:
        """Evaluate during training: the metrics to log, and the best checkpoint kept (none without an evaluator)."""
        if self.missing:
            return {}
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
