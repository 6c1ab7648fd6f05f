"""Fields of Linux /proc files, for the benchmark's machine facts and memory peaks."""


def field(path, key):
    """The text after ``key:`` on the first line of `path` that starts with it, or None."""
    with open(path) as f:
        for line in f:
            if line.startswith(key):
                name, _, value = line.partition(":")
                if name.strip() == key:
                    return value.strip()
    return None


def high_water_mark(pid="self"):
    """
    Peak resident memory (VmHWM) of process `pid` in bytes, or None once it has
    ended. Not ru_maxrss: after exec, that still counts the memory of the
    process that started the program.
    """
    try:
        value = field(f"/proc/{pid}/status", "VmHWM")
    except OSError:
        return None
    return None if value is None else int(value.split()[0]) * 1024
