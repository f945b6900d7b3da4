"""One short trial of a text-to-image option on GAN-INT-CLS (configs/gan-int-cls-fashion.yaml): train it for a CPU
budget with `experiments/text2image.py`'s own `run_variant`, measure it the same way, and optionally add a row to
experiments/results/text2image_ab.json (the screens behind the configs' options, shown in the text-to-image guide).

    python experiments/text2image_trial.py --arm ca-0.2 --seconds 300 --set objective.augment_text=0.2 --record
    python experiments/text2image_trial.py --arm four-captions --seconds 300 --captions-per-image 4 --record

`--captions-per-image N` gives every Fashion-MNIST image N captions (each with its own template, synonyms and
mention of attributes; training draws one per visit), as datasets with several captions per image have (Reed et
al.'s birds and flowers have ten). It is a trial of this script, not an option of ganforge: it patches how the
captions are made in this process.

Run several trials at once (one thread each) to screen options side by side; each trial is one process.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import text2image as T  # noqa: E402

from ganforge import fileio  # noqa: E402
from ganforge.data import captions as C  # noqa: E402

AB = T.RESULTS / "text2image_ab.json"


def several_captions(per: int):
    """`attribute_caption_sets` giving every image `per` captions, whatever add_captions asks for."""
    draw = C.attribute_caption_sets
    return lambda stored, labels, seed=0, fashion=True, per_image=1: draw(stored, labels, seed, fashion, per)


def summary(row: dict, arm: str, what: str, command: str) -> dict:
    """The row as text2image_ab.json keeps it."""
    c, a = row["class_agreement"], row["attribute_agreement"]
    return {"arm": arm, "what": what, "budget": f"--seconds {row['seconds']:g} (CPU)", "command": command,
            "seed": row["seed"], "steps": row["steps"], "cpu_s_of_the_train_call": row["cpu_s"],
            "wall_s": row["wall_s"], "load_average_before_after": row["load_average"],
            "class_agreement_training_phrasings": round(c["training_phrasings"]["mean"], 4),
            "class_agreement_held_out_phrasings": round(c["held_out_phrasings"]["mean"], 4),
            "class_agreement_held_out_combinations": round(row["held_out_combinations"]["mean_class_agreement"], 4),
            "brightness_pairs_training_words": round(a["brightness/training_words"], 3),
            "brightness_pairs_held_out_words": round(a["brightness/held_out_words"], 3),
            "spread_per_caption_over_real": round(row["diversity"]["mean_relative_spread"], 3),
            "fid": round(row["fid"], 2)}


def markdown(ab: dict) -> str:
    """text2image_ab.md: every trial a row, as the guide shows them."""
    lines = [f"Trials of GAN-INT-CLS ({ab['cpu']}; {ab['date']}); {ab['caveat']}.", "",
             "| trial | what it changes | seed | steps | class agr. (training phrasings) | class agr. (held-out "
             "phrasings) | class agr. (held-out combinations) | brightness pairs (held-out words) | spread per "
             "caption / real | FID ↓ |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in ab["rows"]:
        lines.append(f"| {r['arm']} | {r['what']} | {r.get('seed', 0)} | {r['steps']:,} | "
                     f"{r['class_agreement_training_phrasings']:.1%} | {r['class_agreement_held_out_phrasings']:.1%} | "
                     f"{r['class_agreement_held_out_combinations']:.1%} | {r['brightness_pairs_held_out_words']:.1%} | "
                     f"{r['spread_per_caption_over_real']:.2f} | {r['fid']:.2f} |")
    return "\n".join(lines) + "\n\nEach trial's command is in experiments/results/text2image_ab.json.\n"


def write(ab: dict) -> None:
    """text2image_ab.json and .md, each replaced whole."""
    fileio.atomic_write(AB, json.dumps(ab, indent=1) + "\n")
    fileio.atomic_write(AB.with_suffix(".md"), markdown(ab))


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arm", required=True, help="the trial's name in the results file")
    p.add_argument("--what", default=None, help="what the trial changes, in words (default: its options)")
    p.add_argument("--seconds", type=float, default=300.0, help="CPU-seconds of training")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--captions-per-image", type=int, default=1)
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides")
    p.add_argument("--record", action="store_true", help=f"add the row to {AB.relative_to(T.ROOT)}")
    args = p.parse_args(argv)
    if args.captions_per_image > 1:
        C.attribute_caption_sets = several_captions(args.captions_per_image)  # add_captions reads it per call
    row = T.run_variant("gan_int_cls", args.seconds, args.seed, None, tuple(args.set))
    command = "python experiments/text2image_trial.py " + " ".join(
        [f"--arm {args.arm}", f"--seconds {args.seconds:g}", f"--seed {args.seed}"]
        + ([f"--captions-per-image {args.captions_per_image}"] if args.captions_per_image > 1 else [])
        + ([f"--set {' '.join(args.set)}"] if args.set else []))
    what = args.what or ", ".join(args.set + ([f"{args.captions_per_image} captions per image"]
                                              if args.captions_per_image > 1 else [])) or "the config as it is"
    out = summary(row, args.arm, what, command)
    if args.record:  # one trial at a time appends (trials run side by side finish minutes apart)
        ab = json.loads(AB.read_text())
        ab["rows"].append(out)
        write(ab)
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
