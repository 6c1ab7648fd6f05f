"""
Run a command and write its peak resident memory, in bytes, to a file.

Usage: ``python peakrss.py OUTPUT COMMAND [ARG ...]``. The exit status is the
command's. Used for compiled programs, whose memory the calling Python process
cannot see on its own.

The peak is the command's own high-water mark (VmHWM), read every few
milliseconds while it runs. A command that ends before the first reading gets
ru_maxrss, an upper bound.
"""

import os
import sys
import time

from procfs import high_water_mark

POLL_S = 0.002


def main(argv):
    output, command = argv[0], argv[1:]
    pid = os.posix_spawnp(command[0], command, os.environ)
    peak = None
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        current = high_water_mark(pid)
        if current is not None:
            peak = max(peak or 0, current)
        time.sleep(POLL_S)
    with open(output, "w") as f:
        # ru_maxrss is in kibibytes on Linux
        f.write(f"{peak if peak is not None else usage.ru_maxrss * 1024}\n")
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
