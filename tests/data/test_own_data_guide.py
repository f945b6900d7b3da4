"""The own-data guide's commands (docs/guides/data.md), run as written on a small folder of images: the docs and the
code agree, or this fails. Each command gets only a budget flag added (steps, epochs, samples, seconds)."""
import re
import shlex

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, run_cli

GUIDE = ROOT / "docs" / "guides" / "data.md"
SECTIONS = ("## Your own images", "## Shards: pack, verify, stream")
# what each command gets added so that it runs in seconds: the guide's commands are otherwise unchanged
BUDGET = {"train": ["--steps", "30", "train.batch_size=16", "eval.final_num=200"], "evaluator train": ["--epochs", "3"],
          "evaluate": ["--num", "200"], "doctor check-d": ["--seconds", "2"], "data pack": [], "data verify": []}


def guide_commands() -> list[list[str]]:
    """The `ganforge …` lines of the sh blocks of the guide's own-data sections, without comments and without the
    optional `[…]` parts."""
    text = GUIDE.read_text()
    commands = []
    for title in SECTIONS:
        section = text[text.index(title):]
        section = section[:section.find("\n## ", 1) if "\n## " in section[1:] else len(section)]
        for block in re.findall(r"```sh\n(.*?)```", section, flags=re.S):
            for line in block.splitlines():
                line = re.sub(r"\[[^\]]*\]", "", line.split(" # ")[0]).strip()
                if line.startswith("ganforge "):
                    commands.append(shlex.split(line)[1:])
    return commands


def _digits_folder(root, per_class=40):
    """Two classes of 16-px grey digit images (0s and 1s): small, and easy to tell apart."""
    from sklearn.datasets import load_digits

    d = load_digits()
    for c in (0, 1):
        (root / f"digit{c}").mkdir(parents=True)
        for i, image in enumerate(d.images[d.target == c][:per_class]):
            Image.fromarray((image * 16).clip(0, 255).astype(np.uint8)).resize((16, 16)).save(
                root / f"digit{c}" / f"{i}.png")


def _budget(argv: list[str]) -> list[str]:
    for name in sorted(BUDGET, key=len, reverse=True):
        if " ".join(argv).startswith(name):
            return BUDGET[name]
    raise AssertionError(f"the guide shows a command this test does not know how to budget: ganforge {' '.join(argv)}")


@pytest.mark.slow
def test_the_own_data_guide_runs_as_written(tmp_path, monkeypatch, capsys):
    commands = guide_commands()
    names = [" ".join(c[:2]) for c in commands]
    assert names[:4] == ["train --data", "evaluator train", "evaluate runs/mine", "doctor check-d"]
    assert any(n == "data pack" for n in names) and any(n == "data verify" for n in names)
    monkeypatch.chdir(tmp_path)
    _digits_folder(tmp_path / "MY_IMAGES")
    said = []
    for argv in commands:
        rc, err, out = run_cli(argv + _budget(argv), capsys)
        assert rc == 0, f"ganforge {' '.join(argv)} failed: {err}"
        said.append(out + err)
    folder_run, _, evaluated, _ = said[:4]
    streamed_run = said[names.index("train --data", 1)]
    # what the guide promises of each step
    assert "data: an image folder MY_IMAGES/ (data.name=folder): 80 images, 16×16 px, grey, 2 classes" in folder_run
    assert "ganforge evaluator train --dataset folder --data MY_IMAGES/ --image-size 16 --channels 1" in folder_run
    assert "wrote runs/mine/eval.json and runs/mine/eval.md" in evaluated
    eval_md = (tmp_path / "runs" / "mine" / "eval.md").read_text()
    assert "it has no test split" in eval_md and "its own training images are among them" in eval_md
    assert "data: packed shards (manifest.json) MY_SHARDS/" in streamed_run
    assert "evaluation at the end with the evaluator my-evaluator.safetensors" in streamed_run
    streamed_md = (tmp_path / "runs" / "streamed" / "eval.md").read_text()
    assert "picked from shards MY_SHARDS/" in streamed_md and "it has no test/ split" in streamed_md
