"""The `ganforge` argument parser: each command module registers its subcommands, in the order help lists them."""
from __future__ import annotations

import argparse

from . import data, doctor, encode, evaluate, evaluator, generate, info, report, sample, serve, train, translate

DESCRIPTION = ("The `ganforge` command: parse → typed config → build → run. User errors print one clear message, "
               "no traceback.")
TAKES_ITEMS = ("train", "doctor")  # commands whose CONFIG and key=value overrides may sit anywhere on the line


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand; each sets `run`, the function that carries it out."""
    p = argparse.ArgumentParser(prog="ganforge", description=DESCRIPTION)
    sub = p.add_subparsers(dest="command", required=True)
    for register in (train.register, sample.register, generate.register, encode.register, info.register_info,
                     evaluate.register, evaluator.register, data.register, translate.register, doctor.register,
                     report.register, serve.register, info.register_list):
        register(sub)
    return p


def _split_items(args, extra: list[str], parser: argparse.ArgumentParser) -> None:
    """`train` takes one CONFIG and any number of key=value overrides, anywhere on the line."""
    unknown = [a for a in extra if a.startswith("-")]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    items = list(getattr(args, "items", [])) + extra
    configs = [a for a in items if "=" not in a]
    if len(configs) > 1:
        parser.error(f"one CONFIG at most, got {configs}")
    args.config = configs[0] if configs else None
    args.overrides = [a for a in items if "=" in a]


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The parsed command line; a usage error exits 2 through argparse with its message."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command in TAKES_ITEMS:
        _split_items(args, extra, parser)
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args
