#!/usr/bin/env python3
"""The seed article's PyTorch benchmark on a table fasttab exported, for comparison with build/compare_loaders.

The table: a float32 .npy of shape [rows, 1 + features], the label in column 0, as `train --export-npy PATH` or
`compare_loaders --export-npy PATH` writes it; the last --test-rows rows are the test set.

The model and loop are the seed's (hcarlens/pytorch-tabular, higgs_benchmark.py): Linear(F,300) Tanh Dropout(0.5),
three times Linear(300,300) Tanh, Linear(300,1) Sigmoid; BCELoss (mean); Adam (lr 1e-3); batch 16384; every
--eval-every steps the train-batch loss and ROC AUC, then the test set's loss and ROC AUC (scikit-learn, on the
CPU). Every loader starts from the same initial weights (torch.manual_seed(--seed) before building the model).

Loaders (rows named as in compare_loaders' table, prefixed "pytorch-"):
  dataloader  torch.utils.data.DataLoader over a TensorDataset in host memory: one __getitem__ per sample, then
              collated; each batch copied to the GPU with .cuda() from pageable memory (the seed's "standard").
  fast        FastTensorDataLoader: whole-batch slices of the host tensors (the table permuted in place each
              epoch when shuffling), .cuda() per batch (the seed's "custom").
  resident    the tensors on the GPU; a torch.randperm on the GPU each epoch when shuffling, index per batch.

A loader whose first epoch overruns --time-budget is timed over the batches done by then and scaled to a whole
epoch (marked "*", "extrapolated": true). "loader s/epoch" iterates the loader alone (batches moved to the
GPU, no training), under the same budget.

Usage:  pytorch_loaders.py TABLE.npy [--epochs N] [--time-budget S] [--loaders dataloader,fast,resident]
                           [--test-rows N] [--batch-size N] [--shuffle] [--json PATH]
Needs:  torch (with CUDA), numpy, scikit-learn.
"""
import argparse
import json
import math
import time

import numpy as np
import torch
import torch.nn as nn
from sklearn.metrics import roc_auc_score
from torch.utils.data import DataLoader, TensorDataset

LOADERS = ("dataloader", "fast", "resident")


class SliceLoader:
    """Whole-batch slices of tensors (the FastTensorDataLoader pattern); shuffling permutes the tensors per epoch."""

    def __init__(self, *tensors, batch_size, shuffle):
        self.tensors = list(tensors)
        self.rows = tensors[0].shape[0]
        self.batch_size = batch_size
        self.shuffle = shuffle

    def __iter__(self):
        if self.shuffle:
            order = torch.randperm(self.rows, device=self.tensors[0].device)
            self.tensors = [t[order] for t in self.tensors]
        for first in range(0, self.rows, self.batch_size):
            yield tuple(t[first:first + self.batch_size] for t in self.tensors)

    def __len__(self):
        return (self.rows + self.batch_size - 1) // self.batch_size


def make_model(features, seed, device):
    torch.manual_seed(seed)
    hidden = 300
    return nn.Sequential(
        nn.Linear(features, hidden), nn.Tanh(), nn.Dropout(p=0.5),
        nn.Linear(hidden, hidden), nn.Tanh(),
        nn.Linear(hidden, hidden), nn.Tanh(),
        nn.Linear(hidden, hidden), nn.Tanh(),
        nn.Linear(hidden, 1), nn.Sigmoid()).to(device)


def make_loader(name, data, args):
    train_x, train_y = data["train_x"], data["train_y"]
    if name == "dataloader":
        return DataLoader(TensorDataset(train_x, train_y), batch_size=args.batch_size, shuffle=args.shuffle)
    if name == "fast":
        return SliceLoader(train_x, train_y, batch_size=args.batch_size, shuffle=args.shuffle)
    return SliceLoader(data["train_x_gpu"], data["train_y_gpu"], batch_size=args.batch_size, shuffle=args.shuffle)


def to_device(batch, device):
    x, y = batch
    return x.to(device), y.to(device)  # a no-op for the resident tensors; .cuda() from pageable memory otherwise


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_loader_alone(name, data, args, device):
    """The loader iterated with no training: (s/epoch, extrapolated)."""
    loader = make_loader(name, data, args)
    batches = len(loader)
    epochs_done, batches_done, extrapolated = 0, 0, False
    start = time.perf_counter()
    for epoch in range(args.epochs):
        if epochs_done > 0 and args.time_budget > 0 and time.perf_counter() - start > args.time_budget:
            break
        done = 0
        for batch in loader:
            to_device(batch, device)
            done += 1
            if epoch == 0 and done < batches and args.time_budget > 0 and time.perf_counter() - start > args.time_budget:
                extrapolated = True
                break
        batches_done += done
        if extrapolated:
            break
        epochs_done += 1
    synchronize(device)
    seconds = time.perf_counter() - start
    return (seconds / batches_done * batches if extrapolated else seconds / epochs_done), extrapolated


def evaluate(model, x, y, loss_fn):
    model.eval()
    with torch.no_grad():
        predictions = model(x).squeeze(1)
        loss = loss_fn(predictions, y).item()
    model.train()
    return loss, roc_auc_score(y.cpu().numpy(), predictions.cpu().numpy())


def train(name, data, args, device):
    """The seed's loop; returns a result row (dict)."""
    loader = make_loader(name, data, args)
    batches = len(loader)
    model = make_model(data["features"], args.seed, device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.BCELoss(reduction="mean")
    test_x, test_y = data["test_x_gpu"], data["test_y_gpu"]
    row = {"name": "pytorch-" + name, "extrapolated": False, "evals": [], "epochs_run": 0}
    epoch_seconds, step, train_loss, test_auc = [], 0, math.nan, math.nan
    start = time.perf_counter()
    for epoch in range(args.epochs):
        epoch_start = time.perf_counter()
        loss_sum = torch.zeros((), device=device)
        done = 0
        for batch in loader:
            x, y = to_device(batch, device)
            predictions = model(x).squeeze(1)
            optimizer.zero_grad()
            loss = loss_fn(predictions, y)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach()
            step += 1
            done += 1
            if args.eval_every > 0 and step % args.eval_every == 0:
                batch_auc = roc_auc_score(y.cpu().numpy(), predictions.detach().cpu().numpy())
                test_loss, test_auc = evaluate(model, test_x, test_y, loss_fn)
                row["evals"].append({"step": step, "seconds": time.perf_counter() - start, "train_loss": loss.item(),
                                     "train_batch_auc": batch_auc, "test": {"loss": test_loss, "auc": test_auc}})
            if (epoch == 0 and done < batches and args.time_budget > 0
                    and time.perf_counter() - epoch_start > args.time_budget):
                synchronize(device)
                row["s_per_epoch"] = (time.perf_counter() - epoch_start) / done * batches
                row["extrapolated"] = True
                row["batches_timed"] = done
                break
        if row["extrapolated"]:
            break
        train_loss = loss_sum.item() / batches
        test_loss, test_auc = evaluate(model, test_x, test_y, loss_fn)
        synchronize(device)
        epoch_seconds.append(time.perf_counter() - epoch_start)
        row["evals"].append({"step": step, "seconds": time.perf_counter() - start, "train_loss": train_loss,
                             "test": {"loss": test_loss, "auc": test_auc}})
        print(f"  {name} epoch {epoch + 1}: {epoch_seconds[-1]:.3f} s, train loss {train_loss:.5f}, "
              f"test AUC {test_auc:.5f}", flush=True)
        if args.time_budget > 0 and sum(epoch_seconds) > args.time_budget and epoch + 1 < args.epochs:
            break
    row["epochs_run"] = len(epoch_seconds)
    if not row["extrapolated"]:
        row["s_per_epoch"] = sum(epoch_seconds) / len(epoch_seconds)
        row["batches_timed"] = len(epoch_seconds) * batches
    row["train_loss"] = train_loss if epoch_seconds else math.nan
    row["test_auc"] = test_auc if epoch_seconds else math.nan
    return row


def read_table(path, test_rows):
    """(features, labels, train_rows) of a table fasttab exported: contiguous float32 CPU tensors, as the seed's
    torch.from_numpy(pandas .values); exits with the reason for a table of another shape or type."""
    table = np.load(path, mmap_mode="r")
    if table.dtype != np.float32 or table.ndim != 2 or table.shape[1] < 2:
        raise SystemExit(f"{path}: expected a float32 array [rows, 1 + features], got {table.dtype} {table.shape}")
    rows = table.shape[0]
    if not 0 < test_rows < rows:
        raise SystemExit(f"--test-rows {test_rows} must be in [1, {rows - 1}] for a table of {rows} rows")
    features = torch.from_numpy(np.ascontiguousarray(table[:, 1:]))
    labels = torch.from_numpy(np.ascontiguousarray(table[:, 0]))
    return features, labels, rows - test_rows


def load(args, device):
    features, labels, train_rows = read_table(args.table, args.test_rows)
    data = {"features": features.shape[1], "train_rows": train_rows, "test_rows": args.test_rows,
            "train_x": features[:train_rows], "train_y": labels[:train_rows],
            "test_x_gpu": features[train_rows:].to(device), "test_y_gpu": labels[train_rows:].to(device)}
    if "resident" in args.loaders:
        data["train_x_gpu"] = data["train_x"].to(device)
        data["train_y_gpu"] = data["train_y"].to(device)
    return data


def fmt(value, spec):
    return "-" if value is None or not math.isfinite(value) else format(value, spec)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("table", help="float32 .npy [rows, 1 + features], label in column 0")
    parser.add_argument("--loaders", default=",".join(LOADERS), help="comma-separated: " + ", ".join(LOADERS))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=16384)
    parser.add_argument("--test-rows", type=int, default=500000)
    parser.add_argument("--eval-every", type=int, default=100, help="steps between evaluations (0: epoch ends only)")
    parser.add_argument("--time-budget", type=float, default=60.0,
                        help="seconds per loader and phase; a slower first epoch is timed over a prefix and scaled "
                             "(0: no limit)")
    parser.add_argument("--shuffle", action="store_true", help="shuffle every epoch (the seed did not)")
    parser.add_argument("--precision", choices=("fp32", "tf32"), default="fp32", help="float32 matmul arithmetic")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    parser.add_argument("--json", help="write the results as one JSON object to this file")
    args = parser.parse_args()
    args.loaders = [n.strip() for n in args.loaders.split(",") if n.strip()]
    for n in args.loaders:
        if n not in LOADERS:
            raise SystemExit(f"--loaders: unknown loader '{n}'; the loaders are: {', '.join(LOADERS)}")
    if args.epochs < 1 or args.batch_size < 1:
        raise SystemExit("--epochs and --batch-size must be >= 1")
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device is visible to PyTorch; use --device cpu")
    torch.backends.cuda.matmul.allow_tf32 = args.precision == "tf32"
    torch.backends.cudnn.allow_tf32 = args.precision == "tf32"
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"

    data = load(args, device)
    print(f"PyTorch {torch.__version__} on {device_name}: {args.table}, train {data['train_rows']} rows, "
          f"test {data['test_rows']} rows, {data['features']} features; batch {args.batch_size}, {args.epochs} "
          f"epochs{', shuffled' if args.shuffle else ''}; time budget {args.time_budget:g} s", flush=True)

    rows = []
    for name in args.loaders:
        print(f"{name}: loader alone...", flush=True)
        loader_s, loader_extrapolated = time_loader_alone(name, data, args, device)
        print(f"{name}: training...", flush=True)
        row = train(name, data, args, device)
        row["loader_s_per_epoch"] = loader_s
        row["loader_extrapolated"] = loader_extrapolated
        row["samples_per_s"] = data["train_rows"] / row["s_per_epoch"]
        rows.append(row)
    standard = next((r for r in rows if r["name"] == "pytorch-dataloader"), None)
    for r in rows:
        r["speedup"] = standard["s_per_epoch"] / r["s_per_epoch"] if standard else math.nan

    print(f"\n{'loader':<18} {'s/epoch':>11} {'samples/s':>13} {'loader s/epoch':>15} {'speedup':>9} {'epochs':>7} "
          f"{'train loss':>11} {'test AUC':>9}")
    for r in rows:
        print(f"{r['name']:<18} {fmt(r['s_per_epoch'], '.4f'):>10}{'*' if r['extrapolated'] else ' '} "
              f"{fmt(r['samples_per_s'], '.0f'):>13} {fmt(r['loader_s_per_epoch'], '.5f'):>14}"
              f"{'*' if r['loader_extrapolated'] else ' '} {fmt(r['speedup'], '.1f') + ('x' if math.isfinite(r['speedup']) else ''):>9} "
              f"{str(r['epochs_run']) + '/' + str(args.epochs):>7} {fmt(r['train_loss'], '.5f'):>11} "
              f"{fmt(r['test_auc'], '.5f'):>9}")
    if any(r["extrapolated"] or r["loader_extrapolated"] for r in rows):
        print(f"* timed over a prefix of the first epoch and scaled to a whole epoch (--time-budget {args.time_budget:g} s)")
    for r in rows:
        if r["name"] == "pytorch-dataloader":
            print(f"Standard dataloader: {r['s_per_epoch']:.2f} s/epoch.")
    for r in rows:
        if r["name"] == "pytorch-fast":
            print(f"Custom dataloader: {r['s_per_epoch']:.2f} s/epoch.")

    if args.json:
        def clean(v):
            return None if isinstance(v, float) and not math.isfinite(v) else v
        result = {"device": device_name, "framework": f"pytorch {torch.__version__}", "data": args.table,
                  "train_rows": data["train_rows"], "test_rows": data["test_rows"], "batch_size": args.batch_size,
                  "epochs": args.epochs, "shuffle": args.shuffle, "precision": args.precision,
                  "time_budget_s": args.time_budget, "date": time.strftime("%Y-%m-%d", time.gmtime()),
                  "loaders": [{k: clean(v) for k, v in r.items()} for r in rows]}
        with open(args.json, "w") as out:
            json.dump(result, out, indent=1)
            out.write("\n")


if __name__ == "__main__":
    main()
