#!/usr/bin/env python3
"""Runs the commands shown in a Markdown document and compares what they print with what the document shows.

A command is a line in a fenced block that starts with "$ " (continued by lines ending in a backslash); the lines
after it, up to the next command or the end of the block, are its documented output (lines starting with "# " are
comments, not output). In the output:
  * "..." alone on a line stands for any number of lines;
  * a line is compared with the printed one by its words exactly and by its numbers within a bound
    (ABS_TOLERANCE + REL_TOLERANCE * |documented|), because the runs are on the CPU backend and OpenBLAS rounds
    differently on other CPUs; integers (epoch counts, rows) must be equal;
  * timings (a number followed by " s", "s/epoch" or "samples/s") and the TensorBoard file name are not compared.
Commands run in one scratch directory, in order, with bash; `build/` is the build directory and `$D` the shared
data directory (printed paths under it are compared as $D/...). A command whose documented output has an "error:"
line must exit non-zero, the others zero.
Exit status: 0 when every command matched, 1 otherwise (each mismatch printed), 77 when the data is missing.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

ABS_TOLERANCE = 0.002
REL_TOLERANCE = 0.002
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
TIMING_AFTER = re.compile(r"^(?: s\b| s/epoch|s/epoch| samples/s|s\b)")
FREE_LINES = (re.compile(r"^TensorBoard events: "),)


def commands_of(markdown):
    """[(command, [expected output lines])] from the fenced blocks of a Markdown text."""
    found, in_block, current = [], False, None
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            in_block = not in_block
            current = None
        elif in_block and line.startswith("$ "):
            command = line[2:]
            while command.endswith("\\") and i + 1 < len(lines):
                i += 1
                command = command[:-1] + " " + lines[i].strip()
            current = (command, [])
            found.append(current)
        elif in_block and current is not None and not line.startswith("# "):  # a shell comment between commands
            current[1].append(line)
        i += 1
    return found


def skeleton(line):
    """The line with every number replaced by # and runs of spaces made one (column widths vary)."""
    return re.sub(r"\s+", " ", NUMBER.sub("#", line)).strip()


def figures(line):
    """The numbers of a line that are compared: all but timings, as (text, is_integer)."""
    out = []
    for m in NUMBER.finditer(line):
        if TIMING_AFTER.match(line[m.end():]):
            continue
        text = m.group()
        out.append((text, re.fullmatch(r"[-+]?\d+", text) is not None and abs(float(text)) < 1e6))
    return out


def is_free(line):
    return any(p.match(line) for p in FREE_LINES)


def same_shape(expected, actual):
    """The same words and the same integers (an epoch line of the same epoch), the other numbers aside."""
    if is_free(expected):
        return is_free(actual)
    return skeleton(expected) == skeleton(actual) and \
        [t for t, i in figures(expected) if i] == [t for t, i in figures(actual) if i]


def lines_match(expected, actual):
    """None when the printed line matches the documented one, else the reason."""
    if is_free(expected):
        return None if is_free(actual) else "a different line"
    if skeleton(expected) != skeleton(actual):
        return "the words differ"
    for (e, integer), (a, _) in zip(figures(expected), figures(actual)):
        ev, av = float(e), float(a)
        if integer and ev != av:
            return f"{e} documented, {a} printed"
        if not integer and abs(ev - av) > ABS_TOLERANCE + REL_TOLERANCE * abs(ev):
            return f"{e} documented, {a} printed (bound {ABS_TOLERANCE} + {REL_TOLERANCE} x value)"
    return None


def compare(expected, actual):
    """Matches the documented lines against the printed ones ("..." skips lines); returns a list of problems."""
    problems, a = [], 0
    e = 0
    while e < len(expected):
        line = expected[e]
        if line.strip() == "...":
            e += 1
            if e == len(expected):
                return problems
            # Skip printed lines up to the first with the words and the integers of the next documented line.
            while a < len(actual) and not same_shape(expected[e], actual[a]):
                a += 1
            continue
        if a >= len(actual):
            problems.append(f"documented line not printed: {line!r}")
            return problems
        why = lines_match(line, actual[a])
        if why:
            problems.append(f"{why}:\n      documented: {line}\n      printed:    {actual[a]}")
        e += 1
        a += 1
    if a < len(actual):
        problems.append(f"printed {len(actual) - a} more line(s) than documented, from: {actual[a]!r}")
    return problems


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: check_doc_commands.py DOC.md BUILD_DIR DATA_DIR")
    doc, build_dir, data_dir = sys.argv[1:]
    if not os.path.isdir(data_dir):
        print(f"FASTTAB_TEST_SKIPPED: the shared data directory {data_dir} is absent")
        return 77
    with open(doc, encoding="utf-8") as f:
        commands = commands_of(f.read())
    if not commands:
        print(f"{doc}: no command found")
        return 1
    scratch = tempfile.mkdtemp(prefix="fasttab_doc_")
    env = dict(os.environ, D=os.path.abspath(data_dir))
    failures = 0
    try:
        for command, expected in commands:
            if "import numpy" in command:
                try:
                    import numpy  # noqa: F401
                except ImportError:
                    print(f"skipped (no numpy): $ {command}")
                    continue
            runnable = re.sub(r"(?<![\w/.])build/", os.path.abspath(build_dir) + "/", command)
            result = subprocess.run(["bash", "-c", runnable], cwd=scratch, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True, timeout=600)
            # The data directory differs between machines: documented outputs show it as $D.
            actual = result.stdout.replace(env["D"], "$D").splitlines()
            problems = compare(expected, actual)
            wants_error = any(line.startswith("error:") for line in expected)
            if wants_error and result.returncode == 0:
                problems.append("documented as failing, but it exited 0")
            if not wants_error and result.returncode != 0:
                problems.append(f"exited {result.returncode}")
            if problems:
                failures += 1
                print(f"MISMATCH $ {command}")
                for p in problems:
                    print(f"  - {p}")
                print("  printed:\n" + "\n".join("    " + l for l in actual))
            else:
                print(f"ok $ {command}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"{len(commands) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
