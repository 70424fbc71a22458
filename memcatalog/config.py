"""Every property key memcatalog reads, its default, and its unit.

One place, like diskcache's defaults table: a key used anywhere else is imported from here.
"""

from __future__ import annotations

import decimal
import re

# --- pool -----------------------------------------------------------------
DEFAULT_QUOTA = 2**30  # bytes: 1 GiB
DEFAULT_QUOTA_TEXT = "1GiB"  # DEFAULT_QUOTA as the command line and the pytest plugin show it
DEFAULT_ALERT_THRESHOLDS = (0.80, 0.95)  # fractions of the quota

# --- catalog properties ---------------------------------------------------
URI = "uri"  # SQLAlchemy URL of the registry
DEFAULT_URI = "sqlite:///:memory:"
WAREHOUSE = "warehouse"  # default: memcat://<catalog name>/
QUOTA = "quota"  # bytes or a size string ("512MiB"); applies to the catalog's pool
POOL = "pool"  # pool name; catalogs naming the same pool share it. Default: the catalog name
SQLITE_BUSY_TIMEOUT = "sqlite.busy-timeout-ms"
DEFAULT_SQLITE_BUSY_TIMEOUT_MS = 30_000  # milliseconds
METADATA_CACHE_SIZE = "metadata-cache-size"
DEFAULT_METADATA_CACHE_SIZE = 512  # parsed metadata files kept per catalog
RECLAIM_ON_QUOTA = "reclaim-on-quota"  # true: a write that would pass the quota first deletes old orphans
DEFAULT_RECLAIM_ON_QUOTA = "false"
RECLAIM_GRACE_SECONDS = "reclaim-grace-seconds"
DEFAULT_RECLAIM_GRACE_SECONDS = 60  # seconds: younger unreferenced files may belong to a commit in flight
ECHO = "echo"  # SqlCatalog's: true, false or debug (SQLAlchemy logs statements; debug adds result rows)
DEFAULT_ECHO = "false"
POOL_PRE_PING = "pool_pre_ping"  # SqlCatalog's; default: on for server registries, off for SQLite
PY_IO_IMPL = "py-io-impl"  # pyiceberg's: the dotted class path of the FileIO
FILE_IO_IMPL = "memcatalog.fileio.MemFileIO"  # MemCatalog's default for PY_IO_IMPL
PY_CATALOG_IMPL = "py-catalog-impl"  # pyiceberg's: the dotted class path of a custom catalog
CATALOG_TYPE = "type"  # pyiceberg's: which built-in catalog (sql, rest, ...)

# --- TableWriter (catalog.writer(...)) ------------------------------------
DEFAULT_WRITER_BUFFER_BYTES = 64 * 2**20  # bytes of Arrow data held before a flush: 64 MiB
DEFAULT_TARGET_FILE_SIZE = 128 * 2**20  # bytes: 128 MiB per data file ...
TARGET_FILE_SIZE_QUOTA_DIVISOR = 4  # ... but at most a quarter of the pool's quota
DEFAULT_COMPRESSION = "zstd"  # Parquet codec of written data files

# --- transfers (save, restore, import, export) ----------------------------
COPY_CHUNK_BYTES = 8 * 2**20  # bytes copied per read: 8 MiB

# --- REST server (memcatalog serve) ---------------------------------------
DEFAULT_MAX_REQUEST_BYTES = 64 * 2**20  # bytes: 64 MiB, far above any metadata commit

# --- URLs -----------------------------------------------------------------
PROTOCOL = "memcat"
SCHEME_PREFIX = "memcat://"  # URLs are built and parsed only in memcatalog.urls
CHAINED_PREFIX = "memcat::"  # fsspec's chained-URL form: memcat::pool/key

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "t": 1000**4,
    "tb": 1000**4,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


MAX_SIZE = 2**63 - 1  # bytes: the largest size an Arrow buffer length (int64) can hold
_SIZE_FORMS = "give bytes as an integer or a string such as '512MiB', '2GB' or '1073741824'"


def parse_size(value: int | float | str) -> int:
    """Turn ``1073741824``, ``"512MiB"`` or ``"2GB"`` into a positive number of bytes.

    Raises:
        ValueError: the value is not a positive size of at most 8 EiB; the message shows the accepted forms.
    """
    if isinstance(value, bool):
        raise ValueError(f"invalid size {value!r}: {_SIZE_FORMS}")
    if isinstance(value, (int, float)):
        number, unit = _exact(value), ""
    else:
        match = _SIZE_RE.match(str(value))
        if not match or match.group(2).lower() not in _UNITS:
            raise ValueError(f"invalid size {_shown(value)}: {_SIZE_FORMS}")
        number, unit = decimal.Decimal(match.group(1)), match.group(2).lower()
    if number is None or not number.is_finite():
        raise ValueError(f"invalid size {_shown(value)}: {_SIZE_FORMS}")
    size = int(number * _UNITS[unit])
    if size <= 0:
        raise ValueError(f"invalid size {_shown(value)}: a size must be positive; {_SIZE_FORMS}")
    if size > MAX_SIZE:
        raise ValueError(f"invalid size {_shown(value)}: at most {MAX_SIZE} bytes (8 EiB); {_SIZE_FORMS}")
    return size


def _exact(value: int | float) -> decimal.Decimal | None:
    # Decimal arithmetic: a float would overflow to inf (OverflowError on int()) and round large integers.
    try:
        return decimal.Decimal(value)
    except (ValueError, decimal.InvalidOperation):
        return None


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:40]}... ({len(str(value))} characters)"


def format_size(size: float) -> str:
    """Render a byte count the way errors and tables show it: ``12.0 MiB``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(size) < 1024 or unit == "GiB":
            return f"{size:.0f} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")
