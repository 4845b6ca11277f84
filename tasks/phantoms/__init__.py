"""Procedural phantoms: each task's default data, deterministic and cached on disk."""

from mskbench.tasks.phantoms.prepare import (
    cache_root,
    default_phantom_dir,
    n_phantom_cases,
    phantom_cases,
    phantom_fingerprint,
    prepare_phantom,
)

__all__ = [
    "cache_root",
    "default_phantom_dir",
    "n_phantom_cases",
    "phantom_cases",
    "phantom_fingerprint",
    "prepare_phantom",
]
