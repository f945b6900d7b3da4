"""`ganforge doctor …`: checks to run before a long training run."""
from __future__ import annotations

from .. import api
from ..config import load_config
from .types import real


def register(sub) -> None:
    """Add `doctor` and its subcommands to the subcommands."""
    dr = sub.add_parser("doctor", help="checks to run before a long training run")
    drsub = dr.add_subparsers(dest="doctor_command", required=True)
    cd = drsub.add_parser("check-d", help="train the configured discriminator alone as a classifier (labels, or "
                                          "real vs pixel-shuffled images) and say whether it learns")
    cd.add_argument("items", nargs="*", metavar="CONFIG | key=value",
                    help="a YAML config by path or bare name (default dcgan-fashion) and key=value overrides")
    cd.add_argument("--data", help="data file or folder (default: the dataset's lookup order); its kind is found "
                                   "as `ganforge train --data` finds it")
    cd.add_argument("--seconds", type=real(1), default=60.0, help="time budget, shared by the discriminators "
                                                                 "(default 60)")
    cd.set_defaults(run=check_d)


def check_d(args) -> int:
    """Print each discriminator's verdict; answer 1 when one does not learn."""
    overrides = list(args.overrides) + ([f"data.path={args.data}"] if args.data is not None else [])
    cfg = api.settle_data(load_config(args.config, overrides), api.data_keys_given(args.overrides))
    verdicts = api.check_discriminators(cfg, args.seconds, log=lambda line: print(line, flush=True))
    for v in verdicts:
        print(v.words())
    return 0 if all(v.learns for v in verdicts) else 1
