"""Writes a .npy file (format 1.0, C order) without NumPy.

make_npy.py OUT DESCR SHAPE [VALUE-EXPR]
  DESCR: <f4, <f8, <i8, <i4; SHAPE: comma-separated, e.g. 8,16;
  VALUE-EXPR: a Python expression of the linear index i (default i).
"""
import struct
import sys

out, descr, shape = sys.argv[1], sys.argv[2], [int(s) for s in sys.argv[3].split(",")]
expr = sys.argv[4] if len(sys.argv) > 4 else "i"
count = 1
for size in shape:
    count *= size
fmt = {"<f4": "f", "<f8": "d", "<i8": "q", "<i4": "i"}[descr]
values = [eval(expr, {"i": i}) for i in range(count)]
dims = ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "")
header = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (descr, dims)
header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
with open(out, "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
    f.write(struct.pack("<%d%s" % (count, fmt), *values))
