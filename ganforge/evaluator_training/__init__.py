"""Evaluators for any image data: `train_evaluator` fits the feature network that FID, KID and precision/recall
read, on the user's own images, and writes it beside a record of what produced it (`ganforge evaluator train`).

With labels it is a classifier (`classifier.py`, the recipe of the built-in Fashion-MNIST evaluator); without, a
self-supervised SimCLR network (`contrastive.py`). The built-in evaluators' files (<dataset>-cnn.safetensors +
.json) live in ganforge/weights/, which `ganforge.metrics.frozen_evaluator` loads.
"""
from .train import (MIN_CLASS_IMAGES, MIN_CLASSES, EvaluatorData, infer_dataset, load_evaluator_data, recipe_for,
                    summary_line, train_evaluator)

__all__ = ["EvaluatorData", "MIN_CLASSES", "MIN_CLASS_IMAGES", "infer_dataset", "load_evaluator_data", "recipe_for",
           "summary_line", "train_evaluator"]
