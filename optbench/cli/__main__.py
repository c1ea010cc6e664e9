"""``python -m optbench.cli``: the ``optbench`` command."""

from optbench.cli.main import main

raise SystemExit(main())
