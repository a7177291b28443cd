"""Checks that a partitioned pipeline's devices take each peer's values in
the order the peer sends them (NCCL matches a pair's transfers in order;
MPI's tags would hide a mismatch).

Reads the partitioned module (autopar-partition's output) on stdin: each
function's `scf.index_switch` on the stage coordinate, one region per
device (`case d` ..., `default` the last). Sends and receives in `scf.for`
loops with constant bounds count once per iteration, in iteration order.
Prints one line per function and device pair and a summary; exits
non-zero on a mismatch.
"""
import re
import sys

SEND = re.compile(r"autopar\.send %\S+ to (\d+) on .*? tag (\d+)")
RECV = re.compile(r"autopar\.recv from (\d+) on .*? tag (\d+)")
CONSTANT = re.compile(r"(%[\w.]+) = arith\.constant (-?\d+) : index")
LOOP = re.compile(r"scf\.for %\S+ = (%[\w.]+) to (%[\w.]+) step (%[\w.]+)")


def events(lines, constants):
    """The device's sends and receives in execution order: (kind, peer,
    tag), loops expanded."""
    out = []
    # Open loops: (depth of their body, trip count, events so far).
    stack = [(None, 1, out)]
    depth = 0
    for line in lines:
        text = line.strip()
        if text.startswith("}"):
            depth -= 1
            # A loop's body ends where the nesting drops below it.
            while len(stack) > 1 and depth < stack[-1][0]:
                _, trips, body = stack.pop()
                stack[-1][2].extend(body * trips)
        if m := LOOP.search(text):
            lower, upper, step = (constants[name] for name in m.groups())
            trips = max(0, (upper - lower + step - 1) // step)
            stack.append((depth + 1, trips, []))
        elif m := SEND.search(text):
            stack[-1][2].append(("send", int(m[1]), int(m[2])))
        elif m := RECV.search(text):
            stack[-1][2].append(("recv", int(m[1]), int(m[2])))
        if text.endswith("{"):
            depth += 1
    return out


bad = 0
for function in re.split(r"\n\s*func\.func ", sys.stdin.read())[1:]:
    name = function.split("(", 1)[0]
    start = function.find("scf.index_switch")
    if start < 0:
        continue
    constants = {m[1]: int(m[2]) for m in CONSTANT.finditer(function)}
    parts = re.split(r"\n\s*(case \d+|default) \{", function[start:])
    regions = {}
    for head, body in zip(parts[1::2], parts[2::2]):
        regions[int(head.split()[1]) if head.startswith("case") else None] = body
    last = len(regions) - 1
    regions[last] = regions.pop(None)
    sent, received = {}, {}
    for device, body in sorted(regions.items()):
        for kind, peer, tag in events(body.splitlines(), constants):
            if kind == "send":
                sent.setdefault((device, peer), []).append(tag)
            else:
                received.setdefault((peer, device), []).append(tag)
    for pair in sorted(set(sent) | set(received)):
        same = sent.get(pair) == received.get(pair)
        bad += not same
        print("%s: %d -> %d: %d values %s" % (
            name, pair[0], pair[1], len(sent.get(pair, [])),
            "in order" if same else "OUT OF ORDER"))
print("out of order: %d" % bad)
sys.exit(1 if bad else 0)
