"""Built-in problem families, one module each; installed as ``optbench.problems``.

Each family registers through the ``optbench.problems`` entry points in ``pyproject.toml``.
Importing this package imports no family.
"""
