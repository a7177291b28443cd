"""Starts N processes of a command the way torchrun does (RANK, WORLD_SIZE,
LOCAL_RANK, MASTER_ADDR, MASTER_PORT on a free loopback port), waits for
all, prints their standard output in rank order and exits with the worst
exit code. Like torchrun's agent, it keeps a listening socket on
MASTER_PORT while they run (its store lives there), so the processes must
not take that port. --only R starts only rank R (to test a missing peer)."""
import argparse
import os
import socket
import subprocess
import sys

parser = argparse.ArgumentParser()
parser.add_argument("--nproc", type=int, required=True)
parser.add_argument("--only", type=int, default=None)
parser.add_argument("command", nargs=argparse.REMAINDER)
args = parser.parse_args()

# A free port whose successor (the rendezvous port) is free too.
store = None
for attempt in range(50):
    store = socket.socket()
    store.bind(("127.0.0.1", 0))
    port = store.getsockname()[1]
    with socket.socket() as probe:
        try:
            probe.bind(("0.0.0.0", port + 1))
            break
        except OSError:
            store.close()
store.listen(8)

procs = []
for rank in range(args.nproc):
    if args.only is not None and rank != args.only:
        continue
    env = dict(os.environ, RANK=str(rank), WORLD_SIZE=str(args.nproc),
               LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
               MASTER_PORT=str(port))
    procs.append(subprocess.Popen(args.command, env=env,
                                  stdout=subprocess.PIPE, text=True))
code = 0
for proc in procs:
    out, _ = proc.communicate(timeout=120)
    sys.stdout.write(out)
    code = max(code, proc.returncode)
sys.exit(code)
