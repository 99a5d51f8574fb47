#!/usr/bin/env python3
"""Data-parallel training over MPI on the CPU backend, checked against the single-process run.

  check_data_parallel.py equal TRAIN NP WORKDIR   N ranks (mpirun -np NP) train the same model as one process:
      every epoch's train loss, test loss, test AUC and validation loss, and every evaluation's figures, equal the
      single-process run's within a relative 1e-5 (not bit for bit: each rank sums its slice of the batch and the
      ranks' sums are added, a different order of the float sums than one process's; the evaluation's forward
      passes run on other chunk shapes); the ranks' final parameters have the same CRC-32C (bit-identical).
  check_data_parallel.py fused TRAIN NP WORKDIR   as `equal`, in bf16 with --fused-mlp (the fused kernels' emulation
      on the CPU): each rank's slice of a batch draws its dropout masks at its rows' global indices (first_row), so
      the N-rank run is the one-process run up to the order of the sums: the losses within a relative 2e-4 (bf16: a
      sum that moves by an ulp can round to the next bfloat16, and that grows over 3 epochs; measured 6e-6 on 3
      ranks), the test AUC within 2e-3 (a rank statistic: a few near-tied pairs swap; measured 2.2e-4), the ranks'
      parameters bit-identical. Masks drawn at rank-local indices differ by more (tried: 1.2e-3 in the
      epoch-3 train loss).
  check_data_parallel.py resume TRAIN NP WORKDIR  NP ranks train 2 epochs and save (rank 0 writes the checkpoint),
      then NP ranks resume to epoch 3: its figures equal the uninterrupted NP-rank run's bit for bit; NP+1 ranks
      resume the same checkpoint: within the relative 1e-5 (replicated mode resumes with any N).
  check_data_parallel.py shard TRAIN NP WORKDIR   NP ranks with --shard (each trains on its own 1/NP of the rows):
      the run learns (test AUC above 0.7; chance is 0.5) and the ranks' parameters are bit-identical; NP+1 ranks,
      which do not divide the batch of 500, are refused with a message naming both.
  check_data_parallel.py shardload TRAIN NP WORKDIR   NP ranks with --shard from a .npy (--export-npy of the
      synthetic data) and --test-rows: each rank's host table holds only its shard of the training rows, the
      validation rows and the test rows (its "rank r: host table" line on stderr); the same with --nan-policy drop
      (which a .npy cannot read in part: loaded whole, then cut; the data has no NaN, so the table is the same)
      gives the same figures and parameters, bit for bit. The same rows as CSV text: parsed whole by every rank and
      cut the first time, read in part from the table cache the next: the same parameters. Then the automatic
      --shard: with FASTTAB_CPU_MEMORY_LIMIT between the sharded and the replicated run's needs, NP ranks without
      --shard switch to it (a note from rank 0); they load every row (the switch comes after loading), and their
      figures and parameters equal the partial load's bit for bit. One process with that limit is refused.
  check_data_parallel.py fail TRAIN NP WORKDIR    rank 1 is given a missing --data file: the job exits non-zero
      within 120 s and prints "rank 1: error: ..." naming the file, while rank 0 waits in a collective.

Exits 77 (reported as skipped) when mpirun is not installed.
"""
import array
import json
import os
import re
import shutil
import struct
import subprocess
import sys

TOLERANCE = 1e-5
ARGS = ["--device", "cpu", "--rows", "7000", "--test-rows", "600", "--val-rows", "500", "--epochs", "3",
        "--batch-size", "500", "--hidden", "32,32", "--dropout", "0.2", "--shuffle", "--eval-every", "4"]


def mpirun(np_, command, timeout):
    launcher = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", str(np_)]
    return subprocess.run(launcher + command, capture_output=True, text=True, timeout=timeout)


def close(a, b, tolerance=TOLERANCE):
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= tolerance * max(abs(a), abs(b), 1e-12)


def check_equal(train, np_, workdir, extra=(), tolerance=TOLERANCE, auc_tolerance=TOLERANCE):
    args = ARGS + list(extra)
    single = subprocess.run([train] + args + ["--json", "single.json"], capture_output=True, text=True, timeout=300)
    if single.returncode != 0:
        sys.exit(f"the single-process run failed:\n{single.stdout}{single.stderr}")
    parallel = mpirun(np_, [train] + args + ["--json", f"ranks{np_}.json"], timeout=300)
    output = parallel.stdout + parallel.stderr
    if parallel.returncode != 0:
        sys.exit(f"the {np_}-rank run failed:\n{output}")
    a = json.load(open("single.json"))
    b = json.load(open(f"ranks{np_}.json"))
    failures = []
    if len(a["epochs"]) != len(b["epochs"]) or len(a["evals"]) != len(b["evals"]):
        failures.append("different numbers of epochs or evaluations")
    for ea, eb in zip(a["epochs"], b["epochs"]):
        for key in ("train_loss", "test_loss", "test_auc"):
            if not close(ea[key], eb[key], auc_tolerance if key == "test_auc" else tolerance):
                failures.append(f"epoch {ea['epoch']} {key}: {ea[key]!r} (1 process) vs {eb[key]!r} ({np_} ranks)")
        if not close(ea["validation"]["loss"], eb["validation"]["loss"], tolerance):
            failures.append(f"epoch {ea['epoch']} validation loss differs")
    for pa, pb in zip(a["evals"], b["evals"]):
        if pa["step"] != pb["step"] or not close(pa["train_loss"], pb["train_loss"], tolerance) or \
                not close(pa["test"]["loss"], pb["test"]["loss"], tolerance):
            failures.append(f"evaluation at step {pa['step']}: {pa} vs {pb}")
    crcs = dict(re.findall(r"rank (\d+): parameters crc32c ([0-9a-f]{8})", output))
    if sorted(crcs) != [str(r) for r in range(np_)]:
        failures.append(f"expected a parameters line from each of the {np_} ranks, got {crcs}")
    elif len(set(crcs.values())) != 1:
        failures.append(f"the ranks' parameters differ: {crcs}")
    if "summary:" not in parallel.stdout or parallel.stdout.count("summary:") != 1:
        failures.append("expected exactly one summary line (rank 0 prints, the others do not)")
    for e in b["epochs"]:
        print(f"epoch {e['epoch']}: train loss {e['train_loss']:.7f}, test loss {e['test_loss']:.7f}, "
              f"test AUC {e['test_auc']:.7f} ({np_} ranks)")
    print(f"parameters crc32c on every rank: {sorted(set(crcs.values()))}")
    if failures:
        sys.exit("\n".join(failures) + "\n" + output)


def check_fused(train, np_, workdir):
    check_equal(train, np_, workdir, extra=("--precision", "bf16", "--fused-mlp"), tolerance=2e-4, auc_tolerance=2e-3)


def with_epochs(epochs, extra):
    args = list(ARGS)
    args[args.index("--epochs") + 1] = str(epochs)
    return args + extra


def run_ok(np_, command, what):
    run = mpirun(np_, command, timeout=300)
    if run.returncode != 0:
        sys.exit(f"{what} failed:\n{run.stdout}{run.stderr}")
    return run


def check_resume(train, np_, workdir):
    for f in ("run.ckpt", "run_n1.ckpt"):
        if os.path.exists(f):
            os.remove(f)
    run_ok(np_, [train] + with_epochs(3, ["--json", "full.json"]), "the uninterrupted run")
    run_ok(np_, [train] + with_epochs(2, ["--save", "run.ckpt"]), "the first 2 epochs")
    shutil.copyfile("run.ckpt", "run_n1.ckpt")
    run_ok(np_, [train] + with_epochs(3, ["--resume", "run.ckpt", "--save", "run.ckpt", "--json", "resumed.json"]),
           "the resumed run")
    run_ok(np_ + 1, [train] + with_epochs(3, ["--resume", "run_n1.ckpt", "--json", "resumed_n1.json"]),
           f"the run resumed on {np_ + 1} ranks")
    full = json.load(open("full.json"))["epochs"][2]
    same_n = json.load(open("resumed.json"))["epochs"][2]
    other_n = json.load(open("resumed_n1.json"))["epochs"][2]
    failures = []
    for key in ("train_loss", "test_loss", "test_auc"):
        if full[key] != same_n[key]:
            failures.append(f"epoch 3 {key} resumed on {np_} ranks: {same_n[key]!r}, uninterrupted: {full[key]!r}")
        if not close(full[key], other_n[key]):
            failures.append(f"epoch 3 {key} resumed on {np_ + 1} ranks: {other_n[key]!r}, uninterrupted: {full[key]!r}")
    print(f"epoch 3 train loss: uninterrupted {full['train_loss']!r}, resumed on {np_} ranks {same_n['train_loss']!r}, "
          f"on {np_ + 1} ranks {other_n['train_loss']!r}")
    if failures:
        sys.exit("\n".join(failures))


def check_shard(train, np_, workdir):
    run = run_ok(np_, [train] + ARGS + ["--shard", "--json", "shard.json"], "the sharded run")
    output = run.stdout + run.stderr
    auc = json.load(open("shard.json"))["epochs"][-1]["test_auc"]
    crcs = dict(re.findall(r"rank (\d+): parameters crc32c ([0-9a-f]{8})", output))
    failures = []
    if not auc > 0.7:
        failures.append(f"the sharded run's test AUC is {auc}, not above 0.7")
    if sorted(crcs) != [str(r) for r in range(np_)] or len(set(crcs.values())) != 1:
        failures.append(f"the ranks' parameters differ or are missing: {crcs}")
    refused = mpirun(np_ + 1, [train] + ARGS + ["--shard"], timeout=120)
    message = f"--batch-size 500 is not divisible by the {np_ + 1} ranks"
    if refused.returncode == 0 or message not in refused.stdout + refused.stderr:
        failures.append(f"{np_ + 1} ranks with --shard and a batch of 500 were not refused with '{message}':\n"
                        + refused.stdout + refused.stderr)
    graphs = mpirun(np_, [train] + ARGS + ["--cuda-graphs"], timeout=120)
    message = "--cuda-graphs captures the step of one process"
    if graphs.returncode == 0 or message not in graphs.stdout + graphs.stderr:
        failures.append(f"{np_} ranks with --cuda-graphs were not refused with '{message}':\n"
                        + graphs.stdout + graphs.stderr)
    print(f"sharded on {np_} ranks: test AUC {auc:.5f}, parameters crc32c {sorted(set(crcs.values()))}")
    if failures:
        sys.exit("\n".join(failures) + "\n" + output)


NPY_ARGS = ["--device", "cpu", "--data", "data.npy", "--label-col", "0", "--test-rows", "600", "--val-rows", "500",
            "--epochs", "3", "--batch-size", "500", "--hidden", "32,32", "--dropout", "0.2", "--shuffle",
            "--eval-every", "4"]
HOST_TABLE = re.compile(r"rank (\d+): host table (\d+) rows \((\d+) training and validation, (\d+) test\), (\d+) bytes"
                        r"(, its shard only)?")


def host_tables(output):
    return {int(m[0]): (int(m[1]), int(m[4]), bool(m[5])) for m in HOST_TABLE.findall(output)}


def needed_bytes(output):
    found = re.search(r"need (\d+) bytes of cpu memory", output)
    return int(found.group(1)) if found else None


def write_csv_of_npy(npy, csv):
    """The float32 .npy that --export-npy writes (format 1.0), as CSV text with no header."""
    data = open(npy, "rb").read()
    offset = 10 + struct.unpack("<H", data[8:10])[0]
    shape = re.search(r"'shape': \((\d+), (\d+)\)", data[10:offset].decode()).groups()
    rows, cols = int(shape[0]), int(shape[1])
    values = array.array("f")
    values.frombytes(data[offset:offset + 4 * rows * cols])
    with open(csv, "w") as out:
        for r in range(rows):
            out.write(",".join("%.9g" % v for v in values[r * cols:(r + 1) * cols]) + "\n")


def check_shardload(train, np_, workdir):
    export = subprocess.run([train, "--device", "cpu", "--rows", "7000", "--epochs", "1", "--hidden", "4", "--batch-size", "500",
                             "--export-npy", "data.npy"], capture_output=True, text=True, timeout=300)
    if export.returncode != 0:
        sys.exit(f"--export-npy failed:\n{export.stdout}{export.stderr}")
    rows, test_rows, val_rows = 7000, 600, 500
    shard = (rows - test_rows - val_rows) // np_
    part = run_ok(np_, [train] + NPY_ARGS + ["--shard", "--json", "part.json"], "the sharded run reading its rows")
    whole = run_ok(np_, [train] + NPY_ARGS + ["--shard", "--nan-policy", "drop", "--json", "whole.json"],
                   "the sharded run reading every row")
    failures = []
    crc = lambda out: dict(re.findall(r"rank (\d+): parameters crc32c ([0-9a-f]{8})", out))
    part_tables, whole_tables = host_tables(part.stderr), host_tables(whole.stderr)
    for r in range(np_):
        if part_tables.get(r, (None,))[0] != shard + val_rows + test_rows or not part_tables[r][2]:
            failures.append(f"rank {r} of the partial load holds {part_tables.get(r)}, not its {shard} shard rows "
                            f"+ {val_rows} validation + {test_rows} test rows")
        if whole_tables.get(r) != part_tables.get(r):
            failures.append(f"rank {r} of the load cut after reading holds {whole_tables.get(r)}, the partial load "
                            f"{part_tables.get(r)}")
    a, b = json.load(open("part.json")), json.load(open("whole.json"))
    for key in ("epochs", "evals", "test", "train_rows", "test_rows", "val_rows"):
        sa = json.dumps(a[key], sort_keys=True, default=str)
        sb = json.dumps(b[key], sort_keys=True, default=str)
        if key == "epochs":  # seconds and samples/s differ between runs
            strip = lambda es: [{k: v for k, v in e.items() if k not in ("seconds", "samples_per_s")} for e in es]
            sa, sb = json.dumps(strip(a[key]), sort_keys=True), json.dumps(strip(b[key]), sort_keys=True)
        if key == "evals":
            strip = lambda ps: [{k: v for k, v in p.items() if k != "seconds"} for p in ps]
            sa, sb = json.dumps(strip(a[key]), sort_keys=True), json.dumps(strip(b[key]), sort_keys=True)
        if sa != sb:
            failures.append(f"{key} differs between the partial and the whole load:\n{sa}\n{sb}")
    if len(set(crc(part.stderr).values()) | set(crc(whole.stderr).values())) != 1:
        failures.append(f"parameters differ: partial {crc(part.stderr)}, whole {crc(whole.stderr)}")
    # CSV text: the first run parses the whole file (and writes the table cache); the next reads only its rows from
    # the cache. Both give the .npy runs' parameters (the CSV holds the .npy's floats, %.9g round trips float32).
    write_csv_of_npy("data.npy", "data.csv")
    for name in os.listdir("."):
        if name.startswith("data.csv.") and name.endswith(".ftcache"):
            os.remove(name)
    csv_args = [a if a != "data.npy" else "data.csv" for a in NPY_ARGS] + ["--shard"]
    for attempt, source in (("parsed", "(csv)"), ("cached", "(cache, from the cache)")):
        run = run_ok(np_, [train] + csv_args, f"the sharded run from CSV ({attempt})")
        tables = host_tables(run.stderr)
        if tables != part_tables or source not in run.stdout:
            failures.append(f"the sharded run from CSV ({attempt}): host tables {tables}, expected {part_tables}, "
                            f"read from {source}:\n{run.stdout}")
        if set(crc(run.stderr).values()) != set(crc(part.stderr).values()):
            failures.append(f"the sharded run from CSV ({attempt}): parameters {crc(run.stderr)}, .npy run "
                            f"{crc(part.stderr)}")
    print(f"partial load: rank host tables {part_tables} (rows, bytes, shard only); loaded whole and cut: "
          f"{whole_tables}")
    print(f"final test AUC {a['test_auc']!r} (partial) vs {b['test_auc']!r} (loaded whole and cut), parameters "
          f"{crc(part.stderr)}")

    # The automatic --shard: the limit halfway between what the replicated and the sharded runs need.
    env = dict(os.environ, FASTTAB_CPU_MEMORY_LIMIT="1")
    replicated = subprocess.run([train] + NPY_ARGS, capture_output=True, text=True, timeout=120, env=env)
    sharded = subprocess.run(["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", str(np_),
                              "-x", "FASTTAB_CPU_MEMORY_LIMIT", train] + NPY_ARGS + ["--shard"],
                             capture_output=True, text=True, timeout=120, env=env)
    need_replicated, need_sharded = needed_bytes(replicated.stderr), needed_bytes(sharded.stdout + sharded.stderr)
    if need_replicated is None or need_sharded is None or not need_sharded < need_replicated:
        sys.exit("\n".join(failures) + f"\ncould not read the memory needed (replicated {need_replicated}, sharded "
                 f"{need_sharded}):\n{replicated.stderr}\n{sharded.stdout}{sharded.stderr}")
    env["FASTTAB_CPU_MEMORY_LIMIT"] = str((need_replicated + need_sharded) // 2)
    auto = subprocess.run(["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", str(np_),
                           "-x", "FASTTAB_CPU_MEMORY_LIMIT", train] + NPY_ARGS + ["--json", "auto.json"],
                          capture_output=True, text=True, timeout=300, env=env)
    if auto.returncode != 0:
        failures.append(f"the run that should switch to --shard failed:\n{auto.stdout}{auto.stderr}")
    elif "training sharded instead" not in auto.stdout or auto.stdout.count("note: the replicated run needs") != 1:
        failures.append(f"no single note of the switch to --shard:\n{auto.stdout}")
    else:
        c = json.load(open("auto.json"))
        strip = lambda es: [{k: v for k, v in e.items() if k not in ("seconds", "samples_per_s")} for e in es]
        if strip(c["epochs"]) != strip(a["epochs"]):
            failures.append("the automatic --shard run's epochs differ from the --shard run's")
        if crc(auto.stderr) != crc(part.stderr):
            failures.append(f"automatic --shard parameters {crc(auto.stderr)} vs --shard {crc(part.stderr)}")
        # The .npy's size is known before reading it: the switch is decided before the load, which is partial.
        auto_tables = host_tables(auto.stderr)
        if auto_tables != part_tables:
            failures.append(f"the automatic --shard run's ranks hold {auto_tables}, not only their shards as the "
                            f"--shard run's {part_tables}")
    single = subprocess.run([train] + NPY_ARGS, capture_output=True, text=True, timeout=120, env=env)
    if single.returncode == 0 or "are available" not in single.stderr:
        failures.append(f"one process with FASTTAB_CPU_MEMORY_LIMIT={env['FASTTAB_CPU_MEMORY_LIMIT']} was not "
                        f"refused:\n{single.stdout}{single.stderr}")
    print(f"memory needed: replicated {need_replicated} bytes, sharded {need_sharded}; with a limit of "
          f"{env['FASTTAB_CPU_MEMORY_LIMIT']} the {np_}-rank run switched to --shard")
    if failures:
        sys.exit("\n".join(failures))


def check_fail(train, np_, workdir):
    script = ('if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then exec "$0" --device cpu --data no-such-file.csv; '
              'else exec "$0" "$@"; fi')
    try:
        run = mpirun(np_, ["sh", "-c", script, train] + ARGS, timeout=120)
    except subprocess.TimeoutExpired:
        sys.exit("the job with a failing rank did not end within 120 s")
    output = run.stdout + run.stderr
    if run.returncode == 0:
        sys.exit("the job with a failing rank exited 0:\n" + output)
    if not re.search(r"rank 1: error: .*no-such-file\.csv", output):
        sys.exit("the failing rank's message is missing:\n" + output)
    print(f"exit {run.returncode}; " + re.search(r"rank 1: error: [^\n]*", output).group(0))


def main():
    mode, train, np_, workdir = sys.argv[1], os.path.abspath(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    if shutil.which("mpirun") is None:
        print("FASTTAB_TEST_SKIPPED: mpirun is not installed (scripts/setup.sh installs openmpi-bin)")
        sys.exit(77)
    os.makedirs(workdir, exist_ok=True)
    os.chdir(workdir)
    {"equal": check_equal, "fused": check_fused, "resume": check_resume, "shard": check_shard, "shardload": check_shardload,
     "fail": check_fail}[mode](train, np_, workdir)


if __name__ == "__main__":
    main()
