"""``python -m optbench``: the command line, as the ``optbench`` script."""

from optbench.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
