"""The number of frames an audio file's header declares, read from the header itself.

libsndfile shortens a cut file's frame count to what the file holds, silently, for every
uncompressed container (WAV, RF64, W64, AIFF, AU, NIST SPHERE, ...), so its frame count cannot
reveal a cut download or copy: a half-cut `.rf64` decoded as a complete 2.5 s clip. The headers
of the containers speech is kept in are read here; formats whose decoder knows the length from
its own stream (FLAC, Ogg, MP3) are checked against what decodes instead (`audio_decoding`).
"""

from __future__ import annotations

import io
import re
import struct
from collections.abc import Callable, Iterator
from typing import BinaryIO

# A 32-bit chunk size of all ones means "unknown" (a stream never finalised, or RF64's ds64).
UNKNOWN_32 = 0xFFFFFFFF
# Sony Wave64 names its chunks by GUID; the first four bytes spell the RIFF names.
_W64_RIFF = b"riff\x2e\x91\xcf\x11\xa5\xd6\x28\xdb\x04\xc1\x00\x00"
# Sun/NeXT AU encodings: bytes per sample (the linear, float and G.711 ones).
_AU_SAMPLE_BYTES = {1: 1, 2: 1, 3: 2, 4: 3, 5: 4, 6: 4, 7: 8, 27: 1}


def declared_frames(handle: BinaryIO) -> int | None:
    """Frames the header of `handle`'s file declares, or None when its container is not one read
    here or the header leaves the length open. The handle's position is restored."""
    start = handle.tell()
    try:
        magic = handle.read(16)
        handle.seek(start)
        for prefix, reader in _READERS:
            if magic.startswith(prefix):
                return reader(handle)
        return None
    except (struct.error, ValueError):
        return None  # a header too damaged to read: libsndfile's own refusal will name it
    finally:
        handle.seek(start)


def _chunks(handle: BinaryIO, byte_order: str) -> Iterator[tuple[bytes, int]]:
    """(name, size) of each chunk of a RIFF-style file from the handle's position; the handle is
    at the chunk's body when it is yielded, and moved to the next chunk (sizes padded to even)
    whatever the caller read."""
    while True:
        header = handle.read(8)
        if len(header) < 8:
            return
        size = struct.unpack(byte_order + "I", header[4:])[0]
        body = handle.tell()
        yield header[:4], size
        handle.seek(body + size + size % 2)


def _riff_frames(handle: BinaryIO) -> int | None:
    """RIFF/WAVE (and WAVEX), RF64 and BW64: the data chunk's size over the block size; RF64
    keeps the 64-bit size in its ds64 chunk and writes all ones in the data chunk's."""
    if handle.read(12)[8:12] != b"WAVE":
        return None
    block_align, wide_data_size = None, None
    for chunk_id, size in _chunks(handle, "<"):
        if chunk_id == b"ds64":
            wide_data_size = struct.unpack("<Q", handle.read(16)[8:16])[0]
        elif chunk_id == b"fmt ":
            block_align = struct.unpack("<H", handle.read(14)[12:14])[0]
        elif chunk_id == b"data":
            if size == UNKNOWN_32:
                size = wide_data_size
            return size // block_align if block_align and size is not None else None
    return None


def _w64_frames(handle: BinaryIO) -> int | None:
    """Sony Wave64: 16-byte GUID chunk names, 64-bit sizes that count the 24-byte chunk header,
    chunks aligned to 8 bytes."""
    handle.seek(40, io.SEEK_CUR)  # riff GUID, size, wave GUID
    block_align = None
    while True:
        header = handle.read(24)
        if len(header) < 24:
            return None
        name, size = header[:4], struct.unpack("<Q", header[16:24])[0]
        if size < 24:
            return None
        if name == b"fmt ":
            block_align = struct.unpack("<H", handle.read(size - 24)[12:14])[0]
            handle.seek(-size % 8, io.SEEK_CUR)
        elif name == b"data":
            return (size - 24) // block_align if block_align else None
        else:
            handle.seek(size - 24 + (-size % 8), io.SEEK_CUR)


def _aiff_frames(handle: BinaryIO) -> int | None:
    """AIFF and AIFC: the frame count of the COMM chunk (big-endian)."""
    if handle.read(12)[8:12] not in (b"AIFF", b"AIFC"):
        return None
    for chunk_id, _ in _chunks(handle, ">"):
        if chunk_id == b"COMM":
            return struct.unpack(">I", handle.read(6)[2:6])[0]
    return None


def _au_frames(handle: BinaryIO) -> int | None:
    """Sun/NeXT AU: the data size over the frame size, for the encodings of known width."""
    _, _, size, encoding, _, channels = struct.unpack(">4sIIIII", handle.read(24))
    width = _AU_SAMPLE_BYTES.get(encoding)
    if size == UNKNOWN_32 or width is None or channels == 0:
        return None
    return size // (width * channels)


def _sphere_frames(handle: BinaryIO) -> int | None:
    """NIST SPHERE (TIMIT's format): the text header's `sample_count -i N`."""
    header = handle.read(1024).decode("ascii", "replace")
    found = re.search(r"^sample_count -i (\d+)", header, re.MULTILINE)
    return int(found.group(1)) if found else None


_READERS: tuple[tuple[bytes, Callable[[BinaryIO], int | None]], ...] = (
    (b"RIFF", _riff_frames),
    (b"RF64", _riff_frames),
    (b"BW64", _riff_frames),
    (_W64_RIFF[:4], _w64_frames),
    (b"FORM", _aiff_frames),
    (b".snd", _au_frames),
    (b"NIST_1A", _sphere_frames),
)
