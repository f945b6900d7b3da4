"""The built-in evaluator (ganforge/metrics/frozen_evaluator.py): the committed file is the one its record
describes, and the record holds what the scores' provenance reports. What the scores it makes measure:
tests/test_scoring.py."""
from ganforge.metrics.frozen_evaluator import EVALUATOR_DIR, get_evaluator, sha256_of


def test_evaluator_is_the_committed_one():
    ev = get_evaluator("fashion-mnist")
    assert sha256_of(EVALUATOR_DIR / "fashion-mnist-cnn.safetensors") == ev.sha256
    assert ev.record["test_accuracy"] >= 0.93
    assert 0 < ev.record["fid_floor_train_vs_test"] < 5
