"""Launch errors carry the file and line they come from, so a user can jump straight to the fault."""

from __future__ import annotations

from pathlib import Path


class LaunchError(Exception):
    """A launch file, argument or executable problem; ``str()`` reads ``file:line: message``."""

    def __init__(self, message: str, file: str | Path | None = None, line: int | None = None) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line
        where = ""
        if self.file:
            where = f"{self.file}:{line}: " if line else f"{self.file}: "
        super().__init__(where + message)
