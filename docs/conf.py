"""Sphinx configuration of brian2_hetero's documentation."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

import brian2_hetero  # noqa: E402

project = "brian2_hetero"
author = "The brian2_hetero authors"
copyright = "the brian2_hetero authors; CeCILL 2.1"
release = brian2_hetero.__version__
version = ".".join(release.split(".")[:2])

extensions = ["myst_parser", "sphinx.ext.autodoc", "numpydoc"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build"]
# `name` in docstrings names a Python object, as in Brian's documentation
default_role = "py:obj"
# headings down to ### get anchors that links between pages can name
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]
# the members of a class are listed where the reference names them
numpydoc_show_class_members = False
autodoc_member_order = "bysource"
html_theme = "alabaster"
html_static_path = []
