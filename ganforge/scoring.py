"""Evaluate samples against a real dataset with the frozen domain evaluator, and record what produced each number.

    evaluate_images(samples, "fashion-mnist", metrics=("fid", "kid", ...)) -> {"fid": ..., "provenance": {...}}
    evaluate_points(points, "ring8") -> {"modes": ..., "high_quality": ..., "reverse_kl": ...}
    evaluate_samples_file("samples.npz", "fashion-mnist") -> the same, for a file `ganforge sample` wrote
    write_report(result, out_dir) -> OUT/eval.json and OUT/eval.md

A trained run is evaluated by `ganforge.api.evaluate_run`, which loads it (the layer above training) and calls these.
"""
from __future__ import annotations

import json
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import images as image_io, metrics as M, seeds
from ._version import __version__
from .data import MIXTURES, SPLITLESS, Dataset, load_configured, load_dataset
from .errors import GanforgeError
from .fileio import atomic_write
from .metrics.frozen_evaluator import reference_features, resolve_evaluator
from .rundir import EVAL_JSON, EVAL_MD

IMAGE_METRICS = ("fid", "kid", "is", "pr", "dc", "modes", "parzen", "tstr", "nn")
DEFAULT_METRICS = ("fid", "kid", "is", "pr", "dc", "modes")
CLASS_METRICS = ("is", "modes")  # read the evaluator's class probabilities: a features-only evaluator has none
NO_TEST_SPLIT = SPLITLESS  # every split is the whole data: the reference is all of it
# shards packed without a test/ split: the reference is a seeded pick of at most this many packed images, read whole
SHARDS_REFERENCE = 10_000
PARZEN_SIGMAS = np.logspace(-1, 0, 10)  # Goodfellow et al. 2014: σ chosen on 1,000 validation images


def _parse(metrics) -> tuple[str, ...]:
    names = tuple(m.strip() for m in (metrics.split(",") if isinstance(metrics, str) else metrics) if m.strip())
    unknown = [m for m in names if m not in IMAGE_METRICS]
    if unknown:
        raise GanforgeError(f"unknown metric(s) {unknown}; choose from {', '.join(IMAGE_METRICS)}")
    return names


def _subset(x: torch.Tensor, n: int | None, seed: int) -> torch.Tensor:
    if n is None or n >= len(x):
        return x
    return x[torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:n]]


PIXEL_METRICS = ("parzen", "tstr", "nn")  # read the samples' pixels, not only what the evaluator made of them


@dataclass
class Embedded:
    """Samples as the evaluator saw them, in their order: features, class probabilities (None for a features-only
    evaluator), the images' shape (C, H, W), and the images themselves only where a metric reads pixels
    (`PIXEL_METRICS`). On several processes each rank embeds its share and rank 0 joins them (`join_embedded`)."""
    features: np.ndarray
    probs: np.ndarray | None
    shape: tuple[int, ...]
    samples: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.features)


def check_samples(samples: torch.Tensor, scorer) -> torch.Tensor:
    """The samples as float on the CPU, refused when they do not fit the evaluator or hold NaN/Inf."""
    samples = samples.float().cpu()
    if scorer.in_shape is None:
        scorer._check(samples)
    elif samples.ndim != 4 or tuple(samples.shape[1:]) != scorer.in_shape:
        raise GanforgeError(f"samples of shape {tuple(samples.shape)} do not fit {evaluator_fit(scorer)}")
    if not torch.isfinite(samples).all():
        raise GanforgeError("samples contain NaN or Inf")
    return samples


def embed_samples(samples: torch.Tensor, scorer, metrics=DEFAULT_METRICS) -> Embedded:
    """What `evaluate_images` needs of `samples` (checked): the evaluator's features and class probabilities,
    with the pixels kept only when `metrics` read them."""
    samples = check_samples(samples, scorer)
    features, probs = scorer.run(samples)
    keep = any(m in PIXEL_METRICS for m in _parse(metrics))
    return Embedded(features, probs, tuple(samples.shape[1:]), samples if keep else None)


def join_embedded(parts: list[Embedded]) -> Embedded:
    """Shares embedded apart (by the ranks, in rank order) as one, in the order of the samples they split."""
    first = parts[0]
    pixels = None if first.samples is None else torch.cat([p.samples for p in parts])
    probs = None if first.probs is None else np.concatenate([p.probs for p in parts])
    return Embedded(np.concatenate([p.features for p in parts]), probs, first.shape, pixels)


def evaluate_images(samples: torch.Tensor | Embedded, dataset: str, metrics=DEFAULT_METRICS, *,
                    labels: torch.Tensor | None = None, reference_split: str = "test",
                    num_reference: int | None = None, out_dir: Path | None = None, seed: int = 0,
                    inception_weights: str | Path | None = None, evaluator: str | Path | None = None,
                    data_path: str | Path | None = None) -> dict:
    """samples: (N, C, H, W) in [-1, 1], compared with the real images of `dataset` (a user's data: its
    `data_path`, read at the evaluator's image size). `labels` (optional, e.g. from a conditional G) are used by
    TSTR; otherwise the evaluator's predicted classes label the samples. The features come from `evaluator` (a
    file made by `ganforge evaluator train`), else the standard FID Inception-v3 when `inception_weights` (the
    pytorch-fid weights file) are given, else the dataset's built-in evaluator. `samples` may also be already
    `Embedded` by that same evaluator (shares embedded on several processes, joined)."""
    names = _parse(metrics)
    scorer = resolve_evaluator(dataset, evaluator, inception_weights)
    check_metrics_fit(names, scorer, labels)
    embedded = samples if isinstance(samples, Embedded) else None
    if embedded is None:
        samples = check_samples(samples, scorer)
    elif embedded.samples is None and any(m in PIXEL_METRICS for m in names):
        raise GanforgeError(f"metric(s) {', '.join(m for m in names if m in PIXEL_METRICS)} read the samples' "
                            "pixels, which these embedded samples do not keep")
    shape = embedded.shape if embedded is not None else tuple(samples.shape[1:])
    count = len(embedded) if embedded is not None else len(samples)
    if labels is not None and len(labels) != count:  # before the slow reference pass
        raise GanforgeError(f"{len(labels)} labels for {count} samples")
    real = lambda split: _real(dataset, data_path, split, shape)  # noqa: E731
    if reference_split == "test" and shards_without_test(dataset, data_path):
        reference_split = "all"
    ref = real(reference_split)
    ref_x = _subset(ref.x, num_reference, seed)
    t0 = time.perf_counter()
    real_f, real_p = reference_features(scorer, ref_x) if num_reference is None else scorer.run(ref_x)
    if embedded is None:
        fake_f, fake_p = scorer.run(samples)
    else:
        fake_f, fake_p, samples = embedded.features, embedded.probs, embedded.samples
    out: dict = {}
    if labels is not None and scorer.kind == "classifier":  # a conditional G's requested classes: does the evaluator see them?
        asked = labels.cpu().numpy()
        hit = fake_p.argmax(1) == asked
        out["class_agreement"] = float(hit.mean())
        out["class_agreement_per_class"] = [float(hit[asked == c].mean()) if (asked == c).any() else None
                                            for c in range(scorer.num_classes)]

    if "fid" in names:
        out["fid"] = M.frechet_distance(real_f, fake_f)
    if "kid" in names:
        out["kid"], out["kid_std"] = M.kid(real_f, fake_f, subset_size=min(1000, len(real_f), len(fake_f)), seed=seed)
    if "is" in names:
        out["is"], out["is_std"] = M.inception_score(fake_p, splits=10 if len(fake_p) >= 100 else 1)
    if "pr" in names:
        out.update(M.precision_recall(real_f, fake_f, k=3))
    if "dc" in names:
        out.update(M.density_coverage(real_f, fake_f, k=5))
    if "modes" in names:
        report = M.class_histogram_report(fake_p.argmax(1), scorer.num_classes)
        out["classes_covered"], out["class_kl"] = report["classes_covered"], report["kl_to_uniform"]
        out["class_histogram"] = report["histogram"].tolist()
    if "parzen" in names:
        out.update(_parzen(samples, ref_x, real("train"), seed))
    if "tstr" in names:
        train = real("train")
        if train.labels is None or ref.labels is None:
            raise GanforgeError(f"tstr trains a classifier on labelled real images; {dataset} has no labels")
        sample_labels = labels if labels is not None else torch.from_numpy(fake_p.argmax(1))
        idx = torch.randperm(len(train.x), generator=torch.Generator().manual_seed(seed))[:len(samples)]
        out.update(M.tstr(samples, sample_labels.long(), train.x[idx], train.labels[idx], ref.x, ref.labels,
                          ref.num_classes, seed=seed))
    if "nn" in names:
        out.update(_memorisation(samples, real("train"), seed, out_dir))

    out["provenance"] = {
        "evaluator": scorer.describe(), "dataset": dataset,
        "reference_split": "all" if dataset in NO_TEST_SPLIT else reference_split,
        "reference": describe_reference(scorer, dataset, data_path, reference_split, len(ref_x), len(ref.x)),
        **({"data_path": str(data_path)} if data_path else {}),
        "reference_size": len(ref_x), "num_samples": count,
        "preprocessing": f"images in [-1, 1] at {scorer.in_shape}, no resizing; features: the evaluator's "
                         f"{real_f.shape[1]}-d penultimate layer",
        "seed": seed, "ganforge": __version__, "seconds": round(time.perf_counter() - t0, 2),
    }
    return out


def evaluator_fit(scorer) -> str:
    """'evaluator NAME, which takes images of shape S (trained on DATA)': the evaluator's own data, never the
    run's, so a mismatch names what the evaluator was made for."""
    data = (getattr(scorer, "record", None) or {}).get("data") or {}
    made_for = data.get("dataset") or scorer.name.removesuffix("-cnn")
    if data.get("path"):
        made_for += f" {data['path']}"
    return f"evaluator {scorer.name}, which takes images of shape {scorer.in_shape} (it was trained on {made_for})"


def describe_reference(scorer, dataset: str, data_path, split: str, size: int, total: int) -> str:
    """What the real images compared with are, said plainly: a dataset's test split, or — for data with no test
    split (a folder, an npz, digits, shards packed without test/) — the data itself, naming the evaluator's own
    training images among them."""
    some = f"{size} of the {total}" if size < total else f"all {total}"
    where = f"{dataset} {data_path}" if data_path else dataset
    if dataset == "shards" and split == "all":
        text = (f"{some} images picked from {where} (seed 0, at most {SHARDS_REFERENCE:,}; it has no test/ split: "
                f"pack one with `ganforge data pack TEST_FOLDER --out {Path(str(data_path)) / 'test'}`)")
    elif dataset not in NO_TEST_SPLIT:
        return f"{some} {dataset} {split} images"
    else:
        text = f"{some} images of {where} (it has no test split)"
    if trained_on(scorer, dataset, data_path):
        text += "; the evaluator was trained on this data, so its own training images are among them"
    return text


def shards_without_test(dataset: str, data_path) -> bool:
    """Whether `dataset` is shards packed without a test/ split (so its reference is the packed images)."""
    return dataset == "shards" and data_path is not None and not (Path(data_path) / "test" / "manifest.json").is_file()


def trained_on(scorer, dataset: str, data_path) -> bool:
    """Whether `scorer`'s record says it was trained on `dataset` at `data_path` (same name, same folder/file)."""
    data = (getattr(scorer, "record", None) or {}).get("data") or {}
    if data.get("dataset") != dataset:
        return False
    if not data_path or not data.get("path"):
        return not data_path and not data.get("path")
    return Path(data["path"]).resolve() == Path(data_path).resolve()


def check_metrics_fit(metrics, scorer, labels) -> None:
    """Before any slow pass: a metric that reads class probabilities needs an evaluator that gives them."""
    names = _parse(metrics)
    if scorer.has_classes:
        return
    wanting = [m for m in names if m in CLASS_METRICS or (m == "tstr" and labels is None)]
    if wanting:
        raise GanforgeError(f"metric(s) {', '.join(wanting)} read class probabilities, but evaluator {scorer.name} "
                            f"is self-supervised (features only); drop them or use a labelled evaluator")


def _real(dataset: str, data_path, split: str, shape) -> Dataset:
    """The real images samples of `shape` (C, H, W) are compared with: the dataset at that size and channels
    (streamed shards: split "all" is a seeded pick of at most SHARDS_REFERENCE packed images, in memory)."""
    if dataset == "shards" and split == "all":
        stream = load_dataset(dataset, path=data_path, split="train", image_size=shape[-1], channels=shape[0])
        return stream.load(limit=SHARDS_REFERENCE)
    return load_dataset(dataset, path=data_path, split=split, image_size=shape[-1], channels=shape[0])


def test_pairs(data_cfg, fields: tuple[str, ...], num: int | None = None):
    """The first `num` examples of the test split of a run's data (`data_cfg`: its config's `data`, task included):
    ({field: inputs} for the generator's condition fields, targets x, labels or None); targets None for an unpaired
    domain, whose inputs have no partner. The first rather than a
    random subset, so every evaluation and `ganforge translate --test` score the same images."""
    test = load_configured(data_cfg, "test", subset=False)
    unpaired = [f for f in fields if f in test.domains]
    if unpaired:  # a domain of its own: its examples have no partner in x, so there are no targets to score against
        domain = test.domains[unpaired[0]]
        index = torch.arange(len(domain) if num is None else min(num, len(domain)))
        return {f: test.examples(index, f) for f in fields}, None, None
    index = torch.arange(len(test) if num is None else min(num, len(test)))
    inputs = {f: test.examples(index, f) for f in fields}
    return inputs, test.examples(index), None if test.labels is None else test.labels[index]


def evaluation_captions(data_cfg, num: int, seed: int) -> tuple[torch.Tensor, torch.Tensor | None, str]:
    """What a text-to-image G is asked for when it is evaluated: the caption embeddings (num, E) of a seeded pick of
    the test split's images (a permutation seeded by `seed`, a fresh one each time `num` exceeds the split), each
    image's caption drawn as training draws them (`CaptionSets.rows`, the pass over the split as its epoch); the
    classes of those images, or None; and a line saying where the captions come from. The same for the same
    (data, num, seed), so every evaluation of a run asks for the same captions. Shards packed without a test/
    split lend the packed set's own captions (and no classes: reading them would decode every image)."""
    if shards_without_test(data_cfg.name, data_cfg.path):
        test = load_configured(data_cfg, "train", subset=False)
        labels, where = None, f"the packed set {data_cfg.path} (it has no test/ split)"
    else:
        test = load_configured(data_cfg, "test", subset=False)
        labels = test.labels
        where = f"the {data_cfg.name} test split" if data_cfg.name not in NO_TEST_SPLIT else \
            f"{data_cfg.name} (it has no test split)"
    sets, g, n = test.captions, torch.Generator().manual_seed(seed), len(test)
    passes = -(-num // n)
    index = torch.cat([torch.randperm(n, generator=g) for _ in range(passes)])[:num]
    rows = np.concatenate([sets.rows(index[p * n:(p + 1) * n], p, seed) for p in range(passes)])
    about = (f"captions of {num} images of {where}, a seeded pick (seed {seed}), embedded by {data_cfg.encoder}; the "
             "same at every evaluation")
    return sets.embeddings[torch.from_numpy(rows)], None if labels is None else labels[index], about


SHOWN_TRANSLATIONS = 8  # rows of input | output | target in translations.png


@dataclass
class Translated:
    """Translations scored in shares (each rank of a run its slice of the test pairs, `translate_share`) and joined
    in order (`join_translated`): the outputs as the evaluator saw them, their per-image L1/PSNR/SSIM against their
    targets (None for unpaired data), and the first outputs, for the picture."""
    embedded: Embedded
    fidelity: dict[str, torch.Tensor] | None
    first: torch.Tensor

    def __len__(self) -> int:
        return len(self.embedded)


def translate_share(outputs: torch.Tensor, targets: torch.Tensor | None, scorer, metrics=DEFAULT_METRICS) -> Translated:
    """What `evaluate_translations` needs of a share of the outputs: embedded, and scored against their targets."""
    _check_pairs(outputs, targets)
    per_image = None if targets is None else M.fidelity_per_image(outputs, targets)
    return Translated(embed_samples(outputs, scorer, metrics), per_image, outputs[:SHOWN_TRANSLATIONS].float().cpu())


def join_translated(parts: list[Translated]) -> Translated:
    """Shares translated apart (in rank order) as one, in the order of the test pairs they split."""
    per_image = None if parts[0].fidelity is None else {
        k: torch.cat([p.fidelity[k] for p in parts]) for k in parts[0].fidelity}
    return Translated(join_embedded([p.embedded for p in parts]), per_image,
                      torch.cat([p.first for p in parts])[:SHOWN_TRANSLATIONS])


def _check_pairs(outputs: torch.Tensor, targets: torch.Tensor | None) -> None:
    if targets is not None and outputs.shape != targets.shape:
        raise GanforgeError(f"{len(outputs)} outputs of shape {tuple(outputs.shape[1:])} for targets of shape "
                            f"{tuple(targets.shape[1:])}")


def evaluate_translations(outputs: torch.Tensor | Translated, targets: torch.Tensor | None, dataset: str,
                          metrics=DEFAULT_METRICS, *, labels: torch.Tensor | None = None, out_dir: Path | None = None,
                          seed: int = 0, inputs: torch.Tensor | None = None, **options) -> dict:
    """Translations of test inputs against their ground truth: L1, PSNR, SSIM (`metrics.fidelity`), the sample
    metrics of the outputs against the real test images (FID, …), and with `labels` (the classes of the targets)
    `class_agreement`: how often the evaluator reads the target's class in the output (content preserved).
    targets None (unpaired data): the sample metrics alone. `outputs` may also be `Translated` already (shares
    translated and scored on several processes, joined)."""
    joined = outputs if isinstance(outputs, Translated) else None
    if joined is None:
        _check_pairs(outputs, targets)
    elif targets is not None and (len(joined) != len(targets) or joined.embedded.shape != tuple(targets.shape[1:])):
        raise GanforgeError(f"{len(joined)} outputs of shape {joined.embedded.shape} for {len(targets)} targets of "
                            f"shape {tuple(targets.shape[1:])}")
    out = evaluate_images(outputs if joined is None else joined.embedded, dataset, metrics, labels=labels,
                          out_dir=None, seed=seed, **options)
    out.pop("class_agreement_per_class", None)
    if targets is not None:
        out |= M.fidelity(outputs, targets) if joined is None else M.mean_fidelity(joined.fidelity)
        out["provenance"]["fidelity"] = ("L1, PSNR (dB) and SSIM per image on the [0, 1] scale against the test "
                                         "split's own targets, averaged (torchmetrics SSIM, Gaussian σ 1.5)")
    if out_dir is not None and inputs is not None:  # rows of input | output | target
        first = outputs if joined is None else joined.first
        shown = min(SHOWN_TRANSLATIONS, len(first))
        columns = [inputs[:shown], first[:shown]] + ([] if targets is None else [targets[:shown]])
        path = Path(out_dir) / "translations.png"
        image_io.save_png(image_io.example_rows(columns), path, scale=2)
        out["translations_png"] = str(path)
    return out


def _parzen(samples: torch.Tensor, test_x: torch.Tensor, train, seed: int) -> dict:
    """On pixels in [0, 1] as Goodfellow et al. 2014 (their MNIST scale); σ from 1,000 training images."""
    validation = _subset(train.x, 1000, seed + seeds.PARZEN_VALIDATION)
    to01 = lambda x: ((x + 1) / 2).flatten(1)  # noqa: E731
    sigma = M.parzen_select_sigma(to01(samples), to01(validation), PARZEN_SIGMAS)
    mean, stderr = M.parzen_log_likelihood(to01(samples), to01(test_x), sigma)
    return {"parzen": mean, "parzen_stderr": stderr, "parzen_sigma": float(sigma)}


def _memorisation(samples: torch.Tensor, train, seed: int, out_dir: Path | None) -> dict:
    frac = M.memorisation_fraction(samples.flatten(1), train.x.flatten(1), seed=seed)
    out = {"memorised_fraction": frac}
    if out_dir is not None:  # Goodfellow et al. Fig. 2: samples, each with its nearest training image beside it
        shown = samples[:16]
        idx, _ = M.nearest_neighbours(shown.flatten(1), train.x.flatten(1), k=1)
        pairs = torch.stack([shown, train.x[torch.from_numpy(idx[:, 0])]], dim=1).flatten(0, 1)
        path = Path(out_dir) / "nearest_neighbours.png"
        image_io.save_png(image_io.grid(image_io.to_uint8(pairs), cols=8), path, scale=2)
        out["nearest_neighbours_png"] = str(path)
    return out


def evaluate_points(points: torch.Tensor, dataset: str) -> dict:
    if dataset not in MIXTURES:
        raise GanforgeError(f"vector data can be evaluated on the 2-D mixtures ({', '.join(MIXTURES)}), not '{dataset}'")
    means, sigma = MIXTURES[dataset]
    if points.ndim != 2 or points.shape[1] != means.shape[1]:
        raise GanforgeError(f"points of shape {tuple(points.shape)} do not fit {dataset} ((N, {means.shape[1]}))")
    if not torch.isfinite(points).all():
        raise GanforgeError("points contain NaN or Inf")
    report = M.mode_report(points, means, sigma)
    return {"modes": report["modes"], "num_modes": len(means), "high_quality": report["high_quality"],
            "reverse_kl": report["reverse_kl"], "mode_counts": report["counts"].tolist(),
            "provenance": {"dataset": dataset, "num_samples": len(points),
                           "protocol": "PacGAN: high quality within 3σ of the nearest mode; a mode counts with "
                                       "≥ 0.8 % of the samples (20 of 2,500)", "ganforge": __version__}}


def describe_evaluator(ev: dict) -> str:
    """One line naming the feature network and, where known, its accuracy and train-vs-held-out FID floor."""
    text = f"evaluator {ev['name']} (sha256 {ev['sha256'][:12]}…"
    if ev.get("kind") == "contrastive":
        text += ", self-supervised"
        text += f", k-NN held-out accuracy {ev['knn_accuracy']:.4f})" if ev.get("knn_accuracy") is not None else ")"
    else:
        text += f", held-out accuracy {ev['test_accuracy']:.4f})" if ev.get("test_accuracy") is not None else ")"
    floor = ev.get("fid_floor_train_vs_test")
    return text + (f"; its train-vs-held-out FID floor {floor:.3f}" if floor is not None else "; floor not measured")


def write_report(result: dict, out_dir: Path) -> None:
    """The result as OUT/eval.json (all of it) and OUT/eval.md (a table of its numbers), each written atomically."""
    atomic_write(Path(out_dir) / EVAL_JSON, json.dumps(result, indent=1) + "\n")
    prov = result["provenance"]
    rows = [(k, v) for k, v in result.items() if k != "provenance" and not isinstance(v, (list, str))]
    lines = ["| metric | value |", "|---|---|"] + [f"| {k} | {v:.4g} |" for k, v in rows] if rows else []
    ev = prov.get("evaluator")
    if prov.get("not_evaluated"):
        lines += [f"Not evaluated: {prov['not_evaluated']}.", "", "Make an evaluator for this data:", "",
                  f"    {prov['make_evaluator']}", "", "then score the run with it:", "", f"    {prov['then']}"]
    if ev:
        reference = prov.get("reference") or (f"{prov['dataset']} {prov['reference_split']} "
                                              f"({prov['reference_size']} images)")
        lines += ["", f"{describe_evaluator(ev)}. Reference: {reference}; {prov['num_samples']} samples."]
    atomic_write(Path(out_dir) / EVAL_MD, "\n".join(lines) + "\n")


# -- samples files: the .npz that `ganforge sample` writes, or a user's own, checked before any slow pass ----------

def min_samples(metrics) -> int:
    """Fewest samples the chosen metrics are defined on: FID/KID a covariance (2), precision/recall the 3rd and
    density/coverage the 5th nearest other sample."""
    names = {m.strip() for m in (metrics.split(",") if isinstance(metrics, str) else metrics)}
    return 6 if "dc" in names else 4 if "pr" in names else 2


def check_sample_count(n: int, metrics, what: str) -> None:
    """A GanforgeError naming `what` (a flag, a file) when n samples are too few for `metrics`."""
    need = min_samples(metrics)
    if n < need:
        shown = metrics if isinstance(metrics, str) else ",".join(metrics)
        raise GanforgeError(f"{what}: {n} samples are too few for metrics {shown} (they need at least {need})")


def read_npz(path: str | Path, what: str | None = None) -> dict[str, np.ndarray]:
    """Every array of an .npz, read now (a damaged member fails here, not halfway through), never unpickled.
    Messages name the file as `what` (default: its path)."""
    path = Path(path)
    what = what or str(path)
    if path.is_dir():
        raise GanforgeError(f"{what}: is a folder, not an .npz file")
    if not path.is_file():
        raise GanforgeError(f"{what}: file not found")
    if path.stat().st_size == 0:
        raise GanforgeError(f"{what}: the file is empty")
    if not zipfile.is_zipfile(path):  # also catches a truncated archive: its directory sits at the end
        raise GanforgeError(f"{what}: not an .npz archive (truncated, or another format; "
                            "`ganforge sample` writes one)")
    arrays = {}
    try:
        with np.load(path, allow_pickle=False) as z:
            for name in z.files:
                try:
                    arrays[name] = z[name]
                except ValueError as e:
                    if "allow_pickle" not in str(e):
                        raise
                    raise GanforgeError(f"{what}: '{name}' holds an object array (Python objects); "
                                        "ganforge will not unpickle it — save plain numeric arrays") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error) as e:
        raise GanforgeError(f"{what}: not a readable .npz ({e})") from None
    return arrays


def _sample_labels(z: dict, n: int, what: str) -> torch.Tensor | None:
    if "labels" not in z:
        return None
    labels = z["labels"]
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise GanforgeError(f"{what}: 'labels' must be integers of shape (N,), got {labels.dtype} {labels.shape}")
    if len(labels) != n:
        raise GanforgeError(f"{what}: {len(labels)} labels for {n} samples")
    if len(labels) and labels.min() < 0:
        raise GanforgeError(f"{what}: 'labels' must be class numbers ≥ 0, found {labels.min()}")
    return torch.from_numpy(labels.astype(np.int64))


def _sample_points(a: np.ndarray, dataset: str, what: str) -> torch.Tensor:
    if a.ndim != 2 or a.dtype.kind != "f" or not len(a):
        raise GanforgeError(f"{what}: 'points' must be floats of shape (N, D), N ≥ 1, got {a.dtype} {a.shape}")
    if not np.isfinite(a).all():
        raise GanforgeError(f"{what}: 'points' holds {int((~np.isfinite(a)).sum())} NaN or infinite values")
    if dataset in MIXTURES and a.shape[1] != MIXTURES[dataset][0].shape[1]:
        raise GanforgeError(f"{what}: points of dimension {a.shape[1]}; {dataset} is "
                            f"{MIXTURES[dataset][0].shape[1]}-D")
    return torch.from_numpy(a).float()


def read_samples_file(path: str | Path, dataset: str, metrics=DEFAULT_METRICS,
                      what: str | None = None) -> tuple[str, torch.Tensor, torch.Tensor | None]:
    """A samples .npz checked and converted: ("images", (N, C, H, W) float in [-1, 1], labels or None) from
    'images' uint8 (N, H, W, C) and optional 'labels' int (N,), or ("points", (N, D) float32, None) from
    'points'. Every defect is a one-line GanforgeError naming the file as `what` (default: its path)."""
    path = Path(path)
    what = what or str(path)
    z = read_npz(path, what)
    if "images" in z:
        a = z["images"]
        if a.dtype != np.uint8 or a.ndim != 4:
            raise GanforgeError(f"{what}: 'images' must be uint8 (N, H, W, C), got {a.dtype} {a.shape}")
        check_sample_count(len(a), metrics, what)
        labels = _sample_labels(z, len(a), what)
        return "images", torch.from_numpy(a).permute(0, 3, 1, 2).float() / 127.5 - 1, labels
    if "points" in z:
        return "points", _sample_points(z["points"], dataset, what), None
    raise GanforgeError(f"{what}: needs an array 'images' or 'points'; it has {', '.join(z) or 'none'}")


def evaluate_samples_file(path: str | Path, dataset: str, metrics=DEFAULT_METRICS, *, what: str | None = None,
                          **options) -> dict:
    """Evaluate a samples .npz (see `read_samples_file`) against `dataset`: images with `evaluate_images`
    (`options` are its keyword arguments; figures go beside the file), points with `evaluate_points`. The
    result's provenance names the file."""
    path = Path(path)
    kind, x, labels = read_samples_file(path, dataset, metrics, what)
    if kind == "images":
        result = evaluate_images(x, dataset, metrics, labels=labels, out_dir=path.parent, **options)
    else:
        result = evaluate_points(x, dataset)
    result["provenance"]["samples_file"] = str(path)
    return result
