"""The remedies a diagnosis suggests: what the lectures advise for each problem, as settings of this run.

`PLAN` lists, per diagnosis, the remedies in the order they are offered. The doctor words those that are settings
every family shares (learning rates, Adam's β1, EMA, precision, augmentation, the data, the discriminator's
arguments). Those that are options of a family's own `objective:` (a cost, a schedule, a penalty) the family offers
through `Family.remedies`, by the names in `PLAN`: the doctor knows no family's options. A remedy that does not
apply to this run (an option the family lacks, or one already set as advised) is left out.
"""
from __future__ import annotations

from ...config import RunConfig
from ...families import Family, get_family
from ...nets import net_accepts

PLAN: dict[str, tuple[str, ...]] = {
    "discriminator_wins": ("slower_d", "fewer_d_steps", "more_g_steps", "non_saturating_cost", "label_smoothing",
                           "instance_noise"),
    "vanishing_generator_gradient": ("non_saturating_cost", "slower_d", "instance_noise", "label_smoothing",
                                     "unsaturating_loss"),
    "mode_collapse": ("content_loss", "packing", "minibatch_discrimination", "unrolled_d", "feature_matching",
                      "gradient_penalty", "unsaturating_loss", "earlier_checkpoint"),
    "oscillation": ("two_time_scales", "adam_beta1", "gradient_penalty", "ema", "spectral_norm"),
    "nan": ("slower_d", "gradient_penalty", "spectral_norm", "fp32", "check_data"),
    "discriminator_overfits": ("augmentation", "lower_ada_target", "more_data", "gradient_penalty", "slower_d"),
}


def shared_settings(cfg: RunConfig, g: str = "G", d: str = "D") -> dict[str, str]:
    """The remedies that are settings of every run (not of a family's `objective:`) and apply to `cfg`, by name;
    `g` and `d` name the generator and the discriminator whose settings they cite."""
    lr_g, lr_d = cfg.optim_for(g).lr, cfg.optim_for(d).lr
    advice = {  # (applies to this run, advice)
        "slower_d": (True, f"a lower learning rate for D (optim.{d}.lr, now {lr_d:g}; G's is {lr_g:g})"),
        "minibatch_discrimination": (net_accepts(cfg.nets[d].arch, "minibatch_features") if d in cfg.nets else False,
                                     f"minibatch discrimination (nets.{d}.args.minibatch_features=32)"),
        "two_time_scales": (True, f"lower learning rates, or two time scales (optim.{g}.lr=1e-4 optim.{d}.lr=4e-4; "
                                  f"now {lr_g:g} and {lr_d:g})"),
        "adam_beta1": (True, f"Adam β1 0.5 → 0 (optim.{g}.betas=[0, 0.9] and the same for {d}; now "
                             f"{list(cfg.optim_for(g).betas)})"),
        "ema": (not cfg.train.ema, "an EMA of G's weights (train.ema=0.999)"),
        "spectral_norm": (True, f"spectral normalisation of D (nets.{d}.args.spectral_norm=true)"),
        "fp32": (cfg.train.bf16 is not False, "fp32 instead of bf16 (train.bf16=false)"),
        "augmentation": (not cfg.augment.enabled, "differentiable augmentation of what D sees (augment.policy="
                                                  "translation,cutout,colour augment.ada=true)"),
        "lower_ada_target": (cfg.augment.ada, f"a lower ADA target, so augmentation starts sooner (augment.ada_target, "
                                              f"now {cfg.augment.ada_target:g})"),
        "more_data": (cfg.data.num_samples is not None, f"more training images (data.num_samples, now "
                                                        f"{cfg.data.num_samples})"),
        "check_data": (True, "checking the data for NaN/Inf"),
        "earlier_checkpoint": (True, "going back to an earlier checkpoint"),
    }
    return {name: text for name, (applies, text) in advice.items() if applies}


def remedies(code: str, cfg: RunConfig, opts: dict, g: str = "G", d: str = "D",
             family: type[Family] | None = None) -> str:
    """The remedies for diagnosis `code`, each named by its config key, joined by "; ". `opts` is the run's
    validated `objective:` (`Options.model_dump()`), whose remedies `family` (by default the one `cfg.family`
    names) offers; with no options there are none of the family's to offer."""
    family = family or get_family(cfg.family)
    offered = shared_settings(cfg, g, d) | (family.remedies(opts) if opts else {})
    return "; ".join(offered[name] for name in PLAN[code] if name in offered)
