"""Train the frozen domain evaluator for a built-in image dataset and write its weights and record.

    python scripts/train_evaluator.py --dataset fashion-mnist [--epochs 15] [--device auto]

Writes ganforge/evaluators/<dataset>-cnn.safetensors and <dataset>-cnn.json (test accuracy, sha256 of the weights,
the command, the machine). The weights are committed: every FID ganforge reports for this dataset uses them.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from ganforge.data import load_dataset
from ganforge.nets import build_net

OUT_DIR = Path(__file__).resolve().parent.parent / "ganforge" / "evaluators"


def augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Random shifts of up to 2 px (pad + crop) and horizontal flips: cheap, batched, on the device."""
    n, _, h, w = x.shape
    padded = F.pad(x, (2, 2, 2, 2), value=-1.0)
    dx, dy = torch.randint(0, 5, (2,), generator=g).tolist()  # one shift per batch keeps it a single slice
    x = padded[:, :, dy:dy + h, dx:dx + w]
    flip = torch.rand(n, generator=g) < 0.5
    return torch.where(flip.view(n, 1, 1, 1).to(x.device), x.flip(-1), x)


@torch.no_grad()
def accuracy(model, x, y, batch=1000) -> float:
    model.eval()
    correct = sum((model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item() for i in range(0, len(x), batch))
    return correct / len(x)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--out-dir", default=str(OUT_DIR))
    p.add_argument("--floor-only", action="store_true", help="only (re)compute the train-vs-test floor of existing weights")
    args = p.parse_args()
    if args.floor_only:
        record_floor(args.dataset, Path(args.out_dir))
        return
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device)

    torch.manual_seed(args.seed)
    train, test = load_dataset(args.dataset, split="train"), load_dataset(args.dataset, split="test")
    x, y = train.x.to(device), train.labels.to(device)
    xt, yt = test.x.to(device), test.labels.to(device)
    model = build_net("cnn_classifier", in_shape=train.shape, num_classes=int(train.labels.max()) + 1).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=5e-4)
    steps_per_epoch = len(x) // args.batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch)
    g = torch.Generator().manual_seed(args.seed)
    t0 = time.time()
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(x), generator=g).to(device)
        for i in range(steps_per_epoch):
            idx = order[i * args.batch:(i + 1) * args.batch]
            loss = F.cross_entropy(model(augment(x[idx], g)), y[idx], label_smoothing=0.05)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        print(f"epoch {epoch + 1}/{args.epochs}: loss {loss.item():.3f}, test accuracy {accuracy(model, xt, yt):.4f}, "
              f"{time.time() - t0:.0f} s", flush=True)

    acc_test, acc_train = accuracy(model, xt, yt), accuracy(model, x, y)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    weights = out / f"{args.dataset}-cnn.safetensors"
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(weights))
    record = {
        "name": f"{args.dataset}-cnn", "arch": "cnn_classifier", "in_shape": list(train.shape),
        "num_classes": int(train.labels.max()) + 1, "test_accuracy": acc_test, "train_accuracy": acc_train,
        "sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
        "command": "python " + " ".join(sys.argv), "epochs": args.epochs, "seed": args.seed,
        "device": str(device) + (f" ({torch.cuda.get_device_name()})" if device.type == "cuda" else ""),
        "torch": torch.__version__, "platform": platform.platform(), "train_seconds": round(time.time() - t0, 1),
        "date": time.strftime("%Y-%m-%d"),
    }
    (out / f"{args.dataset}-cnn.json").write_text(json.dumps(record, indent=1) + "\n")
    record_floor(args.dataset, out)


def record_floor(dataset: str, out: Path, n: int = 10_000) -> None:
    """The best score a generator could hope for under this evaluator: 10k real training images against the test
    split. Every FID ganforge reports is printed beside it."""
    from ganforge.metrics import frechet_distance, kid
    from ganforge.metrics import evaluator as ev

    ev.EVALUATOR_DIR = out
    ev.get_evaluator.cache_clear()
    evaluator = ev.get_evaluator(dataset)
    train, test = load_dataset(dataset, split="train"), load_dataset(dataset, split="test")
    idx = torch.randperm(len(train.x), generator=torch.Generator().manual_seed(0))[:n]
    f_train, _ = evaluator.run(train.x[idx])
    f_test, _ = evaluator.run(test.x)
    path = out / f"{dataset}-cnn.json"
    record = json.loads(path.read_text())
    record["fid_floor_train_vs_test"] = frechet_distance(f_train, f_test)
    record["kid_floor_train_vs_test"] = kid(f_train, f_test, seed=0)[0]
    record["floor_protocol"] = f"{n} random training images (seed 0) vs the {len(test.x)} test images"
    path.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record))


if __name__ == "__main__":
    main()
