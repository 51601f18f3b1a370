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


def need(module: str, hint: str | None = None) -> ModuleType:
    """Import `module` or raise a UserError saying which pip command installs it (`hint`, e.g. the optional extra
    that brings it; by default the one in _HINTS or `pip install <module>`)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        hint = hint or _HINTS.get(top, f"pip install {top.replace('_', '-')}")
        raise UserError(f"this needs the Python package '{top}', which is not installed ({exc}); install it with: {hint}") from exc


class LazyModule:
    """A module imported on first attribute access (`faiss = LazyModule("faiss")`), so a module can name a heavy
    library at top level and still be imported cheaply (backend declarations are read by `vecrecall --help`).
    A missing optional package raises the same UserError with an install hint as `need` (`hint`: the pip command,
    so a backend module names its own extra without an entry here)."""

    def __init__(self, name: str, hint: str | None = None) -> None:
        self.__dict__["_name"] = name
        self.__dict__["_hint"] = hint
        self.__dict__["_module"] = None

    def __getattr__(self, attr: str):  # called only for names not in __dict__
        module = self.__dict__["_module"]
        if module is None:
            module = self.__dict__["_module"] = need(self.__dict__["_name"], self.__dict__["_hint"])
        return getattr(module, attr)
