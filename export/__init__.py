"""Export: a project as a Terraform configuration directory (HCL, state, lock file).

``bundle`` assembles the files from what the worker gathered (``activities/export.py``),
``hcl`` writes the Terraform language, ``state`` the version-4 state file, and
``envelope`` carries the files sealed from the worker to the server.
"""

from export.bundle import ExportFiles, ExportProvider, ExportResource, build_files
from export.envelope import open_files, seal_files
from export.state import lineage_of

__all__ = [
    "ExportFiles",
    "ExportProvider",
    "ExportResource",
    "build_files",
    "lineage_of",
    "open_files",
    "seal_files",
]
