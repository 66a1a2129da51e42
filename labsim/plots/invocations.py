"""Figures for the chapter in progress (stub: filled in by the chapter's author)."""

__all__: list = []
