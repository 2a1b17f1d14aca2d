"""A local Ray for tests whose job bodies live in the test module itself."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import ray
from ray import cloudpickle  # Ray's own copy: the one that pickles task bodies

from fraudlens.settings import Settings
from training.ray_runtime import ensure_ray


@contextmanager
def local_ray(module: str) -> Iterator[None]:
    """Start Ray if needed (left as found) and ship ``module``'s functions by value."""
    started = not ray.is_initialized()
    ensure_ray(Settings().training)
    cloudpickle.register_pickle_by_value(sys.modules[module])
    try:
        yield
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[module])
        if started:
            ray.shutdown()
