"""The offsets from `train.seed` of the random streams a run draws besides its training RNG.

Each stream that must not disturb training (nor any other stream) gets a generator of its own, seeded
`train.seed + OFFSET`. The values are arbitrary (distinct primes, so two streams never share a seed), but they are
part of every run's numbers: changing one changes what a seed trains, so they are fixed here once and never edited.
"""
from __future__ import annotations

EXTRA_STREAMS = 1  # a family's extra batch streams (ssgan's labelled few): seed + 1 + i, in declaration order
TEST_SPLIT = 1  # the subset of the test split that held-out metrics read (data.num_samples)
GRIDS = 10_007  # the fixed z and the fixed real inputs of every sample grid
EVALUATION = 20_011  # the z of evaluation during (eval.every) and after (eval.final) training
DOCTOR_SPREAD = 30_011  # the doctor's pick of real examples whose spread diversity is measured against
DOCTOR_OVERFIT = 40_009  # the fixed training and held-out batches of the doctor's overfitting probe
PARZEN_VALIDATION = 1  # scoring: offset from the evaluation seed of the 1,000 training images that choose σ
RANKS = 50_021  # on several processes, rank r > 0's training RNG: seed + RANKS + r (rank 0 keeps the run's own)
CAPTION_PICKS = 60_017  # which of an image's several captions each epoch's visit reads (data.caption_sets)
