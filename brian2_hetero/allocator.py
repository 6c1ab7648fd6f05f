"""
The C library's allocator and the numpy code of rules.

numpy takes the memory of its arrays from ``malloc``. glibc gives the
memory at the top of its heap back to the system once more than a
threshold is free there (by default twice the largest block freed so far),
and serves blocks above another threshold with ``mmap``, which it unmaps on
``free``. A rule on numpy makes temporary arrays of hundreds of kilobytes in
every time step with spikes; when their memory is given back each time,
every new array is faulted in again, page by page, and zeroed by the
system. With the numpy code of ``bugmann2012`` at 1000 × 50 this made a
whole run two to three times slower, Brian's own code objects included, on
a 2-core virtual machine.

`keep_freed_memory` fixes both thresholds (which also ends glibc's
adjusting them): blocks up to `MMAP_THRESHOLD` come from the heap, and up
to `TRIM_THRESHOLD` of free memory stays in the process. It does nothing
where the allocator is not glibc's or where the user set either threshold
through glibc's environment variables.
"""

import ctypes
import os
import sys

__all__ = ["keep_freed_memory", "MMAP_THRESHOLD", "TRIM_THRESHOLD"]

#: Blocks up to this size come from the heap (glibc's largest allowed value
#: on 64-bit systems).
MMAP_THRESHOLD = 32 * 2**20
#: Free memory at the top of the heap kept in the process.
TRIM_THRESHOLD = 256 * 2**20

# glibc's mallopt() parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_ENVIRONMENT = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_")

#: What `keep_freed_memory` did: None (not called yet), 'set', 'user'
#: (thresholds set in the environment), 'not glibc' or 'refused'.
state = None


def keep_freed_memory():
    """Fix glibc's trim and mmap thresholds once per process (see the
    module's docstring); return what was done."""
    global state
    if state is not None:
        return state
    if any(name in os.environ for name in _ENVIRONMENT):
        state = "user"
        return state
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # (glibc only)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        state = "not glibc"
        return state
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    done = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    state = "set" if done else "refused"
    return state
