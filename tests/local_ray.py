"""A local Ray for tests whose job bodies live in the test module itself.

Ray is started once and left running for the session (starting it takes
5-18 s here); the session's last hook stops it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from ray import cloudpickle  # Ray's own copy: the one that pickles task bodies

from fraudlens.settings import Settings
from training.ray_runtime import ensure_ray


@contextmanager
def local_ray(module: str) -> Iterator[None]:
    """Start Ray if needed and ship ``module``'s functions by value while the block runs."""
    ensure_ray(Settings().training)
    cloudpickle.register_pickle_by_value(sys.modules[module])
    try:
        yield
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[module])
