"""Deprecated: this module is now :mod:`memcatalog.validation`; call ``memcatalog.validate(...)``.

``from memcatalog.validate import validate`` keeps working for one release, with a
``DeprecationWarning``. While this module is imported it is the attribute
``memcatalog.validate`` (Python sets a package's submodules on it), so the module itself
is callable and forwards to :func:`memcatalog.validation.validate`: ``memcatalog.validate(batch,
schema)`` works whether or not anything imported the old path.
"""

from __future__ import annotations

import sys
import types
import warnings
from typing import TYPE_CHECKING

from memcatalog.validation import Batch, validate

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.schema import Schema

__all__ = ["Batch", "validate"]

warnings.warn(
    "memcatalog.validate is deprecated and goes away in the next release: "
    "use `from memcatalog import validate` (the module is now memcatalog.validation)",
    DeprecationWarning,
    stacklevel=2,
)


class _CallableModule(types.ModuleType):
    """This module, callable as the function it used to shadow."""

    def __call__(self, data: Batch, schema: Schema, *, ignore_unknown_fields: bool = False) -> pa.Table:
        return validate(data, schema, ignore_unknown_fields=ignore_unknown_fields)


sys.modules[__name__].__class__ = _CallableModule
