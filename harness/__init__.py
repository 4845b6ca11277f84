"""mskbench harness: registry, metrics, model protocol, training, runner, store and CLI.

Submodules are imported on first attribute access so `import harness` (and `bench --help`)
stays fast and never imports torch.
"""

from mskbench.harness.registry import Registry, UnknownNameError, load_reference

__all__ = ["Registry", "UnknownNameError", "load_reference"]
