"""Data shipped with vecrecall: `sample_data/` (the demo's BEIR directory) and `configs/` (the default sweep grid).

In a checkout (and an editable install) they are the directories at the top of the repository, where the README's
commands use them; a wheel installs the same files as `vecrecall/sample_data` and `vecrecall/configs` (setup.py).
"""

from __future__ import annotations

from pathlib import Path

from .errors import UserError

SHIPPED = ("sample_data", "configs")


def data_dir(name: str) -> Path:
    """The installed directory `name` (one of SHIPPED). Raises UserError when the installation lacks it."""
    if name not in SHIPPED:
        raise ValueError(f"unknown shipped directory {name!r}; one of {', '.join(SHIPPED)}")
    package = Path(__file__).resolve().parent
    for candidate in (package / name, package.parent / name):  # wheel layout, then the checkout's
        if candidate.is_dir():
            return candidate
    raise UserError(f"{name}/ is not installed beside vecrecall ({package}); reinstall vecrecall, or pass the path")


def sample_data() -> Path:
    return data_dir("sample_data")


def default_sweep_config() -> Path:
    return data_dir("configs") / "sweep_default.yaml"
