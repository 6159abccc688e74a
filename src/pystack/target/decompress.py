"""Transparent support for compressed core files.

systemd-coredump stores cores compressed (zstd by default, lz4 or xz on some
systems) and cores shipped between machines are often gzipped.  The core
reader needs random access through mmap, so a compressed core is streamed
into a temporary file first and that file is read instead.

Why it looks like this:

* The format is detected from the magic bytes, never from the file name:
  systemd names its files ``core.*.zst`` but users rename them freely.
* Decompression streams in fixed-size chunks, so memory stays bounded
  whatever the size of the core.
* Cores are mostly zeros (kernel cores are sparse files; untouched heap and
  stack pages are zero), so all-zero chunks are skipped with a seek instead
  of written: the temporary file stays sparse, like the original core was.
* zstd and lz4 have no stdlib module; their PyPI packages are optional
  dependencies, and a missing one is reported with the command that
  installs it rather than with an ImportError.
"""
from __future__ import annotations

import errno
import os

from pystack.errors import EngineError
from pystack.records import TupleRecord

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: importing typing costs ~5 ms of every start
    from typing import BinaryIO, Callable, Optional

__all__ = ["detect", "decompress_to_tempfile", "Decompressed", "CompressedCoreError", "MAGICS"]

#: Magic bytes of each supported format, longest first where they share a prefix.
MAGICS: tuple[tuple[str, bytes], ...] = (
    ("xz", b"\xfd7zXZ\x00"),
    ("zstd", b"\x28\xb5\x2f\xfd"),
    ("lz4", b"\x04\x22\x4d\x18"),
    ("bzip2", b"BZh"),
    ("gzip", b"\x1f\x8b"),
)
_MAGIC_LEN = max(len(m) for _, m in MAGICS)

#: Chunk size for streaming: large enough to amortise Python overhead,
#: small enough to keep memory flat.
_CHUNK = 1 << 20
_ZERO_CHUNK: Optional[bytes] = None

#: The PyPI package providing each optional format.
_PACKAGES = {"zstd": "zstandard", "lz4": "lz4"}



class CompressedCoreError(EngineError):
    """A compressed core could not be decompressed (corrupt, unsupported, no space)."""


def detect(path: str) -> Optional[str]:
    """The compression format of `path` from its magic bytes, or None if it is not compressed."""
    try:
        with open(path, "rb") as f:
            head = f.read(_MAGIC_LEN)
    except OSError:
        return None
    for name, magic in MAGICS:
        if head.startswith(magic):
            return name
    return None


def _open_zstd(path: str) -> BinaryIO:
    import zstandard  # type: ignore[import-not-found]

    raw = open(path, "rb")
    dctx = zstandard.ZstdDecompressor()
    try:
        # systemd writes one frame, but concatenated frames are valid zstd too.
        return dctx.stream_reader(raw, read_across_frames=True, closefd=True)
    except TypeError:  # zstandard < 0.15 has neither keyword
        return dctx.stream_reader(raw)


def _open_lz4(path: str) -> BinaryIO:
    import lz4.frame  # type: ignore[import-not-found]

    return lz4.frame.open(path, "rb")


def _open_gzip(path: str) -> BinaryIO:
    import gzip

    return gzip.open(path, "rb")  # type: ignore[return-value]


def _open_xz(path: str) -> BinaryIO:
    import lzma

    return lzma.open(path, "rb")  # type: ignore[return-value]


def _open_bzip2(path: str) -> BinaryIO:
    import bz2

    return bz2.open(path, "rb")  # type: ignore[return-value]


# The stdlib modules are imported on use too: most cores are not compressed,
# and importing gzip/lzma/bz2/tempfile up front costs several milliseconds.
_OPENERS: dict[str, Callable[[str], BinaryIO]] = {
    "gzip": _open_gzip,
    "xz": _open_xz,
    "bzip2": _open_bzip2,
    "zstd": _open_zstd,
    "lz4": _open_lz4,
}


def _open_stream(path: str, fmt: str) -> BinaryIO:
    """A binary stream of the decompressed contents of `path`."""
    try:
        return _OPENERS[fmt](path)
    except ImportError as exc:
        package = _PACKAGES.get(fmt, fmt)
        raise CompressedCoreError(
            f"{path} is {fmt}-compressed; reading it needs the {package} package: "
            f"pip install {package}"
        ) from exc


def _zero_chunk() -> bytes:
    """One chunk of zeros to compare against, made on first use (not at import)."""
    global _ZERO_CHUNK
    if _ZERO_CHUNK is None:
        _ZERO_CHUNK = bytes(_CHUNK)
    return _ZERO_CHUNK


def _read_full(stream: BinaryIO, size: int) -> bytes:
    """Read up to `size` bytes, looping over short reads (zstd readers return less)."""
    data = stream.read(size)
    if not data or len(data) == size:
        return data
    parts = [data]
    got = len(data)
    while got < size:
        more = stream.read(size - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def _copy_sparse(stream: BinaryIO, out: BinaryIO, max_size: Optional[int]) -> tuple[int, bool]:
    """Copy `stream` to `out`, seeking over all-zero chunks.

    Returns (bytes produced, whether the stream ended early).  A stream cut
    short (EOFError: a partly copied or partly downloaded file) keeps what was
    decompressed, so that the core reader can treat it like any truncated core:
    early memory stays readable.  The chunk being decoded when the end was hit
    is lost, at most `_CHUNK` bytes.
    """
    total = 0
    ended_early = False
    while True:
        try:
            chunk = _read_full(stream, _CHUNK)
        except EOFError:
            ended_early = True
            break
        if not chunk:
            break
        total += len(chunk)
        if max_size is not None and total > max_size:
            raise CompressedCoreError(f"decompressed core exceeds the limit of {max_size} bytes")
        if len(chunk) == _CHUNK and chunk == _zero_chunk():
            out.seek(len(chunk), os.SEEK_CUR)
        else:
            out.write(chunk)
    # A trailing hole must still count towards the file size.
    out.truncate(total)
    return total, ended_early


class Decompressed(TupleRecord):
    """The result of decompressing a core: where it went and whether it was complete."""

    path: str  # the temporary file; the caller owns it and must delete it
    format: str
    size: int
    truncated: bool  # the compressed stream ended before its end marker


def decompress_to_tempfile(
    path: str, fmt: str, *, directory: Optional[str] = None, max_size: Optional[int] = None
) -> Decompressed:
    """Decompress `path` (of format `fmt`) into a new temporary file.

    The file goes to `directory` or $TMPDIR.  On any failure the partial file
    is removed before raising `CompressedCoreError`.
    """
    import tempfile

    stream = _open_stream(path, fmt)
    try:
        fd, tmp = tempfile.mkstemp(prefix="pystack-core-", dir=directory)
    except OSError as exc:
        stream.close()
        raise CompressedCoreError(f"cannot create a temporary file to decompress {path}: "
                                  f"{exc.strerror or exc}") from exc
    try:
        with stream, os.fdopen(fd, "wb") as out:
            size, truncated = _copy_sparse(stream, out, max_size)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        error = _translate(exc, path, fmt, tmp)
        if error is exc:
            raise
        raise error from exc
    return Decompressed(tmp, fmt, size, truncated)


def _translate(exc: BaseException, path: str, fmt: str, tmp: str) -> BaseException:
    """The error to report for `exc` raised while decompressing (itself if it is not ours)."""
    if isinstance(exc, CompressedCoreError):
        return exc
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return CompressedCoreError(
            f"no space to decompress {path} into {os.path.dirname(tmp)}: set TMPDIR elsewhere"
        )
    if isinstance(exc, _corrupt_errors()) or _is_package_error(exc):
        return CompressedCoreError(f"{path}: corrupt {fmt} data ({exc})")
    return exc


def _corrupt_errors() -> tuple[type[BaseException], ...]:
    """Errors the stdlib decompressors raise on corrupt input (gzip raises BadGzipFile, an OSError)."""
    import lzma
    import zlib

    return (OSError, EOFError, ValueError, lzma.LZMAError, zlib.error)


def _is_package_error(exc: BaseException) -> bool:
    """Whether `exc` comes from the zstandard/lz4 packages (their own error classes)."""
    module = type(exc).__module__ or ""
    return module.startswith(("zstandard", "lz4", "_lz4"))
