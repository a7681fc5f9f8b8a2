"""The card's durable store: framed files, and a commit that a power cut cannot tear.

The wallet keeps its state as one payload in the file "state", and large immutable records as
blobs in files of their own that the state references by name. A backend does the I/O
(MemoryBackend below; FileBackend in firmware/cardfs.py on a board's LittleFS or a host
directory); this module decides which files are written, and in which order:

    1. every new blob, under its final name (nothing references it yet);
    2. the framed state to "state.new", then a rename of "state.new" onto "state": this rename
       is the commit point;
    3. the removal of the blobs the new state no longer references.

A power cut before the rename leaves the old state, whose blobs were not touched; a cut after it
leaves the new state, whose blobs were all written before it. Either way, files that no state
references may be left behind; collect_garbage() removes them after the next load. All of this
rests on one property of the backend: rename atomically replaces its target (LittleFS and POSIX
do, FAT does not).

Every file is framed, with integers big-endian:
    magic b"ICPS" (4) | format version FORMAT (1) | payload length (4) | payload | CRC-32 (4)
where the CRC-32 (binascii.crc32, as in zlib) covers everything before it. A file that does not
check out raises StoreError naming the file: a damaged card stops, it never silently starts
afresh with an empty purse.

The backend protocol, which every backend implements:
    read(name)         the file's bytes (bytes or bytearray), or None if there is no such file
    write(name, data)  create the file, or truncate it, and write data to it
    rename(old, new)   atomically replace the file new (if any) by the file old
    remove(name)       delete the file; no error if there is none
    names()            a list of the names of every file
and one that a backend may implement, for large files in a small heap:
    write_parts(name, parts)  write(name, b"".join(parts)), without joining them
Power cuts are injected by wrapping a backend in a purse.faults.FaultPoint (docs/DESIGN.md
section 7).
"""

import binascii

from purse.compat import const, host_only
from purse.errors import StoreError

MAGIC = b"ICPS"
FORMAT = const(1)
STATE = "state"
STATE_NEW = "state.new"

# Frame sizes: magic, version and length before the payload; the CRC-32 after it.
_HEADER = const(9)
_OVERHEAD = const(13)


class PowerCut(Exception):
    """The power failed during a store operation (raised by FaultPoint).

    It is deliberately not a PurseError: no handler may catch it as a refusal and carry on, just
    as no code runs on a real card once its power is gone.
    """


def frame(payload):
    """The framed file for `payload`, built in one preallocated buffer (a bytearray)."""
    n = len(payload)
    buf = bytearray(n + _OVERHEAD)
    buf[_HEADER : _HEADER + n] = payload
    _seal(buf, n)
    return buf


def _seal(buf, n):
    """Frame in place the payload of n bytes at buf[_HEADER:]: the header before it, the CRC
    after it. Returns the file's length."""
    end = _HEADER + n
    buf[0:4] = MAGIC
    buf[4] = FORMAT
    buf[5:_HEADER] = n.to_bytes(4, "big")
    # A memoryview lets the CRC run over the buffer without copying it.
    crc = binascii.crc32(memoryview(buf)[:end]) & 0xFFFFFFFF
    buf[end : end + 4] = crc.to_bytes(4, "big")
    return end + 4


def unframe(name, data, view=False):
    """The payload (bytes) of the file `name` whose content is `data`; StoreError if damaged.
    With `view`, a memoryview of the payload in `data` rather than a copy of it."""
    size = len(data)
    if size < _OVERHEAD:
        raise StoreError(
            "store file %r is truncated: %d bytes, a frame has at least %d"
            % (name, size, _OVERHEAD)
        )
    if data[0:4] != MAGIC:
        raise StoreError("store file %r does not start with the magic %r" % (name, MAGIC))
    if data[4] != FORMAT:
        raise StoreError(
            "store file %r has format version %d; this firmware reads version %d"
            % (name, data[4], FORMAT)
        )
    length = int.from_bytes(data[5:_HEADER], "big")
    if length != size - _OVERHEAD:
        raise StoreError(
            "store file %r is truncated or extended: its header says %d payload bytes, it holds %d"
            % (name, length, size - _OVERHEAD)
        )
    end = size - 4
    mv = memoryview(data)
    stored = int.from_bytes(data[end:], "big")
    computed = binascii.crc32(mv[:end]) & 0xFFFFFFFF
    if stored != computed:
        raise StoreError(
            "store file %r fails its CRC-32: stored %08x, computed %08x" % (name, stored, computed)
        )
    return mv[_HEADER:end] if view else bytes(mv[_HEADER:end])


def _check_name(name):
    # A blob must never overwrite the state files, and a name with a path separator would
    # escape the store's directory on a file backend.
    if not isinstance(name, str) or not name or name in (STATE, STATE_NEW) or "/" in name:
        raise StoreError("%r is not a valid blob name" % (name,))


@host_only
class MemoryBackend:
    """A backend that keeps its files in a dict: for in-process cards and tests.

    `files` maps each name to its bytes; writes store a copy, as a file system would.
    """

    def __init__(self):
        self.files = {}

    def read(self, name):
        return self.files.get(name)

    def write(self, name, data):
        self.files[name] = bytes(data)

    def rename(self, old, new):
        data = self.files.pop(old, None)
        if data is None:
            # A file system refuses to rename a missing file with ENOENT (errno 2); so does this.
            raise OSError(2)
        self.files[new] = data

    def remove(self, name):
        self.files.pop(name, None)

    def names(self):
        return list(self.files)


class Store:
    """The commit logic over a backend: load the state, read its blobs, commit a new state.

    The store keeps no state in memory between calls, so reopening after a power cut is simply
    making a new Store on the same backend. It may keep a scratch buffer for framing a state
    payload of up to `reserve` bytes (see commit): a card makes it at boot, while its heap is
    whole.
    """

    def __init__(self, backend, reserve=0):
        self.backend = backend
        self._scratch = bytearray(reserve + _OVERHEAD) if reserve else None

    def load(self):
        """The payload (bytes) of the committed state, or None on a fresh card."""
        data = self.backend.read(STATE)
        if data is None:
            return None
        return unframe(STATE, data)

    def read_blob(self, name):
        """The payload (bytes) of a blob the state references; StoreError if missing or damaged."""
        data = self.backend.read(name)
        if data is None:
            # The state references it, so it was written before the state was committed and
            # only ever removed after a later state stopped referencing it: the store is damaged.
            raise StoreError("store file %r is missing, though the state references it" % (name,))
        return unframe(name, data)

    def read_cache(self, name):
        """The payload of a file that keeps what could be computed again (an anchor key's
        table), or None if it is missing or damaged: a cache is never trusted over
        recomputing, and a damaged one is no reason to stop the card. It is a view of the
        file's bytes as read, not a copy: an anchor's table is 8 KB, and a second block of that
        size is what a small heap lacks."""
        data = self.backend.read(name)
        if data is None:
            return None
        try:
            return unframe(name, data, True)
        except StoreError:
            return None

    def write_cache(self, name, payload):
        """Write a cache file, framed like every other. It is outside the commit: a cut write
        leaves a file that read_cache refuses, and the value is computed again. A backend with
        write_parts writes the frame around the payload as it is: a table is 8 KB, and its
        framed copy would be a second block of that size."""
        write_parts = getattr(self.backend, "write_parts", None)
        if write_parts is None:
            self.backend.write(name, frame(payload))
            return
        n = len(payload)
        head = bytearray(_HEADER)
        head[0:4] = MAGIC
        head[4] = FORMAT
        head[5:_HEADER] = n.to_bytes(4, "big")
        crc = binascii.crc32(payload, binascii.crc32(head)) & 0xFFFFFFFF
        write_parts(name, (head, payload, crc.to_bytes(4, "big")))

    def commit(self, state_payload, new_blobs=None, drop=()):
        """Make `state_payload` the state, atomically, with its new blobs; then drop old ones.

        `state_payload` is bytes, or an object that writes itself: `encoded_size()` and
        `encode_into(buf, pos) -> end` (purse.wallet.state.CardState). The latter is framed in
        the scratch buffer, so that a commit at the end of a command, when a small heap is
        most fragmented, asks for no block of a kilobyte or more.

        `new_blobs` maps the names of new immutable blobs to their payloads; the caller
        guarantees that the current state references none of them. `drop` names blobs the new
        state no longer references. The operations are, in this order: one write per new blob,
        the write of "state.new", its rename onto "state" (the commit point), one remove per
        dropped name: len(new_blobs) + 2 + len(drop) in all.
        """
        # Every name is checked before the first write, so a bad call changes nothing.
        if new_blobs:
            for name in new_blobs:
                _check_name(name)
        for name in drop:
            _check_name(name)
            if new_blobs and name in new_blobs:
                raise StoreError("blob %r cannot be both new and dropped" % (name,))
        if new_blobs:
            # A blob that writes itself is framed in the scratch buffer too: each file is
            # written before the buffer serves the next.
            for name in new_blobs:
                self.backend.write(name, self._framed(new_blobs[name]))
        self.backend.write(STATE_NEW, self._framed(state_payload))
        self.backend.rename(STATE_NEW, STATE)
        for name in drop:
            self.backend.remove(name)

    def _framed(self, payload):
        """The framed file: a payload that writes itself is framed in the scratch buffer,
        which serves again only after the file is written."""
        encode_into = getattr(payload, "encode_into", None)
        if encode_into is None:
            return frame(payload)
        n = payload.encoded_size()
        if self._scratch is None or len(self._scratch) < n + _OVERHEAD:
            self._scratch = bytearray(n + _OVERHEAD)
        end = encode_into(self._scratch, _HEADER)
        if end != _HEADER + n:
            raise StoreError("payload encoded to %d bytes, %d announced" % (end - _HEADER, n))
        return memoryview(self._scratch)[: _seal(self._scratch, n)]

    def collect_garbage(self, referenced):
        """Remove every file but "state" and the names in `referenced`; return the removed names.

        Call it after load() with every blob name the loaded state references: what remains of
        a cut commit ("state.new", blobs never referenced) or of its drops goes.
        """
        keep = set(referenced)
        keep.add(STATE)
        removed = []
        for name in self.backend.names():
            if name not in keep:
                self.backend.remove(name)
                removed.append(name)
        return removed
