"""Trial execution: seeding, device placement, timing and executors; installed as ``optbench.runners``."""
