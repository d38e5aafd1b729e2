"""toponav: topological exploration and learned navigation for ROS 2.

The installed package maps the repository folders ``sim/``, ``models/`` and ``ros_nodes/`` onto
``toponav.sim``, ``toponav.models`` and ``toponav.ros_nodes`` (see setup.py). When this file is
imported straight from a source checkout (tests, ``python -m`` from the repo root, editable
installs), the repository root is added to this package's search path so the same names resolve
without an install step.
"""

from pathlib import Path

__version__ = "0.1.0"

_SOURCE_ROOT = Path(__file__).resolve().parent.parent
if (_SOURCE_ROOT / "package.xml").is_file() and (_SOURCE_ROOT / "ros_nodes").is_dir():
    __path__.append(str(_SOURCE_ROOT))
