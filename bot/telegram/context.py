"""Typed callback context: handlers reach the core services as `context.services`."""

from __future__ import annotations

from dataclasses import dataclass, field

from telegram.ext import Application, CallbackContext, ExtBot

from ..app import App
from .tokens import ActionTokens

SERVICES = "services"


@dataclass
class Services:
    """Everything the Telegram handlers use; built once at start-up."""

    app: App
    tokens: ActionTokens = field(default_factory=ActionTokens)
    max_update_age_s: int = 120
    commands: frozenset[str] = frozenset()  # every command a handler takes (set once all are added)


class BotContext(CallbackContext[ExtBot, dict, dict, dict]):
    @property
    def services(self) -> Services:
        return self.application.bot_data[SERVICES]

    @classmethod
    def from_update(cls, update: object, application: Application) -> "BotContext":
        return super().from_update(update, application)
