"""Checks of the code base itself (not part of the public API)."""
