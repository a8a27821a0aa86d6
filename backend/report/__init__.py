"""HTML run reports shared by all commands."""

from backend.report.html import HtmlReport

__all__ = ["HtmlReport"]
