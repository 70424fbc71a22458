"""Deprecated: ``save``/``restore`` live in :mod:`memcatalog.archive`, ``import_table``/``export_table`` in :mod:`memcatalog.tablecopy`.

This module re-exports them for one release; import from ``memcatalog`` itself or from the new modules.
"""

from __future__ import annotations

import warnings

from memcatalog.archive import FORMAT, MANIFEST, restore, save
from memcatalog.errors import SaveFormatError
from memcatalog.tablecopy import export_table, import_table

__all__ = ["FORMAT", "MANIFEST", "SaveFormatError", "export_table", "import_table", "restore", "save"]

warnings.warn(
    "memcatalog.transfer is deprecated and goes away in the next release: import save and restore from "
    "memcatalog.archive, import_table and export_table from memcatalog.tablecopy (or all four from memcatalog)",
    DeprecationWarning,
    stacklevel=2,
)
