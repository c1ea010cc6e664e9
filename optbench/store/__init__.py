"""Where results live: the SQLite store (the embedded default) and the checks on paths it writes to."""

from optbench.store.owners import current_owner, owner_alive
from optbench.store.sqlite import SCHEMA_VERSION, Store

__all__ = ["SCHEMA_VERSION", "Store", "current_owner", "owner_alive"]
