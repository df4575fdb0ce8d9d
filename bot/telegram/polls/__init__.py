"""Polls in Telegram: residents vote (vote.py), admins create and close polls (wizard.py, parse.py)."""

from __future__ import annotations

from telegram.ext import BaseHandler, ConversationHandler, filters

from bot.telegram.polls import vote, wizard

COMMANDS = vote.COMMANDS
ADMIN_COMMANDS = wizard.ADMIN_COMMANDS


def handlers(admins: filters.BaseFilter) -> list[BaseHandler]:
    """/khaosat, the vote buttons, and /dongkhaosat for admins."""
    return [*vote.handlers(), *wizard.handlers(admins)]


def create_conversation(admins: filters.BaseFilter) -> ConversationHandler:
    """The persistent step-by-step poll creation for admins (/taokhaosat)."""
    return wizard.create_conversation(admins)
