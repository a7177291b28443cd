"""Compares the per-step losses autopar-run printed for two runs.

    compare_losses.py REFERENCE RUN TOLERANCE

Reads the `step N: ..., loss L` lines of both outputs and fails (exit 1)
unless they have the same steps and every loss of RUN is within TOLERANCE
(relative) of REFERENCE's; prints the largest relative difference.
"""
import re
import sys


def losses(path):
    found = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"\s*step (\d+): .*, loss ([-+0-9.eE]+|nan|inf)", line)
            if m:
                found[int(m.group(1))] = float(m.group(2))
    return found


def main():
    reference, run, tolerance = sys.argv[1], sys.argv[2], float(sys.argv[3])
    ref, got = losses(reference), losses(run)
    if not ref or sorted(ref) != sorted(got):
        print("steps differ: %s vs %s" % (sorted(ref), sorted(got)))
        return 1
    worst = max(abs(got[s] - ref[s]) / abs(ref[s]) for s in ref)
    step = max(ref, key=lambda s: abs(got[s] - ref[s]) / abs(ref[s]))
    verdict = "PASS" if worst <= tolerance else "FAIL"
    print("%d steps: largest relative loss difference %.3e at step %d "
          "(tolerance %.1e): %s" % (len(ref), worst, step, tolerance, verdict))
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
