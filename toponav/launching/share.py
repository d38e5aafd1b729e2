"""Find ``share/<package>`` the way ``$(find-pkg-share ...)`` does, without ament_index_python.

ament_index_python only reads AMENT_PREFIX_PATH, which a pip venv leaves unset. toponav can be
installed three ways, and each puts share/toponav somewhere else:

* colcon install tree: ``<install>/toponav/share/toponav`` (AMENT_PREFIX_PATH set once sourced;
  otherwise found from where the imported ``toponav`` package lives);
* non-editable ``pip install``: data_files under the venv prefix, ``<sys.prefix>/share/toponav``;
* editable install / source checkout: no share folder at all, the repository root holds
  package.xml, launch/ and config/ and stands in for it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from toponav.launching.errors import LaunchError

_MARKER = Path("share/ament_index/resource_index/packages")
#: the module toponav's node processes start through (``python -m``; it makes SIGINT at start-up exit 0)
ENTRY_MODULE = "toponav.ros_nodes.entry"


def _prefix_share(prefix: Path, package: str) -> Path | None:
    if (prefix / _MARKER / package).is_file() and (prefix / "share" / package).is_dir():
        return prefix / "share" / package
    return None


def _toponav_candidates() -> list[Path]:
    """share/toponav candidates next to the imported toponav package: install tree, then source tree."""
    import toponav

    pkg_dir = Path(toponav.__file__).resolve().parent
    out: list[Path] = []
    # <prefix>/lib/pythonX.Y/site-packages/toponav -> <prefix>
    if len(pkg_dir.parents) > 3:
        prefix = pkg_dir.parents[3]
        if (found := _prefix_share(prefix, "toponav")) is not None:
            out.append(found)
    root = pkg_dir.parent
    if (root / "package.xml").is_file() and (root / "launch").is_dir():
        out.append(root)
    return out


def find_package_share(package: str) -> Path:
    """Absolute share directory of ``package``; :class:`LaunchError` when no install has it."""
    for entry in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        if entry and (found := _prefix_share(Path(entry), package)) is not None:
            return found
    if package == "toponav":
        candidates = _toponav_candidates()
        if candidates:
            return candidates[0]
    if (found := _prefix_share(Path(sys.prefix), package)) is not None:
        return found
    raise LaunchError(
        f"package '{package}' not found: not in AMENT_PREFIX_PATH, not under {sys.prefix}/share "
        "(source an install tree's setup script or install the package)"
    )


def find_executable(package: str, executable: str) -> list[str]:
    """Command line that runs ``executable`` of ``package``.

    toponav's own nodes run as ``python -m toponav.ros_nodes.entry <exec>`` with this interpreter, so the
    launched code is always the code the launcher itself imports (source tree, venv or install
    tree alike), and a SIGINT during the node's imports still ends it with code 0 (ros_nodes/entry.py).
    Other packages are looked up as ``<prefix>/lib/<package>/<exec>``.
    """
    if package == "toponav":
        import importlib.util

        module = f"toponav.ros_nodes.{executable}"
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            spec = None
        if spec is not None:
            return [sys.executable, "-m", ENTRY_MODULE, executable]
        raise LaunchError(f"package 'toponav' has no executable '{executable}' (no module {module})")
    prefixes = [p for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p] + [sys.prefix]
    for prefix in prefixes:
        candidate = Path(prefix) / "lib" / package / executable
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return [str(candidate)]
    raise LaunchError(f"executable '{executable}' of package '{package}' not found under {prefixes}")
