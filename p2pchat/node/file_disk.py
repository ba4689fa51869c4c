"""Files on disk: hashing a file to offer it, checking a partial file at resume, choosing a
free name in the downloads folder, and the free-space check. Blocking: the long ones run in a
thread (`asyncio.to_thread`)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from p2pchat.core.file_records import CHUNK_SIZE
from p2pchat.core.files import HASH_LEN, chunk_count, chunk_hash, chunk_len, numbered, root_hash

FREE_SPACE_MARGIN = 16 * 1024 * 1024  # left free on the disk after a download
MAX_NAME_TRIES = 1000


def hash_file(path: Path) -> tuple[int, bytes, bytes]:
    """(size, chunk hashes, root) of a file, reading it once."""
    hashes = bytearray()
    size = 0
    with path.open("rb") as handle:
        while True:  # bounded by the file's size
            data = handle.read(CHUNK_SIZE)
            if not data and size:
                break
            hashes += chunk_hash(data)
            size += len(data)
            if len(data) < CHUNK_SIZE:
                break
    return size, bytes(hashes), root_hash(size, bytes(hashes))


def verify_part(path: str, size: int, hashes: bytes, have: bytes) -> bytearray:
    """Of the chunks marked in `have`, those that really are in the partial file."""
    out = bytearray(len(have))
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return out
    try:
        for index in range(chunk_count(size)):
            if have[index >> 3] & (1 << (index & 7)):
                data = os.pread(fd, chunk_len(size, index), index * CHUNK_SIZE)
                if chunk_hash(data) == hashes[index * HASH_LEN:(index + 1) * HASH_LEN]:
                    out[index >> 3] |= 1 << (index & 7)
    finally:
        os.close(fd)
    return out


def verify_and_write(fd: int, data: bytes | memoryview, offset: int, expected: bytes) -> bool:
    """Write a received chunk if it has the hash it must have (run in the writer thread:
    hashing and writing release the GIL, so the event loop decrypts the next chunk meanwhile)."""
    if chunk_hash(data) != expected:
        return False
    os.pwrite(fd, data, offset)
    return True


def finish_part(fd: int, size: int) -> None:
    """The partial file is complete: cut it to its size and make it durable."""
    os.ftruncate(fd, size)
    os.fsync(fd)


def place(part: str, folder: Path, name: str) -> Path:
    """Give the complete partial file the first free name in `folder` ("a.pdf", "a (1).pdf",
    ...): a hard link never replaces a file; then drop the partial name."""
    for n in range(MAX_NAME_TRIES):
        final = folder / numbered(name, n)
        try:
            os.link(part, final)
        except FileExistsError:
            continue
        os.unlink(part)
        return final
    raise OSError(0, f"no free name for {name}")


def space_problem(folder: Path, size: int) -> str | None:
    """Why a file of `size` bytes cannot be saved in `folder`, or None."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(folder).free
    except OSError as exc:
        return f"cannot use {folder}: {exc.strerror}"
    if free < size + FREE_SPACE_MARGIN:
        return (f"not enough free space in {folder}: the file needs {size} bytes, "
                f"{free} are free")
    return None
