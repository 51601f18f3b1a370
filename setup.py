"""Packaging beyond pyproject.toml: sample_data/ and configs/ ship inside the package.

They stay at the top of the checkout, where the README's commands use them (`--corpus sample_data`,
`--config configs/sweep_default.yaml`), and are installed as vecrecall/sample_data and vecrecall/configs, where
`vecrecall demo` and `sweep`'s default grid find them in a wheel install (vecrecall.resources.data_dir).
Metadata, dependencies and the data file patterns are in pyproject.toml.
"""

from setuptools import find_packages, setup

SHIPPED = {"vecrecall.sample_data": "sample_data", "vecrecall.configs": "configs"}

setup(packages=[*find_packages(include=["vecrecall", "vecrecall.*"]), *SHIPPED, "vecrecall.sample_data.qrels"],
      package_dir=SHIPPED)
