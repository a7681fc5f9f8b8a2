"""The card's file backend: one file per store name in one directory (see purse/store.py).

The same file runs on MicroPython boards, on the MicroPython Unix port and on CPython: the
emulator runs it on both interpreters, so it imports only os and sys and probes for what one of
them lacks instead of testing which interpreter it is.

The store's commit is only as safe as rename: it must atomically replace its target. LittleFS
does this, and so does POSIX; FAT does not: MicroPython's FAT driver replaces a file by removing
it and then renaming onto its name, and a power cut between the two leaves no state at all. FAT
is therefore not supported: the board must keep the store on LittleFS, which ESP32 and RP2
MicroPython use by default.

On CPython every write and rename is made durable with fsync of the file and of the directory,
since a POSIX file system may otherwise reorder them across a crash. The MicroPython Unix port
has no os.fsync, so there a crash of the host OS (not a simulated power cut) may lose recent
writes; on a board, LittleFS commits a file when it is closed, which needs no fsync.
"""

import os

# ENOENT is 2 on Linux, macOS, Windows and in MicroPython's own errno table; a literal spares
# importing errno, which not every board build has.
_ENOENT = 2

# os.replace is CPython's rename that replaces its target on every platform (os.rename refuses
# to on Windows); MicroPython has only os.rename, which replaces on LittleFS and POSIX.
_replace = getattr(os, "replace", None) or os.rename
_fsync = getattr(os, "fsync", None)


class FileBackend:
    """Store backend on the files of `directory`, which is created if missing (not its parents)."""

    def __init__(self, directory):
        self.directory = directory
        try:
            os.stat(directory)
        except OSError:
            os.mkdir(directory)

    def _path(self, name):
        # "/" is the separator on LittleFS, POSIX and (for CPython) Windows alike.
        return self.directory + "/" + name

    def _sync_directory(self):
        # A new or renamed name is durable only once its directory is; CPython on POSIX can
        # open a directory and fsync it, other systems cannot, and there this is skipped.
        if _fsync is None or not hasattr(os, "O_RDONLY"):
            return
        try:
            fd = os.open(self.directory, os.O_RDONLY)
        except OSError:
            return
        try:
            _fsync(fd)
        finally:
            os.close(fd)

    def read(self, name):
        path = self._path(name)
        try:
            size = os.stat(path)[6]
            f = open(path, "rb")
        except OSError as exc:
            if exc.args[0] == _ENOENT:
                return None
            raise
        try:
            # One buffer of the file's size: reading in growing chunks would fragment a small
            # heap. A short read means the file changed under us, which the frame check catches.
            buf = bytearray(size)
            n = f.readinto(buf)
        finally:
            f.close()
        if n is None or n < size:
            return buf[: n or 0]
        return buf

    def write(self, name, data):
        self.write_parts(name, (data,))

    def write_parts(self, name, parts):
        """write(name, the parts joined), one part after the other (purse.store)."""
        f = open(self._path(name), "wb")
        try:
            for part in parts:
                f.write(part)
            f.flush()
            if _fsync is not None:
                _fsync(f.fileno())
        finally:
            f.close()
        self._sync_directory()

    def rename(self, old, new):
        _replace(self._path(old), self._path(new))
        self._sync_directory()

    def remove(self, name):
        # A remove need not be made durable: a file that comes back after a crash is garbage
        # that the next collect_garbage removes again.
        try:
            os.remove(self._path(name))
        except OSError as exc:
            if exc.args[0] != _ENOENT:
                raise

    def names(self):
        return os.listdir(self.directory)
