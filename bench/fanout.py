"""The worker's own cost of a fan-out, counted in instructions: one
publisher and N subscribers connected to a real `Worker` through memory
(str0m clients, real ICE, DTLS and SRTP, fake time; the Rust test
`a_packet_fanned_out_reaches_every_subscriber_once_and_its_cost_is_measured`
in media_worker/src/worker/forwarding_tests.rs), run under valgrind's
cachegrind at two packet counts. The difference divided by the extra copies
is the worker's instructions per forwarded copy: the connection setup
cancels out, there is no kernel and no load generator, and the count
repeats within 1 % (hash seeds and random SSRCs differ from run to run;
aws-lc's jitter entropy source, whose count does too, is left out)
where the network benchmark's CPU time moves ±20 % on this machine. It is
how a change to the hot path shows its A/B:

    bench/fanout                          # this tree: instructions per copy, and where they go
    bench/fanout --against HEAD~1         # the same for another revision, and the ratio
    bench/fanout --subscribers 400 --wall # time per copy instead (noisy), min and median of 5 runs
    bench/fanout --hop                    # a pipe's hop instead: instructions per packet through it

`--hop` counts a pipe's hop the same way (the Rust test
`a_packet_through_pipe_hops_reaches_every_entry_and_its_cost_is_measured`
in media_worker/src/worker/pipe_hop_tests.rs: a publisher on a plain
transport, `--subscribers` pipes from its room to as many rooms, their
datagrams carried in memory): the exit's send and the entry's receive,
no kernel.

(`bench/fanout` installs valgrind if it is missing.) A revision given with
`--against` is built in a git worktree under target/fanout/; one older
than the test gets this tree's copy of it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Harness:
    """A Rust test that measures: its name, its file, the variables giving
    its copies and packets, and what one copy is called."""

    test: str
    source: str
    copies_variable: str
    packets_variable: str
    unit: str


FANOUT = Harness(
    "worker::forwarding_tests::a_packet_fanned_out_reaches_every_subscriber_once_and_its_cost_is_measured",
    "media_worker/src/worker/forwarding_tests.rs", "FANOUT_SUBSCRIBERS", "FANOUT_PACKETS", "forwarded copy",
)
HOP = Harness(
    "worker::plain::pipe_hop_tests::a_packet_through_pipe_hops_reaches_every_entry_and_its_cost_is_measured",
    "media_worker/src/worker/pipe_hop_tests.rs", "HOP_PIPES", "HOP_PACKETS", "hop",
)


def test_binary(tree: Path, target_dir: Path | None = None) -> Path:
    """Builds media_worker's unit tests in `tree` (release) and answers the binary."""
    env = dict(os.environ)
    if target_dir is not None:
        env["CARGO_TARGET_DIR"] = str(target_dir)
    # The whole workspace, as scripts/test builds it: the same features, so the suite's build is reused.
    command = ["cargo", "test", "--release", "--locked", "--workspace", "--no-run", "--message-format=json"]
    built = subprocess.run(command, cwd=tree, env=env, check=True, capture_output=True, text=True)
    for line in built.stdout.splitlines():
        message = json.loads(line)
        target = message.get("target", {})
        if message.get("reason") == "compiler-artifact" and message.get("executable") and target.get("name") == "media_worker" and "lib" in target.get("kind", []):
            return Path(message["executable"])
    raise RuntimeError(f"no test binary built in {tree}")


def lend_test(tree: Path, harness: Harness) -> None:
    """A revision older than the test gets this tree's copy of it (it
    measures; it does not change what is measured)."""
    name = harness.test.rsplit("::", 1)[-1]
    if harness is HOP:
        # Its pipes need pipe senders and shared ports: a revision without them has no hop to count.
        if not (tree / harness.source).exists():
            sys.exit(f"--hop --against: {tree.name} has no {harness.source} (pipes' hops are counted from 66d9da8 on)")
        return
    theirs = (tree / harness.source).read_text()
    if f"fn {name}(" in theirs:
        return
    mine = (ROOT / harness.source).read_text()
    start = mine.index("/// The worker's own cost of a fan-out")
    (tree / harness.source).write_text(theirs + "\n" + mine[start:])


def run_test(binary: Path, harness: Harness, copies: int, packets: int, valgrind_out: Path | None = None) -> str:
    env = dict(os.environ, **{harness.copies_variable: str(copies), harness.packets_variable: str(packets)})
    command = [str(binary), harness.test, "--exact", "--nocapture", "--test-threads=1"]
    if valgrind_out is not None:
        command = ["valgrind", "--tool=cachegrind", "--cache-sim=no", f"--cachegrind-out-file={valgrind_out}", *command]
    ran = subprocess.run(command, env=env, capture_output=True, text=True)
    if ran.returncode != 0 or "1 passed" not in ran.stdout:
        raise RuntimeError(f"{binary.name} failed:\n{ran.stdout[-2000:]}\n{ran.stderr[-2000:]}")
    return ran.stderr


# aws-lc seeds its random generator from CPU jitter: it loops on timing, so
# its instruction count changes from run to run, and it is no forwarding work.
JITTER = "/jitterentropy"


def instructions(out: Path) -> int:
    """The instruction count of a cachegrind output file, without the
    jitter entropy source's."""
    total, jitter, in_jitter = None, 0, False
    for line in out.read_text().splitlines():
        if line.startswith("fl="):
            in_jitter = JITTER in line
        elif line.startswith("summary:"):
            total = int(line.split()[1])
        elif in_jitter and line[:1].isdigit():
            jitter += int(line.split()[1])
    if total is None:
        raise RuntimeError(f"no summary in {out}")
    return total - jitter


def count(binary: Path, harness: Harness, subscribers: int, packets: tuple[int, int], work: Path) -> tuple[float, Path, Path]:
    """Instructions per copy (or hop), and the two cachegrind files (in `work`)."""
    outs = (work / f"{packets[0]}.cg", work / f"{packets[1]}.cg")
    for n, out in zip(packets, outs):
        run_test(binary, harness, subscribers, n, out)
    extra = instructions(outs[1]) - instructions(outs[0])
    return extra / (subscribers * (packets[1] - packets[0])), outs[0], outs[1]


def owner(location: str) -> str:
    """Whose code a cachegrind `file:function` is: the function's crate
    first (std code inlined into str0m is str0m's), then the file's."""
    function = location.split(":", 1)[-1].lstrip("<")
    if re.match(r"(str0m|str0m_proto|dimpl|is|sctp_proto)::", function):
        return "str0m (and its ICE, DTLS, SCTP crates)"
    if function.startswith("media_worker::"):
        return "this worker"
    if "aws-lc" in location or "aws_lc" in location:
        return "SRTP and DTLS crypto (aws-lc)"
    if re.search(r"/(str0m|str0m-proto|dimpl|is|sctp-proto)-[\d.]+/", location):
        return "str0m (and its ICE, DTLS, SCTP crates)"
    if "media_worker" in location:
        return "this worker"
    if location.startswith("./"):
        return "libc (memcpy, malloc)"
    return "Rust's standard library, inlined into its callers"


def where(first: Path, second: Path, copies: int, top: int) -> list[tuple[float, str]]:
    """Instructions per copy by function, between the two runs, after a
    line per owner (str0m, crypto, this worker, libc, std)."""
    diff = first.with_suffix(".diff")
    subprocess.run(["cg_diff", str(first), str(second)], check=True, stdout=diff.open("w"), stderr=subprocess.DEVNULL)
    annotated = subprocess.run(["cg_annotate", "--threshold=0", str(diff)], check=True, capture_output=True, text=True).stdout
    rows: dict[str, int] = {}
    owners: dict[str, int] = {}
    for line in annotated.splitlines():
        match = re.match(r"\s*(-?[\d,]+) \(\s*-?[\d.]+%\)\s+(\S.*)", line)
        if not match or "PROGRAM TOTALS" in line or JITTER in line:
            continue
        count = int(match.group(1).replace(",", ""))
        name = match.group(2).split(":", 1)[-1]
        rows[name] = rows.get(name, 0) + count
        # The test's own loop (the publisher's client) is not the worker's.
        if "forwarding_tests" not in match.group(2) and "pipe_hop_tests" not in match.group(2):
            key = owner(match.group(2))
            owners[key] = owners.get(key, 0) + count
    ranked = sorted(owners.items(), key=lambda row: -row[1]) + [("", 0)] + sorted(rows.items(), key=lambda row: -row[1])[:top]
    return [(n / copies, name) for name, n in ranked]


def wall(binary: Path, harness: Harness, subscribers: int, packets: int, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        printed = run_test(binary, harness, subscribers, packets)
        times.append(float(re.search(r"([\d.]+) µs per (forwarded copy|hop)", printed).group(1)))  # type: ignore[union-attr]
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=100, help="subscribers (with --hop: pipes)")
    parser.add_argument("--hop", action="store_true", help="a pipe's hop instead of a subscriber's copy")
    parser.add_argument("--packets", default="20,60", help="the two packet counts whose difference is measured")
    parser.add_argument("--against", help="a git revision to compare with (built in a worktree)")
    parser.add_argument("--top", type=int, default=20, help="functions listed")
    parser.add_argument("--wall", action="store_true", help="time per copy (no valgrind), min and median of --runs")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    low, high = (int(n) for n in args.packets.split(","))
    harness = HOP if args.hop else FANOUT
    copies = "pipes" if args.hop else "subscribers"
    builds = {"this tree": test_binary(ROOT)}
    if args.against:
        revision = subprocess.run(["git", "rev-parse", "--short", args.against], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()
        tree = ROOT / "target" / "fanout" / revision
        if not tree.exists():
            subprocess.run(["git", "worktree", "add", "--detach", str(tree), revision], cwd=ROOT, check=True, capture_output=True)
        lend_test(tree, harness)
        builds[revision] = test_binary(tree, ROOT / "target" / "fanout" / "target")
    if args.wall:
        for name, binary in builds.items():
            times = wall(binary, harness, args.subscribers, high, args.runs)
            print(f"{name}: {args.subscribers} {copies}: min {min(times):.2f}, median {statistics.median(times):.2f} µs per {harness.unit} ({', '.join(f'{t:.2f}' for t in times)})")
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (bench/fanout installs it)")
    counts = {}
    with tempfile.TemporaryDirectory() as work_dir:
        for index, (name, binary) in enumerate(builds.items()):
            work = Path(work_dir) / str(index)
            work.mkdir()
            per_copy, first, second = count(binary, harness, args.subscribers, (low, high), work)
            counts[name] = per_copy
            print(f"{name}: {per_copy:,.0f} instructions per {harness.unit} ({args.subscribers} {copies}, packets {low} → {high})")
            for share, function in where(first, second, args.subscribers * (high - low), args.top):
                print(f"    {share:8,.0f}  {function if len(function) <= 110 else '…' + function[-109:]}" if function else "    by function:")
    if len(counts) == 2:
        mine, theirs = counts.values()
        print(f"this tree ÷ {args.against}: {mine / theirs:.3f}")


if __name__ == "__main__":
    main()
