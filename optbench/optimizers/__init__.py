"""Built-in optimizers, one module per family; each registers through the ``optbench.optimizers``
entry points in ``pyproject.toml``. Importing this package imports no family."""
