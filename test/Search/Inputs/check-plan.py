"""Cross-checks a plan report (JSON) against its Chrome trace.

The trace must span exactly the predicted step on every GPU of the chosen
mesh, name one thread per GPU, and hold compute and communication events;
every layer must have a strategy and non-negative times.
"""
import json
import sys

report = json.load(open(sys.argv[1]))
trace = json.load(open(sys.argv[2]))
plan = report["plan"]
for key in ("gpus", "mesh", "step_time_s", "samples_per_s",
            "energy_per_sample_j", "memory_per_gpu_bytes"):
    assert key in plan, key
assert report["solver"]["exact"]

events = trace["traceEvents"]
threads = sorted(e["args"]["name"] for e in events if e.get("ph") == "M")
assert threads == sorted("GPU %d" % i for i in range(plan["gpus"])), threads
timed = [e for e in events if e.get("ph") == "X"]
cats = {e["cat"] for e in timed}
assert cats == {"compute", "comm"}, cats
for gpu in range(plan["gpus"]):
    mine = [e for e in timed if e["tid"] == gpu]
    end = max(e["ts"] + e["dur"] for e in mine)
    expected = plan["step_time_s"] * 1e6
    assert abs(end - expected) <= 1e-6 * expected, (gpu, end, expected)

for layer in report["layers"]:
    assert layer["strategy"], layer
    assert layer["compute_s"] >= 0 and layer["comm_s"] >= 0, layer
print("plan: %d GPUs, mesh %s, %d layers, %d trace events: consistent"
      % (plan["gpus"], plan["mesh"], len(report["layers"]), len(timed)))
