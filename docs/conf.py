"""Sphinx configuration of optbench's documentation (``make docs``: warnings are errors, tutorials run)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

import optbench  # noqa: E402  (after the extension path)

project = "optbench"
author = "the optbench developers"
copyright = "2026, the optbench developers"
release = optbench.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
    "sphinx_gallery.gen_gallery",
    "optbench_cli",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
exclude_patterns = ["_build", "generated/**", "tutorials/README.txt", "tutorials/*.py"]
templates_path: list[str] = []

html_theme = "furo"
html_title = f"optbench {release}"
html_static_path = ["_static"]

autodoc_member_order = "bysource"
# a docstring's "Attributes:" section as fields of the class, not as second entries beside the dataclass's own
napoleon_use_ivar = True
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "undoc-members": False}
# no network while building: intersphinx only where a local inventory is given
intersphinx_mapping: dict[str, tuple[str, str | None]] = {}
nitpicky = False

# the tutorials are Python scripts run by sphinx-gallery on every build; each one is an end-to-end use of
# the shipped package (real trials, a real store in a temporary folder), and a failing script fails the build
sphinx_gallery_conf = {
    "examples_dirs": ["tutorials"],
    "gallery_dirs": ["auto_tutorials"],
    "filename_pattern": r"/\d\d_",
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "show_memory": False,
    "plot_gallery": os.environ.get("OPTBENCH_DOCS_RUN", "1") != "0",
}
