"""Prints each MPI symbol (MPI_*, ompi_*) that the given shared objects
import and the library given last does not define, then 'missing: N'."""
import subprocess
import sys


def symbols(path, undefined):
    flags = ["-D", "--undefined-only"] if undefined else ["-D", "--defined-only"]
    out = subprocess.run(["nm"] + flags + [path], check=True,
                         capture_output=True, text=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


*importers, library = sys.argv[1:]
wanted = set()
for path in importers:
    wanted |= {s for s in symbols(path, True)
               if s.startswith("MPI_") or s.startswith("ompi_")}
missing = sorted(wanted - symbols(library, False))
for name in missing:
    print("missing", name)
print("imports: %d, missing: %d" % (len(wanted), len(missing)))
