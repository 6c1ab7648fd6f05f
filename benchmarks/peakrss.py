"""
Run a command and write its peak resident memory, in bytes, to a file.

Usage: ``python peakrss.py OUTPUT COMMAND [ARG ...]``. The exit status is the
command's. Used for compiled programs, whose memory the calling Python process
cannot see on its own.

The peak is the command's own high-water mark (VmHWM), read every few
milliseconds while it runs. The kernel's ru_maxrss is no use here: it counts
the memory of the process that started the command, which is larger than a
small program's. A command that ends before the first reading gets ru_maxrss,
an upper bound.
"""

import os
import sys
import time

POLL_S = 0.002


def high_water_mark(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


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
