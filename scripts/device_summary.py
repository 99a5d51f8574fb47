#!/usr/bin/env python3
"""The figures of one scripts/device_check.sh run as Markdown tables, for docs/performance.md and the README.

    python3 scripts/device_summary.py DIR     # DIR: the check's $OUT (results.tar) or the folder of its JSON files

Reads every JSON file in DIR, and in the tar archives there (device_check.sh packs its outputs as $OUT/results.tar),
that build/train, bench_step or bench_gemm wrote (by its keys, whatever its name) and
prints, for each kind, one row per file: train runs (s/epoch, test metric, and how the step ran), bench_step's
epoch summary, and bench_gemm's step totals. Files it does not recognise are listed at the end. Python's standard
library only, so that it runs on the GPU machine or here on the fetched files."""
import json
import math
import os
import sys
import tarfile


def fmt(value, digits=4):
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def kind_of(doc):
    if not isinstance(doc, dict):
        return None
    if doc.get("tool") in ("bench_step", "bench_gemm"):
        return doc["tool"]
    if "s_per_epoch" in doc and "epochs" in doc:
        return "train"
    return None


def train_row(name, d):
    # The final test figures: train writes "test" {auc, accuracy, r2, ...} with null for a task's other metrics (and
    # "test_auc" null outside binary tasks).
    test = d.get("test") if isinstance(d.get("test"), dict) else {"auc": d.get("test_auc")}
    metric = next((m for m in ("auc", "accuracy", "r2") if test.get(m) is not None), None)
    how = [d.get("precision", "fp32"), f"gemm {d.get('gemm', 'cublas')}"]
    if d.get("fused_mlp"):
        how.append("fused MLP")
    if d.get("cuda_graphs"):
        how.append("graphs")
    if d.get("pad_hidden", 1) != 1:
        how.append(f"pad {d['pad_hidden']}")
    if d.get("overlap_weight_gradients"):
        how.append("overlap")
    how.append("shuffled" if d.get("shuffle") else "in order")
    return [name, d.get("device", "-"), d.get("date", "-"), ", ".join(how), fmt(len(d.get("epochs", []))),
            fmt(d.get("s_per_epoch")), f"{metric} {fmt(test[metric], 5)}" if metric else "-"]


def bench_step_row(name, d):
    s = d.get("summary", {})
    precision = d.get("precision", "-") + (" fused MLP" if d.get("fused_mlp") else "")
    return [name, d.get("device", "-"), precision, d.get("gemm", "cublas"),
            fmt(s.get("gemm_s_per_epoch")), fmt(s.get("step_s_per_epoch")), fmt(s.get("predicted_epoch_s"))]


def bench_gemm_row(name, d):
    step = d.get("step_ms", {})
    gains = []
    for g in d.get("gemms", []):
        cands = g.get("candidates", [])
        if cands and g.get("engine_ms"):
            best = min(cands, key=lambda c: c.get("ms") if isinstance(c.get("ms"), (int, float)) else math.inf)
            if not isinstance(best.get("ms"), (int, float)) or best["ms"] <= 0:
                continue
            gains.append(f"{g['name']} {g['engine_ms'] / best['ms']:.2f}x (split-k {best.get('split_k', 1)})")
    return [name, d.get("device", "-"), d.get("precision", "-"), fmt(step.get("engine")),
            fmt(step.get("heuristic_first")), fmt(step.get("best")), "; ".join(gains) or "-"]


TABLES = {
    "train": (["file", "device", "date", "how the step ran", "epochs", "s/epoch", "test metric"], train_row),
    "bench_step": (["file", "device", "precision", "GEMMs", "GEMM s/epoch", "step s/epoch", "predicted epoch s"],
                   bench_step_row),
    "bench_gemm": (["file", "device", "precision", "engine ms/step", "heuristic's first ms/step", "best ms/step",
                    "best/engine per GEMM"], bench_gemm_row),
}


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def json_documents(directory, unknown):
    """(name, parsed JSON) of each .json file in directory and each .json member of its .tar, .tar.gz and .tgz
    files; the unreadable ones are added to unknown."""
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if name.endswith(".json"):
            try:
                with open(path) as f:
                    yield name, json.load(f)
            except (OSError, ValueError) as e:
                unknown.append(f"{name} (unreadable: {e})")
        elif name.endswith((".tar", ".tar.gz", ".tgz")):
            try:
                with tarfile.open(path) as archive:
                    members = sorted((m for m in archive.getmembers() if m.isfile() and m.name.endswith(".json")),
                                     key=lambda m: m.name)
                    for m in members:
                        label = os.path.basename(m.name)
                        try:
                            yield label, json.load(archive.extractfile(m))
                        except (OSError, ValueError, tarfile.TarError) as e:
                            unknown.append(f"{name}:{label} (unreadable: {e})")
            except (OSError, tarfile.TarError) as e:
                unknown.append(f"{name} (unreadable: {e})")


def main(argv):
    if len(argv) != 2 or not os.path.isdir(argv[1]):
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        print("usage: device_summary.py DIR (a directory of the check's JSON files)", file=sys.stderr)
        return 2
    directory = argv[1]
    rows = {kind: [] for kind in TABLES}
    unknown = []
    for name, doc in json_documents(directory, unknown):
        kind = kind_of(doc)
        if kind is None:
            unknown.append(name)
            continue
        rows[kind].append(TABLES[kind][1](name, doc))
    for kind, (header, _) in TABLES.items():
        if rows[kind]:
            print(f"### {kind}\n\n{table(header, rows[kind])}\n")
    if unknown:
        print("not summarised: " + ", ".join(unknown))
    if not any(rows.values()):
        print(f"no train, bench_step or bench_gemm JSON in {directory}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
