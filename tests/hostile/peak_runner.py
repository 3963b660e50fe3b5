"""`python peak_runner.py ARGS` = `gicmig ARGS`, writing the process's peak resident set
(VmHWM, in bytes) to the file named by $HOSTILE_PEAK at exit. ru_maxrss cannot be used:
Linux carries the parent's high-water mark across fork/vfork and exec, so every child of a
large pytest process would seem to use what pytest uses."""

import atexit
import os
import sys


def _peak() -> None:
    with open("/proc/self/status") as f:
        kib = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    with open(os.environ["HOSTILE_PEAK"], "w") as out:
        out.write(str(kib * 1024))


atexit.register(_peak)
sys.argv[0] = "gicmig"
from gicmig.cli import main  # noqa: E402

sys.exit(main())
