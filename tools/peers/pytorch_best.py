#!/usr/bin/env python3
"""The strongest PyTorch peer: the seed's model trained the way a skilled PyTorch user writes it today.

The table: a float32 .npy of shape [rows, 1 + features], the label in column 0, as `train --export-npy PATH` or
`compare_loaders --export-npy PATH` writes it; the last --test-rows rows are the test set.

The model is pytorch_loaders.py's (the seed's): Linear(F,300) Tanh Dropout(0.5), three times Linear(300,300) Tanh,
Linear(300,1), the same initial weights (torch.manual_seed(--seed) before building it); Adam (lr 1e-3,
torch.optim.Adam(fused=True)); batch 16384. The final Sigmoid is folded into the loss: BCEWithLogitsLoss on the
logits is mathematically the same model and loss as the seed's Sigmoid + BCELoss (mean), and the only one of the
two that autocast allows (BCELoss is unsafe under autocast); fasttab computes its loss the same way. One loss for
every precision, so the runs differ only in what is measured.

Each epoch (shuffled): a torch.randperm of the training rows on the device, then for every batch of 16384 rows of
that order (the last batch partial: 10,500,000 rows are 640 full batches and one of 14,636; no drop_last) a gather
from the table resident on the device, forward, loss, backward, Adam's step. At the epoch's end the test set: its
loss (BCE, mean) and its exact ROC AUC, computed on the device (a sort of the logits, ties given half credit, as
scikit-learn's roc_auc_score and fasttab do), then one synchronisation. No evaluation inside the epoch.

Timing, per (precision, mode): wall clock from the epoch's permutation to the test metrics on the host, the
evaluation included, as fasttab's s/epoch with `--shuffle --eval-every 0` (docs/performance.md). The first epoch
also holds the compilation and warm-up (CUDA graph capture): it is reported on its own ("first epoch"), and
s/epoch is the mean of the epochs after it (so --epochs must be at least 2 for an s/epoch).

Precisions:
  fp32  torch.set_float32_matmul_precision("highest"), cudnn TF32 off: float32 GEMMs.
  tf32  torch.set_float32_matmul_precision("high") (what torch.backends.cuda.matmul.allow_tf32 = True sets),
        cudnn TF32 on.
  bf16  torch.autocast(device_type, dtype=torch.bfloat16) around forward and loss (bfloat16 GEMMs, float32
        accumulation; the loss in float32); float32 master weights and Adam state; fp32 matmul precision.
        The logits come out of autocast's last Linear in bfloat16, so the test AUC sees more ties than in fp32.
Modes:
  eager            plain PyTorch.
  compile          torch.compile of the forward + loss (backward through AOTAutograd) and of the evaluation's forward.
  reduce-overhead  the same with mode="reduce-overhead": CUDA graphs of forward, backward and evaluation. On the
                   CPU there are no CUDA graphs and it is the same as compile.
Adam's step is eager in every mode (fused=True is already one fused kernel set). Compilation is with
dynamic=False: each shape gets its own static graph, three in all (the full batch, the last partial batch, the
test set), compiled during the first epoch; no recompilation after it.

Usage:  pytorch_best.py TABLE.npy [--precisions fp32,tf32,bf16] [--modes eager,compile,reduce-overhead]
                        [--epochs N] [--test-rows N] [--batch-size N] [--device cuda|cpu] [--json PATH]
Needs:  torch (with CUDA for --device cuda), numpy.
"""
import argparse
import contextlib
import json
import math
import statistics
import time

import torch
import torch.nn as nn

from pytorch_loaders import fmt, make_model, read_table, synchronize

PRECISIONS = ("fp32", "tf32", "bf16")
MODES = ("eager", "compile", "reduce-overhead")


def roc_auc(scores, labels):
    """Exact ROC AUC on the device: the positives' mid-ranks among the sorted scores (ties count half)."""
    sorted_scores, order = torch.sort(scores)
    positive = (labels[order] > 0.5).long()
    _, group, counts = torch.unique_consecutive(sorted_scores, return_inverse=True, return_counts=True)
    twice_midrank = 2 * counts.cumsum(0) - counts + 1  # a tie group's first rank + last rank (ranks from 1)
    positives = positive.sum()
    negatives = scores.numel() - positives
    twice_u = (twice_midrank[group] * positive).sum() - positives * (positives + 1)
    auc = twice_u.double() / (2.0 * positives.double() * negatives.double())
    return torch.where(torch.isnan(scores).any(), torch.full_like(auc, math.nan), auc)


def set_precision(precision):
    torch.set_float32_matmul_precision("high" if precision == "tf32" else "highest")
    torch.backends.cudnn.allow_tf32 = precision == "tf32"


def run(precision, mode, data, args, device):
    """Trains one model from the same initial weights; returns a result row (dict)."""
    torch._dynamo.reset()  # no graph of an earlier run is reused
    set_precision(precision)
    model = make_model(data["features"], args.seed, device)[:-1]  # the seed's model without its Sigmoid
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    loss_fn = nn.BCEWithLogitsLoss()

    def autocast():
        if precision == "bf16":
            return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def forward_loss(x, y):
        with autocast():
            return loss_fn(model(x).squeeze(1).float(), y)

    def test_logits(x):
        with autocast():
            return model(x).squeeze(1).float()

    if mode != "eager":
        compile_mode = "reduce-overhead" if mode == "reduce-overhead" else "default"
        forward_loss = torch.compile(forward_loss, mode=compile_mode, dynamic=False)
        test_logits = torch.compile(test_logits, mode=compile_mode, dynamic=False)

    train_x, train_y, test_x, test_y = data["train_x"], data["train_y"], data["test_x"], data["test_y"]
    rows, batch = train_x.shape[0], args.batch_size
    batches = (rows + batch - 1) // batch
    row = {"precision": precision, "mode": mode, "epoch_seconds": []}
    for epoch in range(args.epochs):
        start = time.perf_counter()
        order = torch.randperm(rows, device=device)
        loss_sum = torch.zeros((), device=device)
        for first in range(0, rows, batch):
            index = order[first:first + batch]
            torch.compiler.cudagraph_mark_step_begin()  # a new step for CUDA graphs; a no-op otherwise
            loss = forward_loss(train_x[index], train_y[index])
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            loss_sum += loss.detach()
        model.eval()
        with torch.no_grad():
            torch.compiler.cudagraph_mark_step_begin()
            logits = test_logits(test_x)
            figures = torch.stack([loss_sum.double() / batches,
                                   nn.functional.binary_cross_entropy_with_logits(logits, test_y).double(),
                                   roc_auc(logits, test_y)]).tolist()
        model.train()
        synchronize(device)
        row["epoch_seconds"].append(time.perf_counter() - start)
        row["train_loss"], row["test_loss"], row["test_auc"] = figures
        print(f"  {precision} {mode} epoch {epoch + 1}: {row['epoch_seconds'][-1]:.3f} s, train loss "
              f"{figures[0]:.5f}, test loss {figures[1]:.5f}, test AUC {figures[2]:.5f}", flush=True)
    later = row["epoch_seconds"][1:]
    row["first_epoch_s"] = row["epoch_seconds"][0]
    row["s_per_epoch"] = statistics.mean(later) if later else math.nan
    row["s_per_epoch_median"] = statistics.median(later) if later else math.nan
    row["warm_up_s"] = row["first_epoch_s"] - row["s_per_epoch"]  # compilation, capture, first calls
    return row


def load(args, device):
    features, labels, train_rows = read_table(args.table, args.test_rows)
    features, labels = features.to(device), labels.to(device)
    return {"features": features.shape[1], "train_x": features[:train_rows], "train_y": labels[:train_rows],
            "test_x": features[train_rows:], "test_y": labels[train_rows:]}


def names(text, allowed, flag):
    chosen = [n.strip() for n in text.split(",") if n.strip()]
    for n in chosen:
        if n not in allowed:
            raise SystemExit(f"{flag}: unknown '{n}'; choose among: {', '.join(allowed)}")
    return chosen


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("table", help="float32 .npy [rows, 1 + features], label in column 0")
    parser.add_argument("--precisions", default=",".join(PRECISIONS), help="comma-separated: " + ", ".join(PRECISIONS))
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated: " + ", ".join(MODES))
    parser.add_argument("--epochs", type=int, default=5, help="epochs per run; s/epoch is the mean after the first")
    parser.add_argument("--batch-size", type=int, default=16384)
    parser.add_argument("--test-rows", type=int, default=500000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    parser.add_argument("--json", help="write the results as one JSON object to this file")
    args = parser.parse_args()
    precisions = names(args.precisions, PRECISIONS, "--precisions")
    modes = names(args.modes, MODES, "--modes")
    if args.epochs < 1 or args.batch_size < 1:
        raise SystemExit("--epochs and --batch-size must be >= 1")
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device is visible to PyTorch; use --device cpu")
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"

    data = load(args, device)
    print(f"PyTorch {torch.__version__} on {device_name}: {args.table}, train {data['train_x'].shape[0]} rows, "
          f"test {data['test_x'].shape[0]} rows, {data['features']} features; batch {args.batch_size}, "
          f"{args.epochs} epochs, shuffled, evaluation at epoch ends", flush=True)
    if device.type != "cuda" and "reduce-overhead" in modes:
        print("note: no CUDA graphs on the CPU: reduce-overhead runs as compile there", flush=True)

    rows = []
    for precision in precisions:
        for mode in modes:
            print(f"{precision} {mode}:", flush=True)
            try:
                rows.append(run(precision, mode, data, args, device))
            except Exception as error:  # one failing combination must not lose the others' figures
                print(f"  failed: {type(error).__name__}: {error}", flush=True)
                rows.append({"precision": precision, "mode": mode, "error": f"{type(error).__name__}: {error}"})
            if device.type == "cuda":
                torch.cuda.empty_cache()

    print(f"\n{'precision':<10} {'mode':<16} {'s/epoch':>8} {'first epoch':>12} {'test AUC':>9} {'test loss':>10}")
    for r in rows:
        if "error" in r:
            print(f"{r['precision']:<10} {r['mode']:<16} failed: {r['error'][:80]}")
            continue
        print(f"{r['precision']:<10} {r['mode']:<16} {fmt(r['s_per_epoch'], '.4f'):>8} "
              f"{fmt(r['first_epoch_s'], '.3f'):>12} {fmt(r['test_auc'], '.5f'):>9} {fmt(r['test_loss'], '.5f'):>10}")
    print(f"s/epoch: mean of epochs 2-{args.epochs}, evaluation included; first epoch: with compilation and warm-up"
          if args.epochs > 1 else "s/epoch needs --epochs 2 or more (the first epoch holds the warm-up)")

    if args.json:
        def clean(v):
            return None if isinstance(v, float) and not math.isfinite(v) else v
        result = {"device": device_name, "torch": torch.__version__, "date": time.strftime("%Y-%m-%d", time.gmtime()),
                  "data": args.table, "train_rows": data["train_x"].shape[0], "test_rows": data["test_x"].shape[0],
                  "features": data["features"], "batch_size": args.batch_size, "epochs": args.epochs,
                  "shuffle": True, "evaluation": "test loss and exact ROC AUC on the device at each epoch end, "
                                                "inside the epoch time",
                  "s_per_epoch": "mean of the epochs after the first",
                  "runs": [{k: clean(v) for k, v in r.items()} for r in rows]}
        with open(args.json, "w") as out:
            json.dump(result, out, indent=1)
            out.write("\n")


if __name__ == "__main__":
    main()
