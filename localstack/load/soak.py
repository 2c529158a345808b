"""The soak benchmark: the demo's load generator against a local stack of
its own for a number of minutes, with the memory of every process the stack
runs sampled every 10 s. Prints the samples (one row per sample, a column
per kind of process: the local stack itself, each emulator, the trace
viewer, the function instances together) and the peak of each against its
budget, and the largest resident set (RSS) of one process of each kind;
exits 1 if a budget was exceeded or a request failed.

A kind's memory is the sum of its processes' proportional set sizes (PSS):
instances of one function share their binary's pages, which each one's RSS
counts again.

Usage (./shop soak runs it): soak.py [--users N] [--minutes M] [--port P]
"""

import argparse
import os
import re
import signal
import subprocess
import sys
import time

# What each kind of process may hold, in MiB, under continuous load. The
# emulators keep their data on disk (dynoxide in SQLite) or bounded in
# memory; the function instances are at most 10 per function.
BUDGET_MIB = {
    "local-stack": 150,
    "moto": 400,
    "dynoxide": 150,
    "trace viewer": 900,
    "functions": 1200,
}
TOTAL_BUDGET_MIB = 2500
EVERY_SECONDS = 10


def children_of():
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                text = stat.read()
        except OSError:
            continue
        ppid = int(text[text.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def descendants(pid):
    children = children_of()
    found, frontier = [], [pid]
    while frontier:
        for child in children.get(frontier.pop(), []):
            found.append(child)
            frontier.append(child)
    return found


def memory_mib(pid):
    """A process's PSS and RSS, in MiB."""
    found = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                field = line.split(":")[0]
                if field in ("Pss", "Rss"):
                    found[field] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return found.get("Pss", 0.0), found.get("Rss", 0.0)


def command_line(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return cmdline.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def kind(pid):
    line = command_line(pid)
    if "emulator.py" in line:
        return "moto"
    if "dynoxide" in line:
        return "dynoxide"
    if "phoenix" in line:
        return "trace viewer"
    if "/target/debug/" in line:
        return "functions"
    return None


def sample(stack_pid):
    """Each kind's PSS, each kind's largest RSS, and how many instances run."""
    totals = {name: 0.0 for name in BUDGET_MIB}
    largest = {name: 0.0 for name in BUDGET_MIB}
    totals["local-stack"], largest["local-stack"] = memory_mib(stack_pid)
    instances = 0
    for pid in descendants(stack_pid):
        name = kind(pid)
        if name is None:
            continue
        pss, rss = memory_mib(pid)
        totals[name] += pss
        largest[name] = max(largest[name], rss)
        instances += name == "functions"
    return totals, largest, instances


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--port", type=int, default=8090)
    args = parser.parse_args()
    # Stopped from outside, it still stops its stack (the `finally` below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    os.makedirs(os.path.join(root, "target"), exist_ok=True)
    log_path = os.path.join(root, "target", "soak-stack.log")
    log = open(log_path, "w")
    stack = subprocess.Popen(
        [os.path.join(root, "target/debug/local-stack"), "up", "--port", str(args.port), "--prefix", "soak"],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=root,
    )
    url = f"http://127.0.0.1:{args.port}"
    load = None
    try:
        deadline = time.time() + 300
        while "astroshop is running" not in open(log_path).read():
            if stack.poll() is not None or time.time() > deadline:
                sys.exit(f"the local stack did not start; see {log_path}")
            time.sleep(1)
        print(f"soak: {args.users} users for {args.minutes} min against {url}; stack log {log_path}", flush=True)
        locust_log = os.path.join(root, "target", "soak-load.log")
        load = subprocess.Popen(
            [
                os.path.join(root, ".venv/load/bin/locust"),
                "-f", os.path.join(root, "localstack/load/locustfile.py"),
                "--headless", "--host", url,
                "--users", str(args.users), "--spawn-rate", str(args.users),
                "--run-time", f"{int(args.minutes * 60)}s", "--stop-timeout", "30",
                "--only-summary",
            ],
            stdout=open(locust_log, "w"),
            stderr=subprocess.STDOUT,
            cwd=root,
        )
        names = list(BUDGET_MIB)
        print("memory (PSS) of the stack's processes:", flush=True)
        print(f"{'time':>6} " + " ".join(f"{n:>13}" for n in names) + f" {'total':>9} {'instances':>9}", flush=True)
        peaks = {name: 0.0 for name in names}
        largest_rss = {name: 0.0 for name in names}
        peak_total = 0.0
        started = time.time()
        while True:
            totals, largest, instances = sample(stack.pid)
            total = sum(totals.values())
            for name in names:
                peaks[name] = max(peaks[name], totals[name])
                largest_rss[name] = max(largest_rss[name], largest[name])
            peak_total = max(peak_total, total)
            print(
                f"{time.time() - started:5.0f}s "
                + " ".join(f"{totals[n]:>9.0f} MiB" for n in names)
                + f" {total:>5.0f} MiB {instances:>9}",
                flush=True,
            )
            if load.poll() is not None:
                break
            time.sleep(EVERY_SECONDS)
        print()
        print(f"{'process':<14} {'peak PSS':>9} {'budget':>9} {'largest RSS of one':>19}")
        over = False
        for name in names:
            within = peaks[name] <= BUDGET_MIB[name]
            over |= not within
            print(
                f"{name:<14} {peaks[name]:>5.0f} MiB {BUDGET_MIB[name]:>5} MiB {largest_rss[name]:>15.0f} MiB"
                f" {'' if within else 'OVER'}"
            )
        over |= peak_total > TOTAL_BUDGET_MIB
        print(f"{'all':<14} {peak_total:>5.0f} MiB {TOTAL_BUDGET_MIB:>5} MiB {'' if peak_total <= TOTAL_BUDGET_MIB else 'OVER'}")
        summary = open(locust_log).read()
        aggregated = re.findall(r"^\s*Aggregated\s+(\d+)\s+(\d+)\(", summary, re.MULTILINE)
        if aggregated:
            requests, failures = aggregated[0]
            print(f"load generator: {requests} requests, {failures} failed (summary in {locust_log})")
        failed = load.returncode != 0
        if failed:
            print(f"the load generator reported failures; see {locust_log}")
        sys.exit(1 if over or failed else 0)
    finally:
        if load is not None and load.poll() is None:
            load.terminate()
            load.wait()
        stack.send_signal(2)
        try:
            stack.wait(timeout=60)
        except subprocess.TimeoutExpired:
            stack.kill()


if __name__ == "__main__":
    main()
