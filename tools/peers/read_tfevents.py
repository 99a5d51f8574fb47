#!/usr/bin/env python3
"""Reads a fasttab TensorBoard event file with TensorBoard's own loader and prints its scalars.

A peer check of fasttab's hand-written event files (tools/report/tensorboard.cpp): if TensorBoard's EventAccumulator
loads every scalar with the tag, step and value fasttab wrote, `tensorboard --logdir` will show them.

Usage: read_tfevents.py PATH [PATH ...]     (an event file, or a log directory holding event files)
Needs: pip install tensorboard
Prints one line per scalar, "tag<TAB>step<TAB>value<TAB>wall_time", grouped by tag; exits 1 when a file
holds no scalars.
"""
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    status = 0
    for path in argv[1:]:
        # size_guidance 0 = keep every scalar (the default keeps a reservoir sample of 10000 per tag).
        acc = EventAccumulator(path, size_guidance={"scalars": 0})
        acc.Reload()
        tags = acc.Tags().get("scalars", [])
        print(f"# {path}: {len(tags)} scalar tags")
        if not tags:
            status = 1
        for tag in sorted(tags):
            for event in acc.Scalars(tag):
                print(f"{tag}\t{event.step}\t{event.value:.9g}\t{event.wall_time:.6f}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
