"""Write the results pages (docs/results/*.md) and the README's scoreboard from the results files.

Every number on those pages comes from experiments/results/*.json and bench/results/*.json, so none is copied by
hand and none can drift. Each table row names its recipe (a link to the config, with the overrides it ran), its
score, its budget, the steps it trained, the CPU and the date; a field a results file does not hold shows "—".
Lab notes (A/B runs, screens, run caches) are linked, not pasted.

    python docs/gen_results.py           # rewrite the pages and the README's scoreboard
    python docs/gen_results.py --check   # exit 1 when the committed pages differ from what the files give
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "docs" / "results"
README = ROOT / "README.md"
START, END = "<!-- scoreboard:start -->", "<!-- scoreboard:end -->"
NONE = "—"
# dcgan-fashion.yaml became the CPU-budget recipe on 2026-12-02; results from before then name the file but ran
# the recipe kept since as dcgan-fashion-paper.yaml (width 64, batch 64, Adam 2e-4)
NEW_DEFAULT_DATE = "2026-12-02"
UNDATED_BEFORE_NEW_DEFAULT = {"experiments/results/likelihood_vs_samples.json"}


def load(path: str) -> dict:
    return json.loads((ROOT / path).read_text(encoding="utf-8"))


# ---------------------------------------------------------------- formatting


def num(x, digits: int = 2) -> str:
    return NONE if x is None else f"{x:,.{digits}f}"


def pct(x, digits: int = 1) -> str:
    return NONE if x is None else f"{100 * x:.{digits}f} %"


def count(x) -> str:
    return NONE if x is None else f"{int(x):,}"


def seconds(x) -> str:
    return NONE if x is None else f"{x:,.0f} s"


def day(x) -> str:
    return str(x)[:10] if x else NONE


def mean_sd(values, fmt) -> str:
    if len(values) == 1:
        return fmt(values[0])
    return f"{fmt(statistics.mean(values))} ± {fmt(statistics.stdev(values))}"


def cpu_of(d: dict) -> str:
    """The CPU a results file names: model and vector extension where it has them."""
    machine = d.get("machine") or {}
    model = machine.get("cpu_model") or machine.get("cpu") or (d.get("hardware") or {}).get("cpu_model") \
        or d.get("cpu_model") or d.get("cpu")
    capability = machine.get("cpu_capability")
    if not model and not capability:
        return NONE
    parts = [model] if model else []
    if capability and not (model and capability in model):
        parts.append(capability)
    if machine.get("native_bf16") or (d.get("hardware") or {}).get("native_bf16") or d.get("native_bf16"):
        parts.append("native bf16")
    return ", ".join(parts).replace("(R)", "")


def config_name(config: str | None, date: str | None = None, source: str = "") -> str | None:
    """The config's file name as it is today (see NEW_DEFAULT_DATE)."""
    if not config:
        return None
    name = Path(config).name
    older = (date and str(date)[:10] < NEW_DEFAULT_DATE) or (not date and source in UNDATED_BEFORE_NEW_DEFAULT)
    return "dcgan-fashion-paper.yaml" if name == "dcgan-fashion.yaml" and older else name


@dataclass
class Row:
    """One table row: a recipe and what it scored."""

    label: str
    config: str | None  # file name under configs/, or None for a script's own setup
    score: str
    budget: str
    steps: str
    cpu: str
    date: str
    overrides: list[str] = field(default_factory=list)
    other: str = ""
    script: str | None = None  # repository path of the script that ran it, linked when there is no config

    def recipe(self, root: str, label: bool = True) -> str:
        parts = [self.label] if label else []
        if self.config:
            parts.append(f"[`{self.config}`]({root}configs/{self.config})")
        elif self.script:
            parts.append(f"[`{Path(self.script).name}`]({root}{self.script})")
        if self.overrides:
            parts.append(" ".join(f"`{o}`" for o in self.overrides))
        return "<br>".join(parts)


def link(root: str, path: str) -> str:
    """A link from a page under docs/results/ to a repository file (one under docs/ stays inside the site)."""
    return "../" + path[len("docs/"):] if path.startswith("docs/") else root + path


@dataclass
class Section:
    title: str
    text: str
    sources: list[str]
    rows: list[Row]
    other: str = "other scores"

    def markdown(self, root: str) -> str:
        links = ", ".join(f"[`{s}`]({link(root, s)})" for s in self.sources)
        lines = [f"## {self.title}", "", self.text, "", f"From {links}.", "",
                 f"| recipe | score | {self.other} | budget | steps | CPU | date |", "|---|---|---|---|---:|---|---|"]
        for r in self.rows:
            lines.append(f"| {r.recipe(root)} | {r.score} | {r.other or NONE} | {r.budget} | {r.steps} | {r.cpu} "
                         f"| {r.date} |")
        return "\n".join(lines) + "\n"


@dataclass
class Page:
    name: str
    title: str
    intro: str
    sections: list[Section]
    lab_notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        root = "../../"
        out = [f"# {self.title}", "", GENERATED, "", self.intro, ""]
        for s in self.sections:
            out.append(s.markdown(root))
        notes = [n for n in self.lab_notes if (ROOT / n).exists()]  # a cleaned-up note simply drops out
        if notes:
            out += ["## Lab notes", "",
                    "Screens, A/B runs and run caches behind these tables, kept as they were written:", ""]
            out += [f"- [`{n}`]({root}{n})" for n in notes]
            out.append("")
        return "\n".join(out)


GENERATED = ("<!-- generated by docs/gen_results.py from the results files; edit that script, not this page -->")


# ---------------------------------------------------------------- unconditional Fashion-MNIST


QUALITY_FILES = [
    "bench/results/quality_at_budget.json",
    "bench/results/quality_at_budget-subset5000.json",
    "bench/results/quality_at_budget-1200s.json",
    "bench/results/quality_at_budget-avx512-bf16.json",
    "bench/results/quality_at_budget-avx512-mgan4.json",
    "bench/results/quality_at_budget-avx512-mgan4-subset5000.json",
    "bench/results/quality_at_budget-avx512-mgan4-timedecay.json",
    "bench/results/quality_at_budget-avx512-mgan4-betas0.json",
    "bench/results/quality_at_budget-amx-mgan4-bf16.json",
    "bench/results/quality_at_budget-amx-mgan4-bf16-b64.json",
    "bench/results/quality_at_budget-amx-mgan4-bf16-b64-subset5000.json",
    "bench/results/quality_at_budget-amx-mgan4-bf16-b64-1200s.json",
]


def quality_row(path: str) -> Row:
    d = load(path)
    ours = next(k for k in d["rows"] if k.startswith("ganforge"))
    plain = next(k for k in d["rows"] if not k.startswith("ganforge"))
    config = d.get("config") or re.search(r"configs/([\w.-]+\.yaml)", ours).group(1)
    m, p = d["rows"][ours]["median"], d["rows"][plain]["median"]
    seeds = len(d["seeds"])
    label = "ganforge" + (f", a {d['subset']:,}-image subset" if d.get("subset") else "")
    return Row(label=label, config=config_name(config, d.get("date")), overrides=d.get("overrides") or [],
               score=f"FID {num(m['fid'])} ({'median of ' + str(seeds) + ' seeds' if seeds > 1 else 'one seed'}), "
                     f"{num(d['fid_ratio_ganforge_over_plain'], 3)}× the plain loop's",
               other=f"plain loop: FID {num(p['fid'])} in {count(p['steps'])} steps; KID {num(m['kid'], 4)}, "
                     f"precision {num(m['precision'], 3)}, recall {num(m['recall'], 3)}",
               budget=seconds(float(d["seconds"])), steps=count(m["steps"]), cpu=cpu_of(d), date=day(d.get("date")))


def quality_section() -> Section:
    return Section(
        "Quality at a fixed budget",
        "FID of 10,000 samples against the test set (the Fashion-MNIST evaluator's features) after a fixed time "
        "of training on one thread, beside a hand-written plain PyTorch DCGAN loop (`bench/plain_dcgan.py`) "
        "given the same time on the same images. The ratio is ganforge's FID over the plain loop's.",
        QUALITY_FILES, [quality_row(p) for p in QUALITY_FILES], other="against the plain loop")


def several_generators_section() -> Section:
    src = "experiments/results/several_generators.json"
    d = load(src)
    rows = []
    for key, spec in d["rows"].items():
        s = d["summary"][key]
        per_seed = ", ".join(num(f) for f in s["fid_per_seed"])
        rows.append(Row(label=spec["what"], config=config_name(d["config"], NEW_DEFAULT_DATE),
                        overrides=spec["overrides"], score=f"FID {num(s['fid'])} (median; seeds {per_seed})",
                        other=f"precision {num(s['precision'], 3)}, recall {num(s['recall'], 3)}, "
                              f"coverage {num(s['coverage'], 3)}",
                        budget=seconds(d["seconds"]), steps=count(s["steps"]), cpu=cpu_of(d), date=NONE))
    return Section("Several generators", "One generator against a mixture of four (MGAN), 3 seeds, one thread.",
                   [src], rows)


def budget_rows(src: str, rows: dict, label=lambda key: key) -> list[Row]:
    out = []
    for key, r in rows.items():
        out.append(Row(label=label(key), config=config_name(r.get("config"), r.get("date")),
                       overrides=r.get("overrides") or [], score=f"FID {num(r['fid'])}",
                       other=f"KID {num(r['kid'], 4)}, precision {num(r['precision'], 3)}, "
                             f"recall {num(r['recall'], 3)}, classes {r.get('classes_covered', NONE)}",
                       budget=seconds(float(r["seconds"])), steps=count(r["steps"]), cpu=cpu_of(r),
                       date=day(r.get("date"))))
    return out


def ablation_section() -> Section:
    src = "experiments/results/fashion_ablation.json"
    d = load(src)
    return Section("Objectives and stabilisers at a fixed budget",
                   "Each objective and a few stabilisers, one seed each, one thread.", [src],
                   budget_rows(src, d["rows"], label=lambda k: k.split(": ", 1)[-1]))


def generator_costs_section() -> Section:
    src = "experiments/results/generator_costs.json"
    d = load(src)
    return Section("Generator costs", "The three generator costs of the original paper, one seed each.", [src],
                   budget_rows(src, d["rows"], label=lambda k: k.replace("_", " ")))


def small_data_section() -> Section:
    src = "experiments/results/small_data.json"
    d = load(src)
    rows = budget_rows(src, {f"{r['data']} images, {r['recipe']}": r for r in d["rows"]})
    return Section("Augmentation on small training sets",
                   "The default recipe with and without differentiable augmentation (DiffAugment, ADA) on the "
                   "full set and on random subsets.", [src], rows)


def likelihood_section() -> Section:
    src = "experiments/results/likelihood_vs_samples.json"
    d = load(src)
    rows = []
    for r in d["rows"]:
        elbo = f"test ELBO {num(r['test_elbo_nats_01'], 1)} nats, {num(r['bits_per_dim'])} bits/pixel; " \
            if "test_elbo_nats_01" in r else ""
        rows.append(Row(label=r["model"].upper(), config=config_name(r["config"], source=src),
                        score=f"FID {num(r['fid'])}",
                        other=f"{elbo}Parzen log p {num(r['parzen'], 1)} ± {num(r['parzen_stderr'], 1)}; "
                              f"precision {num(r['precision'], 3)}, recall {num(r['recall'], 3)}",
                        budget=seconds(r["seconds"]), steps=count(r["steps"]), cpu=cpu_of(d), date=NONE))
    return Section("Likelihood against samples", f"A VAE and a GAN scored both ways ({d['units']}).", [src], rows)


def fashion_page() -> Page:
    return Page("fashion", "Fashion-MNIST", "Unconditional generation of Fashion-MNIST's 28×28 garments.",
                [quality_section(), several_generators_section(), ablation_section(), generator_costs_section(),
                 small_data_section(), likelihood_section()],
                lab_notes=["bench/results/quality_screen-avx512-mgan4-seed1.json",
                           "bench/results/quality_screen-amx-mgan4-bf16-seed1.json",
                           "bench/results/quality_screen-amx-mgan4-bf16-batch-seed1.json",
                           "experiments/results/recipe_search.json", "experiments/results/budget_runs.json",
                           "experiments/results/several_generators_runs.json"])


# ---------------------------------------------------------------- conditional, semi-supervised, representations


def conditional_section() -> Section:
    src = "experiments/results/conditional_fashion.json"
    d = load(src)
    rows = [Row(label=CONDITIONAL_LABELS.get(r["family"], r["family"]), config=config_name(r["config"]),
                overrides=r.get("overrides", []),
                score=f"class agreement {pct(r['class_agreement'])}",
                other=f"FID {num(r['fid'])}, precision {num(r['precision'], 3)}, recall {num(r['recall'], 3)}, "
                      f"TSTR {pct(r['tstr_accuracy'])} (TRTR {pct(r['trtr_accuracy'])})",
                budget=seconds(r["seconds"]), steps=count(r["steps"]), cpu=cpu_of(d), date=NONE)
            for r in d["rows"]]
    return Section("Conditional generation",
                   "How often the evaluator names the class each sample was asked for, 10,000 samples, one seed.",
                   [src], rows)


def semi_supervised_section() -> Section:
    src = "experiments/results/semi_supervised.json"
    d = load(src)
    rows = []
    for model, label in (("ssgan", "semi-supervised GAN"), ("labels_only", "the same D, labels only")):
        runs = [r for r in d["rows"] if r["model"] == model]
        rows.append(Row(label=f"{label} ({d['labels_per_class']} labels per class)", config=config_name(d["config"]),
                        score=f"test error {mean_sd([r['test_error'] for r in runs], pct)} ({len(runs)} seeds)",
                        other=", ".join(f"seed {r['seed']}: {pct(r['test_error'])}" for r in runs),
                        budget=f"{count(runs[0]['steps'])} steps",
                        steps=count(runs[0]["steps"]), cpu=cpu_of(d), date=NONE))
    return Section("Semi-supervised classification", "D's test error as a classifier of the 10 classes.", [src], rows)


def recipe_overrides(overrides: list[str]) -> list[str]:
    """The overrides that change what is trained, without those that only quieten logging and saving."""
    quiet = ("log.", "checkpoint.", "eval.", "doctor.", "train.threads")
    return [o for o in overrides if not o.startswith(quiet)]


def augmentation_section() -> Section:
    src = "experiments/results/gan_augmentation.json"
    d = load(src)
    rows = []
    for n in d["per_class"]:
        cells = [c for c in d["cells"] if c["per_class"] == n]
        arms = list(cells[0]["accuracy"])
        acc = {a: [c["accuracy"][a] for c in cells] for a in arms}
        rows.append(Row(label=f"{n} real images per class, classifier trained on real + cGAN samples",
                        config="cgan-fashion.yaml", overrides=recipe_overrides(d["gan_overrides"]),
                        score=f"accuracy {mean_sd(acc['real + cGAN'], pct)} (real only {mean_sd(acc['real'], pct)})",
                        other=", ".join(f"{a}: {pct(statistics.mean(acc[a]))}" for a in arms),
                        budget=f"{seconds(d['gan_seconds'])} (cGAN)",
                        steps=count(statistics.median(c["gan_steps"] for c in cells)), cpu=cpu_of(d), date=NONE))
    return Section("A GAN's samples as training data",
                   f"A classifier trained on few real images, with and without a cGAN's samples, {len(d['seeds'])} "
                   "seeds (mean ± sd).", [src], rows)


def bigan_section() -> Section:
    src = "experiments/results/bigan_probe.json"
    d = load(src)
    steps = d["steps"]
    # the script trains configs/bigan-fashion.yaml and configs/dcgan-fashion-paper.yaml (its CONFIGS)
    def config(representation: str) -> str | None:
        return "bigan-fashion.yaml" if representation.startswith("BiGAN") else \
            "dcgan-fashion-paper.yaml" if representation.startswith("DCGAN") else None

    rows = [Row(label=f"{p['representation']} ({p['dim']:,} dimensions)", config=config(p["representation"]),
                script="experiments/bigan_probe.py", score=f"linear probe {pct(p['linear_probe'])}",
                other=f"1-NN {pct(p['nearest_neighbour'])}" if "nearest_neighbour" in p else "",
                budget=seconds(d["seconds"]),
                steps=count(steps["bigan"] if "BiGAN" in p["representation"] else
                            steps["gan"] if "DCGAN" in p["representation"] else None),
                cpu=cpu_of(d), date=NONE) for p in d["probes"]]
    return Section("What BiGAN's encoder and D's features know",
                   "Test accuracy of a linear probe and a 1-nearest-neighbour classifier on each representation.",
                   [src], rows)


TEXT_LABELS = {"baseline": "plain text-conditional GAN", "gan_cls": "GAN-CLS", "gan_int": "GAN-INT",
               "gan_int_cls": "GAN-INT-CLS"}


def text2image_section() -> Section:
    src = "experiments/results/text2image.json"
    d = load(src)
    reduced = " (reduced" + (", shared machine)" if d.get("contended") else ")") if d.get("reduced_budget") else ""
    rows = [Row(label=TEXT_LABELS.get(r["variant"], r["variant"]), config=config_name(r["config"]),
                score=f"class agreement {pct(r['class_agreement']['held_out_phrasings']['mean'])} on held-out phrasings",
                other=f"training phrasings {pct(r['class_agreement']['training_phrasings']['mean'])}, held-out "
                      f"combinations {pct(r['held_out_combinations']['mean_class_agreement'])}, brightness pairs "
                      f"{pct(r['attribute_agreement']['brightness/training_words'])}, FID {num(r['fid'])}",
                budget=seconds(r["seconds"]) + (" CPU" if d.get("budget_clock") == "cpu" else "") + reduced, steps=count(r["steps"]), cpu=cpu_of(d), date=day(d.get("date")))
            for r in d["rows"]]
    return Section("Text to image", "Captions in, images out (Reed et al. 2016): how often the evaluator names the "
                   "caption's class, in words training never used; the [text-to-image guide]"
                   "(../guides/text-to-image.md) has the whole table and the grids; the short trials of its options "
                   "are in the second file.", [src, "experiments/results/text2image_ab.json"], rows)


def conditional_page() -> Page:
    return Page("conditional", "Conditional and semi-supervised", "Class-conditional GANs, the semi-supervised GAN, "
                "samples as training data, BiGAN's representations and text-to-image, on Fashion-MNIST.",
                [conditional_section(), semi_supervised_section(), augmentation_section(), bigan_section(),
                 text2image_section()])


# ---------------------------------------------------------------- image-to-image


TRANSLATION_LABELS = {
    "pix2pix_l1": "pix2pix, L1 only", "pix2pix_cgan": "pix2pix, cGAN only", "pix2pix_l1_cgan": "pix2pix, L1 + cGAN",
    "cyclegan": "CycleGAN, cycle + identity", "cyclegan_no_cycle": "CycleGAN without the cycle loss",
    "sr_bicubic": "×4: bicubic upscaling", "sr_content": "×4: content loss only (SRResNet-MSE)",
    "srgan": "×4: SRGAN, pixel content + 10⁻³ GAN", "srgan_features": "×4: SRGAN, content in D's features",
    "inpaint_l1": "centre square, L1 only", "inpaint_l1_cgan": "centre square, L1 + cGAN",
    "inpaint_random_l1": "random rectangle, L1 only", "inpaint_random_l1_cgan": "random rectangle, L1 + cGAN",
}
CONDITIONAL_LABELS = {
    "cgan": "cGAN, projection D", "acgan": "AC-GAN, class head trained on real images",
    "acgan_classify_fakes": "AC-GAN as in the paper (class head also on fakes)", "cgan_ema": "cGAN + EMA of G",
    "cgan_smoothing": "cGAN + label smoothing", "acgan_class_weight3": "AC-GAN, class weight 3",
}


def translation_rows(src: str) -> list[Row]:
    d = load(src)
    rows = []
    for r in d["rows"]:
        pairing = (f"; a random pairing: L1 {num(r['random_pair_l1'], 4)}, PSNR {num(r['random_pair_psnr'])}"
                   if "random_pair_l1" in r else "")
        hole = (f"; hole L1 {num(r['hole_l1'], 3)}, hole PSNR {num(r['hole_psnr'])}, "
                f"hole std ratio {num(r['hole_std_ratio'])}") if "hole_l1" in r else pairing
        rows.append(Row(label=TRANSLATION_LABELS.get(r["row"], r["row"]), config=config_name(r["config"]),
                        overrides=r["overrides"],
                        score=f"class agreement {pct(r['class_agreement'])}, FID {num(r['fid'])}",
                        other=f"L1 {num(r['l1'], 4)}, PSNR {num(r['psnr'])}, SSIM {num(r['ssim'], 3)}{hole}",
                        budget=seconds(r.get("seconds")) if r["steps"] else "none (no training)",
                        steps=count(r["steps"]), cpu=r.get("cpu", NONE), date=NONE))
    return rows


def translation_page() -> Page:
    main, avx = "experiments/results/translation.json", "experiments/results/translation-avx512.json"
    ceiling_src = "experiments/results/translation_ceiling.json"
    c = load(ceiling_src)
    ceiling = [Row(label=f"a classifier of the {r['task'].replace('_', ' ')} images, {r['epochs']} epochs",
                   config=None, script="experiments/translation_ceiling.py",
                   score=f"test accuracy {pct(r['test_accuracy'])}",
                   other=f"train accuracy {pct(r['train_accuracy'])}", budget=f"{r['epochs']} epochs",
                   steps=NONE, cpu=cpu_of(c), date=day(c.get("date"))) for r in c["rows"]]
    return Page("translation", "Image-to-image", "pix2pix, CycleGAN and SRGAN on tasks derived from Fashion-MNIST, "
                "scored against the hidden ground truth (one seed, one thread).",
                [Section("Translations", "Every row trained for its budget from scratch.", [main],
                         translation_rows(main)),
                 Section("Translations on an AVX-512 machine", load(avx).get("note", ""), [avx],
                         translation_rows(avx)),
                 Section("How much class the inputs carry",
                         "A classifier trained on each task's inputs: an estimate of the class agreement a "
                         "translation can reach.", [ceiling_src], ceiling)])


# ---------------------------------------------------------------- 2-D mixtures and f-GAN


def mode_collapse_section() -> Section:
    src = "experiments/results/mode_collapse_2d.json"
    d = load(src)
    base = Path(d["base_config"]).name
    rows = []
    for r in d["rows"]:
        for data, target in (("ring8", 8), ("grid25", 25)):
            s = r[data]["summary"]
            config = Path(d["recipes"][data]).name if r["key"].startswith("recipe") else base
            rows.append(Row(label=f"{r['label']} — {data}", config=config, overrides=r["overrides"],
                            score=f"{num(s['modes']['mean'], 1)} ± {num(s['modes']['std'], 1)} of {target} modes, "
                                  f"{pct(s['hq']['mean'])} high quality",
                            other=f"reverse KL {num(s['rkl']['mean'], 3)}" + (
                                f" ({s['rkl']['n']} of {len(d['seeds'])} seeds)"
                                if s["rkl"]["n"] != len(d["seeds"]) else ""),
                            budget=f"{count(r[data + '_steps'])} steps",
                            steps=count(r[data + "_steps"]), cpu=NONE, date=NONE))
    return Section("Mode collapse on 2-D mixtures",
                   f"Modes recovered and the share of high-quality samples ({d['num_samples']:,} samples) on the "
                   f"ring of 8 and the grid of 25 Gaussians, mean ± sd over {len(d['seeds'])} seeds. Rows other than "
                   f"the recipes start from `{base}` with the data set switched.",
                   [src, "experiments/results/mode_collapse_2d.png"], rows)


def fgan_section() -> Section:
    src = "experiments/results/fgan_bound.json"
    rows = [Row(label=r["divergence"].replace("_", " "), config=None, script="experiments/fgan_bound.py",
                score=f"relative error {pct(r['rel_error'], 2)}",
                other=f"estimate {num(r['estimate'], 4)}, analytic {num(r['analytic'], 4)}", budget=NONE, steps=NONE,
                cpu=NONE, date=NONE) for r in load(src)["results"]]
    return Section("f-GAN's variational bound", "The bound an optimal critic reaches against the divergence's "
                   "closed form, for each of the eight divergences.", [src], rows)


def toy_page() -> Page:
    return Page("toy", "2-D mixtures and f-GAN", "Small problems whose answers are known.",
                [mode_collapse_section(), fgan_section()])


# ---------------------------------------------------------------- evaluators


def user_evaluators_section() -> Section:
    src = "experiments/results/user_evaluators.json"
    d = load(src)
    rows = []
    for name, r in d["records"].items():
        score = f"test accuracy {pct(r['test_accuracy'])}" if "test_accuracy" in r else \
            f"k-NN accuracy {pct(r['knn_accuracy'])}"
        rows.append(Row(label=f"{name} ({r['kind']})", config=None, script="experiments/user_evaluators.py",
                        score=score, other=f"{r['epochs']} epochs; `{r['command'].split(' --out ')[0]}`",
                        budget=seconds(r["train_seconds"]), steps=NONE, cpu=cpu_of(d), date=day(r.get("date"))))
    return Section("Evaluators trained on the user's data",
                   f"`ganforge evaluator train` on a folder, on digits and on Fashion-MNIST without labels. Over a "
                   f"{count(d['steps'])}-step run, the self-supervised evaluator's FID ranks checkpoints as the "
                   f"labelled one does: Spearman {num(d['spearman_all'], 3)}.", [src], rows)


def wasserstein_section() -> Section:
    src = "experiments/results/wasserstein_vs_fid.json"
    d = load(src)
    rows = []
    for name in dict.fromkeys(r["name"] for r in d["runs"]):
        runs = [r for r in d["runs"] if r["name"] == name]
        rows.append(Row(label=f"{name}: `{runs[0]['signal']}`", config=config_name(runs[0]["config"], NEW_DEFAULT_DATE),
                        score=f"Spearman ρ {num(statistics.mean(r['spearman'] for r in runs))} (mean of {len(runs)})",
                        other=", ".join(f"seed {r['seed']}: {num(r['spearman'])}" for r in runs),
                        budget=seconds(d["seconds"]), steps=", ".join(count(r["steps"]) for r in runs), cpu=NONE,
                        date=NONE))
    return Section("The Wasserstein estimate against FID",
                   "Rank correlation between the critic's loss signal and FID over a run, per seed.",
                   [src, "docs/wasserstein-vs-fid.png"], rows)


def evaluators_page() -> Page:
    return Page("evaluators", "Evaluators", "Evaluators for the user's own data, and which training signals track "
                "sample quality.", [user_evaluators_section(), wasserstein_section()])


# ---------------------------------------------------------------- speed


THROUGHPUT_FILES = ["bench/results/throughput.json", "bench/results/throughput-base128.json",
                    "bench/results/throughput-flops.json", "bench/results/throughput-avx512-fp32.json",
                    "bench/results/throughput-amx.json"]


def throughput_rows() -> list[Row]:
    rows = []
    for src in THROUGHPUT_FILES:
        d = load(src)
        v = {k: x["median_img_per_s"] for k, x in d["variants"].items()}
        for precision in ("fp32", "bf16"):
            if f"ganforge-{precision}" not in v:
                continue
            peak = (d.get("fraction_of_gemm_peak") or {}).get(f"ganforge-{precision}")
            rows.append(Row(label=f"training step, {precision}, base width {d['model']['base']}, "
                                  f"batch {d['model']['batch']}",
                            config=config_name(d["model"]["config"], d.get("date")),
                            score=f"{num(d['ratios'][f'ganforge/plain {precision}'], 3)}× the plain loop's img/s",
                            other=f"{num(v[f'ganforge-{precision}'], 1)} img/s "
                                  f"(plain {num(v[f'plain-{precision}'], 1)})"
                                  + (f"; {pct(peak)} of the GEMM peak" if peak else ""),
                            budget=f"{d['protocol'][precision]['steps']} steps × {d['protocol']['repeats']}",
                            steps=NONE, cpu=cpu_of(d), date=day(d.get("date"))))
    return rows


def speed_variant_rows() -> list[Row]:
    rows = []
    for src in ("bench/results/speed_variants.json", "bench/results/speed_variants-avx512-1thread.json"):
        d = load(src)
        for variant, ratio in d["ratio_to_baseline"].items():
            if variant == "baseline":
                continue
            rows.append(Row(label=f"{variant.replace('_', ' ')}, {d['machine']['threads']} thread(s)", config=None,
                            script="bench/speed_variants.py", score=f"{num(ratio, 3)}× the baseline's img/s",
                            other=f"{num(d['median_img_per_s'][variant], 1)} img/s "
                                  f"(baseline {num(d['median_img_per_s']['baseline'], 1)})",
                            budget=f"{d['protocol']['steps']} steps × {d['protocol']['repeats']}", steps=NONE,
                            cpu=cpu_of(d), date=day(d.get("date"))))
    return rows


def bf16_row() -> Row:
    d = load("bench/results/bf16_quality.json")
    s = d["summary"]
    return Row(label="bf16 autocast against fp32 at equal steps", config=config_name(d["config"], d["date"]),
               score=f"{num(d['speedup_bf16'])}× the steps/s; FID {num(s['bf16']['fid_median'])} vs "
                     f"{num(s['fp32']['fid_median'])}",
               other=f"median of {len(d['seeds'])} seeds", budget=f"{count(d['steps'])} steps",
               steps=count(d["steps"]), cpu=cpu_of(d),
               date=day(d["date"]))


def streaming_rows() -> list[Row]:
    rows = []
    for src, unit in (("bench/results/streaming.json", "examples_per_s"), ("bench/results/streaming_train.json",
                                                                            "img_per_s")):
        d = load(src)
        for variant, r in d["results"].items():
            rows.append(Row(label=f"{Path(src).stem.replace('_', ' ')}: {variant}", config=None,
                            script=f"bench/{Path(src).stem}.py",
                            score=f"{num(r[unit], 1)} {unit.replace('_per_s', '').replace('_', ' ')}/s",
                            other=f"peak RSS {r['peak_rss_mb_main']} MB (main)", budget=NONE,
                            steps=count(r.get("timed_steps")), cpu=cpu_of(d), date=day(d.get("date"))))
    return rows


def metrics_speed_row() -> list[Row]:
    d = load("bench/results/metrics_speed.json")
    n = d["sizes"]["n"]
    return [Row(label=f"{metric} of {n:,} × {d['sizes']['dim']} features", config=None,
                script="bench/metrics_speed.py",
                score=seconds(s) if s >= 1 else f"{s:.3f} s", other="", budget=NONE, steps=NONE, cpu=cpu_of(d),
                date=day(d.get("date"))) for metric, s in d["seconds"].items()]


def scaling_files() -> list[str]:
    return sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "bench" / "results").glob("scaling-*.json"))


def scaling_rows() -> list[Row]:
    """bench/scaling.py: each variant's img/s and the all-reduce's share of its step; the efficiency beside N."""
    rows = []
    for src in scaling_files():
        d = load(src)
        for key, v in d["variants"].items():
            many = v["processes"] > 1
            other = f"all-reduce {pct(v['allreduce_share_of_step'])} of a step" if many else ""
            if many:
                other += (f"; {num(d['efficiency'])}× 1 process on all cores, "
                          f"{num(d['efficiency_per_core'])}× per core")
                if d.get("efficiency_rounds"):  # interleaved rounds: the spread a shared machine gives
                    other += (f" (medians of {d['rounds']} interleaved rounds; each round: "
                              + ", ".join(num(e) for e in d["efficiency_rounds"]) + ")")
            if d.get("note"):
                other += ("; " if other else "") + d["note"]
            rows.append(Row(label=f"{v['processes']} process(es) × {v['threads_per_process']} thread(s), global "
                                  f"batch {d['global_batch']}", config=config_name(d["config"], d.get("date")),
                            score=f"{num(v['img_per_s'], 1)} img/s", other=other,
                            budget=f"{count(d['steps'])} steps", steps=count(d["steps"]), cpu=cpu_of(d),
                            date=day(d.get("date"))))
    return rows


EXTRAPOLATION = "bench/results/scaling_extrapolation.json"
SHARDED_EVAL = "bench/results/sharded_eval.json"


def extrapolation_rows() -> list[Row]:
    """bench/allreduce.py: the predicted efficiency at each GPU count beyond one, per config and per-GPU batch."""
    d = load(EXTRAPOLATION)
    rows = []
    for c in d["configs"].values():
        for r in c["table"]:
            if r["gpus"] == 1:
                continue
            rows.append(Row(label=f"{r['gpus']} H100s (predicted), {r['per_gpu_batch']} per GPU", script=None,
                            config=config_name(c["config"], d.get("date")),
                            score=f"efficiency {num(r['efficiency'])} ({num(r['efficiency_training'])} without "
                                  "evaluation)",
                            other=f"all-reduce {num(sum(r['allreduce_ms'].values()), 3)} ms per step; evaluation "
                                  f"{pct(r['eval_share'])} of the time",
                            budget=NONE, steps=NONE, cpu=cpu_of(d), date=day(d.get("date"))))
    return rows


def sharded_eval_rows() -> list[Row]:
    """bench/sharded_eval.py: a final evaluation's seconds on 1 and 2 processes."""
    d = load(SHARDED_EVAL)
    return [Row(label=f"final evaluation of {count(d['num_samples'])} samples, {v['processes']} process(es) × "
                      f"{v['threads_per_process']} thread(s)", config=config_name(d["config"], d.get("date")),
                score=seconds(v["median_s"]),
                other=f"embedded per rank: {', '.join(map(count, v['embedded_per_rank']))}"
                + (f"; {d['note']}" if d.get("note") else ""), budget=NONE, steps=NONE, cpu=cpu_of(d),
                date=day(d.get("date"))) for v in d["variants"].values()]


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(r) + " |" for r in rows]


def extrapolation_block(root: str) -> str:
    """docs/scaling.md's tables of where time goes at 8 and 64 GPUs, from bench/allreduce.py's results file."""
    d = load(EXTRAPOLATION)
    a, fit = d["assumptions"], d["fit"]
    cores = d["machine"]["cores"]
    worlds = sorted(d["allreduce_ms_measured"], key=int)
    sizes = sorted(d["allreduce_ms_measured"][worlds[0]], key=int)
    load_avg = d["machine"].get("loadavg_at_start")
    out = [f"From [`{EXTRAPOLATION}`]({root}{EXTRAPOLATION}), made by `{d['command']}` on {cpu_of(d)} ({cores} "
           f"cores), {day(d.get('date'))}" + (f"; load average {load_avg[0]:.1f} at the start" if load_avg else "")
           + (f"; {d['note']}" if d.get("note") else "") + ".", "",
           "**Measured: the gloo all-reduce** (float32, median of "
           f"{d['repeats']} calls, ms). " + ", ".join(f"{w} processes" for w in worlds if d["simulated"].get(w))
           + f" are more processes than the {cores} cores: a simulation of the communication pattern, not of a "
           "cluster's speed.", ""]
    out += _table(["values"] + [f"{w} processes" for w in worlds],
                  [[count(s)] + [num(d["allreduce_ms_measured"][w][s]) for w in worlds] for s in sizes])
    beta = fit["beta_gb_per_s"]
    out += ["", f"**Fitted**: `{fit['model']}` over all {len(fit['points'])} points, weighing relative errors "
            f"alike: α = {num(fit['alpha_us'], 1)} µs per step, β = {num(beta) if beta else NONE} GB/s, worst "
            f"point off by {pct(fit['max_relative_error'], 0)}. On loopback with processes taking turns on "
            f"{cores} cores α is a scheduling delay, not a wire's latency; the fit checks the model's form (time "
            "growing with 2(N−1) steps and with the bytes), and the cluster's own figures replace α and β below.",
            "", "**Assumed** (each figure with its source; none measured here):", ""]
    gpu, lat = a["gpu"], a["nccl_latency_us"]
    out += _table(["figure", "value", "source"], [
        ["GPU peak, bf16 dense", f"{num(gpu['bf16_dense_tflops'], 1)} TFLOP/s ({gpu['name']})", gpu["source"]],
        ["share of that peak a step reaches", pct(gpu["share_of_peak"], 0), gpu["share_source"]],
        ["kernel launch", f"{num(gpu['launch_us'], 1)} µs", gpu["launch_source"]],
        ["NVLink, within a node", f"{num(a['nvlink']['gb_per_s'], 0)} GB/s", a["nvlink"]["source"]],
        ["InfiniBand, across nodes", f"{num(a['infiniband']['gb_per_s'], 0)} GB/s", a["infiniband"]["source"]],
        ["ring latency (Simple; LL)", f"base {lat['simple']['base']}; {lat['ll']['base']} µs, per NVLink step "
         f"{lat['simple']['nvlink_step']}; {lat['ll']['nvlink_step']} µs, per network step "
         f"{lat['simple']['net_step']}; "
         f"{lat['ll']['net_step']} µs", lat["source"]],
        ["GPUs per node", str(a["gpus_per_node"]), "a DGX/HGX H100 node"],
        ["evaluation", f"one FID of {count(a['evaluation']['samples'])} samples every "
         f"{count(a['evaluation']['every_images'])} training images", a["evaluation"]["source"]]])
    for name, c in d["configs"].items():
        e, st = c["evaluation"], c["step"]
        phases = list(c["table"][0]["allreduce_ms"])
        out += ["", f"**{name.capitalize()} config** ([`{Path(c['config']).name}`]({root}{c['config']}); gradients "
                + ", ".join(f"{k} {count(v)}" for k, v in c["gradient_params"].items())
                + f" parameters). A step costs {num(st['mflop_per_image'], 1)} MFLOP per image and "
                f"{count(st['ops_per_step'])} operations (≈ kernel launches). One rank's generation + embedding, "
                f"measured here on one thread: {num(1000 * e['cpu_s_per_sample_one_thread'])} ms per sample "
                f"({seconds(e['cpu_s_50k_one_rank'])} for 50k), {num(e['mflop_per_sample'], 1)} MFLOP per sample; "
                f"rank 0's FID scoring of 50k features measured here: {num(d['fid_scoring_s_50k'])} s.", ""]
        out += _table(["GPUs", "per-GPU batch", "compute ms"] + [f"all-reduce {p} ms" for p in phases]
                      + ["evaluation s (generate+embed / gather / score)", "evaluation share", "efficiency, training",
                         "efficiency, with evaluation"],
                      [[count(r["gpus"]) + (f" ({r['nodes']} nodes)" if r["nodes"] > 1 else ""),
                        count(r["per_gpu_batch"]),
                        num(r["compute_ms"]) + ("" if r["compute_bound"] else " (launch-bound)")]
                       + [num(r["allreduce_ms"][p], 3) for p in phases]
                       + [f"{num(r['eval_s'])} ({num(r['eval_generate_embed_s'], 3)} / {num(r['eval_gather_s'], 4)} / "
                          f"{num(r['eval_score_s'])})", pct(r["eval_share"]), num(r["efficiency_training"]),
                          num(r["efficiency"])] for r in c["table"]])
    return "\n".join(out) + "\n"


def sharded_eval_block(root: str) -> str:
    """docs/scaling.md's table of a final evaluation on 1 and 2 processes, from bench/sharded_eval.py's results."""
    d = load(SHARDED_EVAL)
    load_avg = d["machine"].get("loadavg_at_start")
    out = [f"From [`{SHARDED_EVAL}`]({root}{SHARDED_EVAL}), made by `{d['command']}` on {cpu_of(d)} "
           f"({d['machine']['cores']} cores), {day(d.get('date'))}"
           + (f"; load average {load_avg[0]:.1f} at the start" if load_avg else "")
           + (f"; {d['note']}" if d.get("note") else "") + f". {count(d['num_samples'])} samples of "
           f"[`{Path(d['config']).name}`]({root}{d['config']})'s G, {d['metrics']}, median of {d['repeats']} "
           "rounds.", ""]
    out += _table(["processes × threads", "seconds, median (each round)", "generate + embed per rank, s",
                   "embedded per rank", "FID"],
                  [[f"{v['processes']} × {v['threads_per_process']}",
                    f"{num(v['median_s'], 1)} ({', '.join(num(x, 1) for x in v['seconds'])})",
                    ", ".join(num(x, 1) for x in v["median_share_s_per_rank"]) if v["median_share_s_per_rank"][0]
                    else "(inside the whole)", ", ".join(map(count, v["embedded_per_rank"])), num(v["fid"], 4)]
                   for v in d["variants"].values()])
    mixtures = d.get("mixture_eval_s") or {}
    out += ["", f"2 processes on one core each take {num(1 / d['speedup_2_vs_1_all_cores'])}× the time of 1 process "
            f"on both cores and {num(1 / d['speedup_2_vs_1_one_core'])}× that of 1 process on one core; the FIDs "
            f"differ by {d['fid_relative_difference']:.1e} (relative: float rounding of the same samples)."
            + (" The 2-D mixtures' whole evaluation of as many points, which rank 0 does alone: "
               + ", ".join(f"{k} {num(v, 3)} s" for k, v in mixtures.items()) + "." if mixtures else "")]
    return "\n".join(out) + "\n"


def step_breakdown_block(root: str) -> str:
    """docs/scaling.md's table of where each variant's step goes, from bench/scaling.py's results files: compute
    inside the phases, the all-reduce (with the wait for the slower rank), and the rest of the step."""
    out = []
    for src in scaling_files():
        d = load(src)
        out += [f"From [`{src}`]({root}{src}) ({cpu_of(d)}, {day(d.get('date'))}"
                + (f"; {d['note']}" if d.get("note") else "") + "), ms per step, mean over the ranks"
                + (f", each variant's median round of {d['rounds']}" if d.get("rounds") else "") + ":", ""]
        rows = []
        for key, v in d["variants"].items():
            phases, allreduce = sum(v["phase_ms"].values()), sum(v["allreduce_ms"].values())
            rows.append([f"{v['processes']} × {v['threads_per_process']}", f"{d['global_batch'] // v['processes']}",
                         num(v["step_ms"]), num(phases - allreduce), num(allreduce), num(v["step_ms"] - phases)])
        out += _table(["processes × threads", "batch per process", "step", "compute in the phases",
                       "all-reduce, waiting included", "rest of the step (optimiser, stop agreement, data, logs)"],
                      rows)
        two = next((v for v in d["variants"].values() if v["processes"] > 1), None)
        one = d["variants"].get(f"1x{two['threads_per_process']}") if two else None
        alone = (d.get("allreduce_ms_by_world_size") or {}).get(str(two["processes"])) if two else None
        if two and one and alone:
            compute = lambda v: sum(v["phase_ms"].values()) - sum(v["allreduce_ms"].values())  # noqa: E731
            out += ["", f"On one thread, {two['processes']} processes' share of the batch costs "
                    f"{pct(compute(two) / compute(one), 0)} of the whole batch's compute; the all-reduce alone "
                    f"(measured apart, G and D) takes {num(sum(alone.values()))} ms of the "
                    f"{num(sum(two['allreduce_ms'].values()))} ms the step spends in it: the rest is waiting for "
                    "the slower rank."]
            best = d["variants"].get(f"1x{d['machine']['cores']}")
            if best:  # the goal, 0.8 × the img/s of one process on every core, as a step time
                budget = best["step_ms"] / 0.8 - (two["step_ms"] - sum(two["allreduce_ms"].values()))
                room = ("no room even for the all-reduce alone" if budget < sum(alone.values()) else
                        "room for the all-reduce alone, not for the wait" if budget < sum(two["allreduce_ms"].values())
                        else "room for both")
                out[-1] += (f" At 0.8× the img/s of 1 process on all cores a step may take "
                            f"{num(best['step_ms'] / 0.8)} ms; the compute and the rest leave {num(budget)} ms for the "
                            f"all-reduce: {room}.")
            out.append("")
    return "\n".join(out) + "\n"


SCALING_DOC = ROOT / "docs" / "scaling.md"
SCALING_BLOCKS = {"step-breakdown": step_breakdown_block, "extrapolation": extrapolation_block,
                  "sharded-eval": sharded_eval_block}


def scaling_doc() -> str:
    """docs/scaling.md with each generated block (between its markers) rewritten from its results file."""
    text = SCALING_DOC.read_text(encoding="utf-8")
    for name, make in SCALING_BLOCKS.items():
        start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
        if start not in text or end not in text:
            raise SystemExit(f"{SCALING_DOC}: the markers {start} and {end} are missing")
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = f"{head}{start}\n{GENERATED}\n\n{make('../')}{end}{tail}"
    return text


def speed_page() -> Page:
    return Page("speed", "Speed", "Images per second of the training step against a plain PyTorch loop, and the "
                "cost of the pieces around it.",
                [Section("Training throughput", "ganforge's training step against a hand-written loop on the same "
                         "networks and data tensor.", THROUGHPUT_FILES, throughput_rows()),
                 Section("Speed variants", "Variants of the plain step, each against its baseline.",
                         ["bench/results/speed_variants.json", "bench/results/speed_variants-avx512-1thread.json"],
                         speed_variant_rows()),
                 Section("bf16", "bf16 autocast on a CPU with native bf16.", ["bench/results/bf16_quality.json"],
                         [bf16_row()]),
                 Section("Streaming shards", "Reading packed shards against a data set in memory.",
                         ["bench/results/streaming.json", "bench/results/streaming_train.json"], streaming_rows()),
                 Section("Metrics", "Seconds each metric takes.", ["bench/results/metrics_speed.json"],
                         metrics_speed_row()),
                 Section("Several processes", "1 process against 2 (torchrun, gloo) training the same global batch "
                         "on the same CPU (docs/scaling.md).", scaling_files(), scaling_rows()),
                 Section("Beyond one machine, predicted", "8 and 64 GPUs from the all-reduce measured here and "
                         "stated, cited figures (the method and every table: docs/scaling.md).", [EXTRAPOLATION],
                         extrapolation_rows()),
                 Section("Sharded evaluation", "A run's final evaluation on 1 process against 2 (docs/scaling.md).",
                         [SHARDED_EVAL], sharded_eval_rows())],
                lab_notes=["bench/results/throughput_core_ab.json"])


# ---------------------------------------------------------------- the scoreboard


def scoreboard_rows() -> list[tuple[str, str, Row]]:
    """(family, results page, row): one headline row per recipe, picked from the pages' rows."""
    fashion, cond, trans, toy = fashion_page(), conditional_page(), translation_page(), toy_page()

    def pick(page: Page, title: str, test) -> Row:
        section = next(s for s in page.sections if s.title == title)
        found = [r for r in section.rows if test(r)]
        if not found:
            raise SystemExit(f"scoreboard: no row of {page.name}.md / {title!r} fits its pick any more")
        return found[0]

    q = "Quality at a fixed budget"
    ab = "Objectives and stabilisers at a fixed budget"
    tr = "Translations"
    picks = [
        ("DCGAN (default)", fashion, pick(fashion, q, lambda r: r.config == "dcgan-fashion.yaml" and not r.overrides
                                          and "subset" not in r.label and r.budget == "300 s")),
        ("MGAN, bf16", fashion, pick(fashion, q, lambda r: "objective.generators=4" in r.overrides and "Xeon" in r.cpu
                                     and "subset" not in r.label and r.budget == "300 s"
                                     and "train.batch_size=64" in r.overrides)),
        ("WGAN", fashion, pick(fashion, ab, lambda r: r.config == "wgan-fashion.yaml")),
        ("WGAN-GP", fashion, pick(fashion, ab, lambda r: r.config == "wgan-gp-fashion.yaml")),
        ("LSGAN", fashion, pick(fashion, ab, lambda r: r.config == "lsgan-fashion.yaml")),
        ("hinge", fashion, pick(fashion, ab, lambda r: r.config == "hinge-fashion.yaml")),
        ("f-GAN (KL)", fashion, pick(fashion, ab, lambda r: r.config == "fgan-fashion.yaml")),
        ("VAE", fashion, pick(fashion, "Likelihood against samples", lambda r: r.config == "vae-fashion.yaml")),
        ("cGAN", cond, pick(cond, "Conditional generation", lambda r: r.config == "cgan-fashion.yaml"
                            and not r.overrides)),
        ("AC-GAN", cond, pick(cond, "Conditional generation", lambda r: r.label == CONDITIONAL_LABELS["acgan"])),
        ("semi-supervised GAN", cond, pick(cond, "Semi-supervised classification",
                                           lambda r: r.label.startswith("semi"))),
        ("BiGAN", cond, pick(cond, "What BiGAN's encoder and D's features know", lambda r: "BiGAN E" in r.label)),
        ("pix2pix", trans, pick(trans, tr, lambda r: r.config == "pix2pix-edges-fashion.yaml" and not r.overrides)),
        ("pix2pix, inpainting", trans, pick(trans, tr, lambda r: r.config == "pix2pix-inpaint-fashion.yaml"
                                            and not r.overrides)),
        ("CycleGAN", trans, pick(trans, tr, lambda r: r.label == TRANSLATION_LABELS["cyclegan"])),
        ("SRGAN ×4", trans, pick(trans, tr, lambda r: r.label == TRANSLATION_LABELS["srgan"])),
        ("GAN, ring of 8", toy, pick(toy, "Mode collapse on 2-D mixtures", lambda r: r.config == "toy-ring8.yaml"
                                     and not r.overrides)),
        ("GAN, grid of 25", toy, pick(toy, "Mode collapse on 2-D mixtures", lambda r: r.config == "toy-grid25.yaml"
                                      and not r.overrides)),
    ]
    return [(family, page.name, row) for family, page, row in picks]


def scoreboard(root: str, results_link) -> str:
    lines = ["| family | recipe | score | budget | steps | CPU | date | details |",
             "|---|---|---|---|---:|---|---|---|"]
    for family, page, r in scoreboard_rows():
        lines.append(f"| {family} | {r.recipe(root, label=False)} | {r.score} | {r.budget} | {r.steps} | {r.cpu} "
                     f"| {r.date} | [{page}]({results_link(page)}) |")
    return "\n".join(lines) + "\n"


def index_page(pages: list[Page]) -> str:
    listing = "\n".join(f"- [{p.title}]({p.name}.md): " + "; ".join(s.title.lower() for s in p.sections)
                        for p in pages)
    return "\n".join([
        "# Results", "", GENERATED, "",
        "Measured on this project's 2-core CPU machines (the CPU column names which). One row per recipe: its "
        "config and the overrides it ran, the score, the budget, the steps trained in it, the CPU and the date "
        "(\"—\" where the results file does not record it). Regenerate with `python docs/gen_results.py`.", "",
        "## Scoreboard", "", scoreboard("../../", lambda page: f"{page}.md"), "## Pages", "", listing, ""])


# ---------------------------------------------------------------- writing and checking


def results_files() -> list[str]:
    """Every results file there is, so a test can ask that each one is on a page (shown or linked)."""
    found = [p for folder in ("experiments/results", "bench/results") for p in (ROOT / folder).rglob("*.json")]
    return sorted(p.relative_to(ROOT).as_posix() for p in found)


def outputs() -> dict[Path, str]:
    pages = [fashion_page(), conditional_page(), translation_page(), toy_page(), evaluators_page(), speed_page()]
    out = {PAGES / f"{p.name}.md": p.markdown() for p in pages}
    out[PAGES / "index.md"] = index_page(pages)
    out[SCALING_DOC] = scaling_doc()
    readme = README.read_text(encoding="utf-8")
    if START not in readme or END not in readme:
        raise SystemExit(f"{README}: the markers {START} and {END} are missing")
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    board = scoreboard("", lambda page: f"docs/results/{page}.md")
    out[README] = f"{head}{START}\n{board}{END}{tail}"
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a page differs from what the files give")
    args = parser.parse_args(argv)
    stale = []
    for path, text in outputs().items():
        old = path.read_text(encoding="utf-8") if path.exists() else None
        if old == text:
            continue
        stale.append(path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path))
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if args.check and stale:
        print("out of date with the results files (run python docs/gen_results.py): " + ", ".join(stale))
        return 1
    print(("up to date" if not stale else "rewrote " + ", ".join(stale)) if not args.check else "up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
