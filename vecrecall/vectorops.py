"""Small vector operations shared by encoding, indexing and querying (kept apart from `encoders`, whose imports —
sqlite3 for the cache, the exported-model registry — `vecrecall query` does not need)."""

from __future__ import annotations

import numpy as np


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Rows divided by their L2 norm (zero rows stay zero); (n, dim) → (n, dim), a new array."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms == 0, 1.0, norms)
