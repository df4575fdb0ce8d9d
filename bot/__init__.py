"""Hà Nội citizen-engagement bot: sourced answers, feedback and opinion polls."""

__version__ = "0.1.0"
