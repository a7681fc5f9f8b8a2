"""CPU time a process and its descendants used, by process name, read from /proc (Linux).

`icpurse bench logger` uses it to say where a load's CPU went: the logger's worker processes
name themselves (icpurse.logger.workers.name_process), so the verifiers, the appender and the
receipt signers can be told apart from the event loop. Where /proc cannot be read, a snapshot
is empty and nothing is reported.
"""

import os

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
# The kernel counts a process's CPU time in clock ticks (1/100 s on Linux): a figure smaller
# than a few ticks says little.
RESOLUTION = 1.0 / _TICKS


def _stat(pid):
    """(parent pid, CPU seconds) of `pid`, or None if it is gone or unreadable."""
    try:
        with open("/proc/%s/stat" % pid) as stat:
            text = stat.read()
    except OSError:
        return None
    # The name, in parentheses, may hold spaces; the fields after it are space-separated:
    # state, ppid, ..., utime and stime (fields 14 and 15 of proc(5)).
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICKS


def name(pid):
    """The name of process `pid` as ps shows it, or "?" where it cannot be read."""
    try:
        with open("/proc/%s/comm" % pid) as comm:
            return comm.read().strip()
    except OSError:
        return "?"


def snapshot(root):
    """{pid: (name, CPU seconds)} of `root` and every process below it."""
    try:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return {}
    children = {}
    cpu = {}
    for pid in pids:
        stat = _stat(pid)
        if stat is not None:
            children.setdefault(stat[0], []).append(pid)
            cpu[pid] = stat[1]
    if root not in cpu:
        return {}
    out = {}
    todo = [root]
    while todo:
        pid = todo.pop()
        out[pid] = (name(pid), cpu[pid])
        todo += children.get(pid, [])
    return out


def used_by_name(before, after, group):
    """CPU seconds each group of processes used between two snapshots; `group(name)` names a
    process's group. A process started in between counts from zero; one that ended in between
    is not counted (its last figures are gone with it)."""
    used = {}
    for pid, (title, seconds) in after.items():
        start = before.get(pid, (title, 0.0))[1]
        key = group(title)
        used[key] = used.get(key, 0.0) + max(0.0, seconds - start)
    return used
