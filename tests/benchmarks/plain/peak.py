"""``python peak.py OUT CMD...``: run CMD with this process's streams and write its peak resident set (kB)
to OUT. A small launcher, because a child forked from a large process (pytest with torch loaded)
reports that process's resident set as its own peak: Linux carries the high-water mark across exec."""

from __future__ import annotations

import os
import subprocess
import sys


def main(argv: list[str]) -> int:
    out, command = argv[0], argv[1:]
    proc = subprocess.Popen(command)
    _, status, usage = os.wait4(proc.pid, 0)
    with open(out, "w", encoding="ascii") as handle:
        handle.write(str(usage.ru_maxrss))
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
