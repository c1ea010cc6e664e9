import pytest

pytest_plugins = ["pytester"]

try:  # property-based tests: no timing deadlines (the machines are shared and noisy), the same examples on
    # every run and machine (a CI failure reproduces), and no example database left in the checkout
    from hypothesis import settings

    settings.register_profile("optbench", deadline=None, derandomize=True, database=None, max_examples=150)
    settings.load_profile("optbench")
except ImportError:  # hypothesis is in the test extra; without it only tests/test_properties.py is missing
    pass


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
