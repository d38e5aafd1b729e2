"""Bag errors: one exception type for every unreadable/unwritable bag, with the path in the message."""

from __future__ import annotations


class BagError(Exception):
    """A bag cannot be opened, read or written; the message says which file and why."""
