#!/usr/bin/python3
"""Before/after: two or more medmnist-build binaries on the same inputs, alternated run by run
(so both see the same load on a shared machine), CPU time of the child (user + system),
minor page faults and peak RSS, as bench_peers measures them.

    paired_builds.py DATASET SOURCE_N SOURCE_4N COUNT_N COUNT_4N REPEATS THREADS BINARY...

Prints, per binary, the median marginal CPU per sample ((CPU at 4N - CPU at N) / (COUNT_4N -
COUNT_N)) with every run's value, the median marginal faults per sample and the peak RSS at N
and 4N. Build a baseline with `git archive <commit> | tar -x -C DIR` and a build tree in DIR.
"""
import os
import shutil
import statistics
import sys
import tempfile


def run(binary, dataset, source, threads, out):
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    pid = os.fork()
    if pid == 0:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
        os.execv(binary, [binary, "build", dataset, "--source", source, "--out", out, "-q", "--threads", threads])
    _, status, usage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) not in (0, 1):  # 1: samples skipped, still a build
        sys.exit("%s failed on %s" % (binary, source))
    return usage.ru_utime + usage.ru_stime, usage.ru_minflt, usage.ru_maxrss / 1024.0


def main(argv):
    if len(argv) < 9:
        sys.exit(__doc__)
    dataset, source_n, source_4n, count_n, count_4n, repeats, threads = argv[1:8]
    binaries = argv[8:]
    count_n, count_4n, repeats = int(count_n), int(count_4n), int(repeats)
    out = tempfile.mkdtemp(prefix="mmb-paired-")
    runs = {b: [] for b in binaries}
    try:
        for _ in range(repeats):
            for b in binaries:
                runs[b].append((run(b, dataset, source_n, threads, out), run(b, dataset, source_4n, threads, out)))
    finally:
        shutil.rmtree(out, ignore_errors=True)
    extra = count_4n - count_n
    for b in binaries:
        per_sample = [1000.0 * (n4[0] - n[0]) / extra for n, n4 in runs[b]]
        faults = [(n4[1] - n[1]) / extra for n, n4 in runs[b]]
        print("%s\n  %.2f ms CPU/sample (runs %s), marginal faults/sample %.0f, peak RSS %.0f MiB at N, %.0f at 4N" % (
            b, statistics.median(per_sample), " ".join("%.2f" % v for v in per_sample), statistics.median(faults),
            statistics.median(n[2] for n, _ in runs[b]), statistics.median(n4[2] for _, n4 in runs[b])))


if __name__ == "__main__":
    main(sys.argv)
