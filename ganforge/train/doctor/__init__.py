"""The doctor: watches the signals GAN lectures name while a run trains, and says in plain words what is wrong.

Every logging window the loop hands it the logged values (losses, monitors, gradient norms) and after an
evaluation the eval metrics. Its rooms: `history` (what the detectors see), `detectors` (pure functions of a short
history, each a finding or None), `remedies` (what to change, as this run's settings; a family offers those of its
own options through `Family.remedies`), `doctor` (the stateful `Doctor` the loop calls), `probe` (D's verdicts on
training vs held-out images), `diagnoses` (RUN/diagnoses.jsonl) and `check_d` (`ganforge doctor check-d`: a
discriminator trained alone as a classifier; imported on its own, as it builds on the training loop).
"""
from .detectors import (  # noqa: F401
    DETECTORS,
    discriminator_overfits,
    discriminator_wins,
    mode_collapse,
    oscillation,
    vanishing_generator_gradient,
)
from .diagnoses import DIAGNOSES, read_diagnoses  # noqa: F401
from .doctor import Doctor, spread  # noqa: F401
from .history import DIVERSITY_SAMPLES, OVERFIT_HELD, OVERFIT_TRAIN, Finding, History  # noqa: F401
from .probe import overfitting_probe  # noqa: F401
from .remedies import PLAN, remedies  # noqa: F401
