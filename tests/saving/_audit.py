"""Record every file the process opens, with `sys.addaudithook` (the "open" audit event).

Audit hooks cannot be removed, so one hook is installed per process and records only while a
`recording()` block is active. Each entry is (path as given, resolved path or None, flags):
`os.open(name, dir_fd=...)` reports the bare name (the hook is not told the folder), so a
relative name with O_NOFOLLOW is a confined walk step; every other path is resolved against
the working directory. `outside(entries, folder)` lists what was opened outside `folder`.
"""

import os
import sys
import threading

_active: list = []
_lock = threading.Lock()
_installed = False


def _hook(event, args):
    if event != "open" or not _active:
        return
    path, _mode, flags = (list(args) + [None, None, None])[:3]
    if isinstance(path, int) or path is None:
        return
    path = os.fsdecode(path)
    flags = flags or 0
    confined = not os.path.isabs(path) and bool(flags & getattr(os, "O_NOFOLLOW", 0))
    entry = (path, None if confined else os.path.realpath(path), flags)
    for records in _active:
        records.append(entry)


class recording:
    """with recording() as opened: ... -> opened is the list of entries."""

    def __enter__(self):
        global _installed
        with _lock:
            if not _installed:
                sys.addaudithook(_hook)
                _installed = True
        self.entries = []
        _active.append(self.entries)
        return self.entries

    def __exit__(self, *exc):
        _active.remove(self.entries)
        return False


def outside(entries, folder, names=()) -> list:
    """Entries that opened something in `folder` (the place crafted files point to), or that name one of
    `names`, or that walk through '..'."""
    folder = os.path.realpath(folder)
    found = []
    for path, resolved, _flags in entries:
        if resolved is not None and (resolved == folder or resolved.startswith(folder + os.sep)):
            found.append(path)
        elif ".." in path.replace("\\", "/").split("/") and resolved is None:
            found.append(path)
        elif any(os.path.basename(path) == n for n in names):
            found.append(path)
    return found


# The subprocess form: `python -c WRAPPER <forbidden folder> <report file> <onnxgraph arguments>` runs the
# command line with the hook installed and writes what was opened inside the forbidden folder.
WRAPPER = r"""
import os, runpy, sys
forbidden, report = os.path.realpath(sys.argv[1]), sys.argv[2]
hits = []
def hook(event, args):
    if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
        path = os.fsdecode(args[0])
        flags = args[2] if len(args) > 2 and args[2] else 0
        if os.path.isabs(path) or not flags & os.O_NOFOLLOW:
            real = os.path.realpath(path)
            if real == forbidden or real.startswith(forbidden + os.sep):
                hits.append(path)
        elif ".." in path.split("/"):
            hits.append(path)
sys.addaudithook(hook)
sys.argv = ["onnxgraph"] + sys.argv[3:]
try:
    runpy.run_module("onnxgraph.cli", run_name="__main__")
finally:
    with open(report, "w") as f:
        f.write("\n".join(hits))
"""


class FolderWatch:
    """inotify on a folder: did any process (onnxruntime's C++ included) open or read a file in it?

    The audit hook sees Python's opens only; the kernel sees everyone's. Linux only.
    """

    IN_ACCESS, IN_OPEN = 0x1, 0x20

    def __init__(self, folder):
        import ctypes

        self._libc = ctypes.CDLL("libc.so.6", use_errno=True)
        self.fd = self._libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        if self._libc.inotify_add_watch(self.fd, os.fsencode(folder), self.IN_ACCESS | self.IN_OPEN) < 0:
            raise OSError(ctypes.get_errno(), f"inotify_add_watch({folder}) failed")

    def events(self) -> list:
        """(mask, name) of every open/read in the folder since the watch began (or the last call)."""
        import struct

        found = []
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return found
            offset = 0
            while offset < len(data):
                _wd, mask, _cookie, size = struct.unpack_from("iIII", data, offset)
                name = data[offset + 16: offset + 16 + size].rstrip(b"\0").decode()
                found.append((mask, name))
                offset += 16 + size

    def close(self):
        os.close(self.fd)
