"""Lazy imports of optional and heavy dependencies, failing with an install hint."""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import UserError

_HINTS = {
    "pymilvus": "pip install 'vecrecall[milvus]'",
    "milvus_lite": "pip install 'vecrecall[milvus]'",
    "datasets": "pip install 'vecrecall[train]'",
    "accelerate": "pip install 'vecrecall[train]'",
}


def need(module: str) -> ModuleType:
    """Import `module` or raise a UserError saying which pip command installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        hint = _HINTS.get(top, f"pip install {top.replace('_', '-')}")
        raise UserError(f"this needs the Python package '{top}', which is not installed ({exc}); install it with: {hint}") from exc
