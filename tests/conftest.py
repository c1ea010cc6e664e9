import pytest

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _isolated_plugin_registry():
    """Plugins a test loads in-process (chaos, degradable, local) stay out of every other test."""
    from optbench import plugins
    from optbench.registry import clear_cache

    saved = {group: dict(names) for group, names in plugins.LOCAL.items()}
    loaded = set(plugins._loaded)
    yield
    for group, names in saved.items():
        plugins.LOCAL[group] = names
    plugins._loaded.clear()
    plugins._loaded.update(loaded)
    clear_cache()
