"""Rendering of results: rich tables for the terminal (HTML, Markdown and plots come later)."""
