"""Checks that a partitioned pipeline's devices take each peer's values in
the order the peer sends them (NCCL matches a pair's transfers in order;
MPI's tags would hide a mismatch).

Reads the partitioned module (autopar-partition's output) on stdin: each
function's `scf.index_switch` on the stage coordinate, one region per
device (`case d` ..., `default` the last). Prints one line per function and
device pair and a summary; exits non-zero on a mismatch.
"""
import re
import sys

send = re.compile(r"autopar\.send %\S+ to (\d+) on .*? tag (\d+)")
recv = re.compile(r"autopar\.recv from (\d+) on .*? tag (\d+)")
bad = 0
for function in re.split(r"\n\s*func\.func ", sys.stdin.read())[1:]:
    name = function.split("(", 1)[0]
    start = function.find("scf.index_switch")
    if start < 0:
        continue
    parts = re.split(r"\n\s*(case \d+|default) \{", function[start:])
    regions = {}
    for head, body in zip(parts[1::2], parts[2::2]):
        regions[int(head.split()[1]) if head.startswith("case") else None] = body
    last = len(regions) - 1
    regions[last] = regions.pop(None)
    sent, received = {}, {}
    for device, body in sorted(regions.items()):
        for line in body.splitlines():
            if m := send.search(line):
                sent.setdefault((device, int(m[1])), []).append(int(m[2]))
            elif m := recv.search(line):
                received.setdefault((int(m[1]), device), []).append(int(m[2]))
    for pair in sorted(set(sent) | set(received)):
        same = sent.get(pair) == received.get(pair)
        bad += not same
        print("%s: %d -> %d: %d values %s" % (
            name, pair[0], pair[1], len(sent.get(pair, [])),
            "in order" if same else "OUT OF ORDER"))
print("out of order: %d" % bad)
sys.exit(1 if bad else 0)
