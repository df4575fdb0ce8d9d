"""The voice tests run on the same module-scoped bot and fake Bot API as tests/telegram/test_bot.py."""

from tests.telegram.test_bot import bot, fake  # noqa: F401  (fixtures)
