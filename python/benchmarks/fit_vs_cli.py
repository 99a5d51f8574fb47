"""fit() on a NumPy array against build/train on the same table and settings (docs/python.md, "Cost").

    python python/benchmarks/fit_vs_cli.py [--build build] [--rows 80000] [--epochs 10] [--repeats 2] [--device cpu]

Writes the CLI's synthetic table with --export-npy, then alternates: build/train --data T.npy (the CLI's
defaults otherwise, --test-rows as its default 10%) and MLPClassifier().fit(X_train, y_train,
eval_set=(X_test, y_test)) with the same defaults. Prints s/epoch (the engine's epoch clock, as the CLI
reports it) and wall-clock seconds per epoch of the whole call (fit(), or the CLI process minus its data
load), and CPU seconds (user + system) per epoch of the whole call (less sensitive than wall-clock time to other
work on a shared machine), with the ratios Python / CLI."""

import argparse
import json
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

import fasttab


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", default="build")
    p.add_argument("--rows", type=int, default=80_000)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--device", default="cpu")
    a = p.parse_args()
    train = pathlib.Path(a.build) / "train"
    with tempfile.TemporaryDirectory() as tmp:
        npy = os.path.join(tmp, "table.npy")
        subprocess.run([str(train), "--device", a.device, "--rows", str(a.rows), "--epochs", "1", "--export-npy", npy],
                       check=True, capture_output=True)
        table = np.load(npy)
        X, y = table[:, 1:], table[:, 0]
        test_rows = a.rows // 10
        X_train, y_train, X_test, y_test = X[:-test_rows], y[:-test_rows], X[-test_rows:], y[-test_rows:]
        cli_epoch, cli_wall, py_epoch, py_wall, cli_cpu, py_cpu = [], [], [], [], [], []

        def cpu(who):
            u = resource.getrusage(who)
            return u.ru_utime + u.ru_stime

        for r in range(a.repeats):
            out = os.path.join(tmp, "run.json")
            start, cpu0 = time.perf_counter(), cpu(resource.RUSAGE_CHILDREN)
            proc = subprocess.run([str(train), "--device", a.device, "--data", npy, "--label-col", "0", "--no-cache",
                                   "--test-rows", str(test_rows), "--epochs", str(a.epochs), "--json", out],
                                  check=True, capture_output=True, text=True)
            wall = time.perf_counter() - start
            cli_cpu.append((cpu(resource.RUSAGE_CHILDREN) - cpu0) / a.epochs)
            j = json.load(open(out))
            load_s = float(proc.stdout.split(" in ")[1].split(" s")[0]) if " in " in proc.stdout else 0.0
            cli_epoch.append(j["s_per_epoch"])
            cli_wall.append((wall - load_s) / a.epochs)
            est = fasttab.MLPClassifier(epochs=a.epochs, device=a.device)
            start, cpu0 = time.perf_counter(), cpu(resource.RUSAGE_SELF)
            est.fit(X_train, y_train, eval_set=(X_test, y_test))
            wall = time.perf_counter() - start
            py_cpu.append((cpu(resource.RUSAGE_SELF) - cpu0) / a.epochs)
            py_epoch.append(statistics.mean(h["seconds"] for h in est.history_))
            py_wall.append(wall / a.epochs)
            print(f"repeat {r + 1}: CLI {cli_epoch[-1]:.3f} s/epoch ({cli_wall[-1]:.3f} wall), "
                  f"fit {py_epoch[-1]:.3f} s/epoch ({py_wall[-1]:.3f} wall); CPU s/epoch CLI {cli_cpu[-1]:.3f} "
                  f"fit {py_cpu[-1]:.3f}; test AUC CLI {j['test_auc']:.5f} "
                  f"fit {est.history_[-1]['test_auc']:.5f}", flush=True)
        c, f = statistics.median(cli_epoch), statistics.median(py_epoch)
        cw, fw = statistics.median(cli_wall), statistics.median(py_wall)
        cc, fc = statistics.median(cli_cpu), statistics.median(py_cpu)
        print(f"median over {a.repeats}: CLI {c:.3f} s/epoch, fit {f:.3f} s/epoch (ratio {f / c:.3f}); wall per "
              f"epoch CLI {cw:.3f} s, fit {fw:.3f} s (ratio {fw / cw:.3f}); CPU s/epoch CLI {cc:.3f}, fit {fc:.3f} "
              f"(ratio {fc / cc:.3f}); {est.backend_} backend, "
              f"{a.rows} rows, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")


if __name__ == "__main__":
    sys.exit(main())
