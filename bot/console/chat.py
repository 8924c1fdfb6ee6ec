"""A terminal chat that behaves like one driver group, through the same pipeline as
Telegram. Suggestions are numbered; type the number to pick one. The drivers' commands
(/help, /ask, /complain, /today) work as in a Telegram group."""

from __future__ import annotations

import asyncio
import re
import sys
from typing import TextIO

from ..app import App
from ..events import ButtonPress, IncomingMessage, Reply
from .. import texts

BANNER = "司机之家助手 · 本地聊天（模拟一个司机群）。直接输入问题，/help 看说明，/quit 退出。"
COMMAND = re.compile(r"^/([A-Za-z0-9_]+)(.*)$", re.S)  # a command as Telegram marks one, then its text


class ConsoleChat:
    def __init__(self, app: App, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout):
        self.app = app
        self.pipeline = app.pipeline
        self.settings = app.settings.console
        self.stdin, self.stdout = stdin, stdout
        self._choices: list[str] = []
        self._choices_msg = 0
        self._seq = 0

    def _print(self, line: str) -> None:
        self.stdout.write(line + "\n")
        self.stdout.flush()

    def _show(self, replies: list[Reply]) -> None:
        for reply in replies:
            who = "助手" if reply.chat_id in (None, self.settings.chat_id) else f"助手 → {reply.chat_id}"
            self._print(f"{who}：" + reply.text.replace("\n", "\n      "))
            self._seq += 1
            self.pipeline.delivered(reply.chat_id or self.settings.chat_id, reply, self._seq)
            flat = [b for row in reply.buttons for b in row]
            if flat:
                self._choices = [b.action for b in flat]
                self._choices_msg = self._seq  # a pick presses a button of this message
                for i, b in enumerate(flat, 1):
                    self._print(f"  [{i}] {b.label}")

    async def handle_line(self, line: str) -> bool:
        """Process one typed line; False means quit."""
        line = line.strip()
        if not line:
            return True
        if line in ("/quit", "/exit", "/q"):
            return False
        self._seq += 1
        if line.isdigit() and self._choices and 1 <= int(line) <= len(self._choices):
            action = self._choices[int(line) - 1]
            self._choices = []
            outcome = await self.pipeline.handle_press(ButtonPress(self.settings.chat_id, self.settings.user_id,
                                                                   action, self._choices_msg))
            if outcome.notice:
                self._print(f"（{outcome.notice}）")
            self._show(outcome.replies)
            return True
        command = COMMAND.match(line)
        if command is None:
            self._show(await self.pipeline.handle_message(self._message(line)))
        else:
            self._show(await self._command(command[1].lower(), (command[2] or "").strip()))
        return True

    def _message(self, text: str, addressed: bool = False) -> IncomingMessage:
        return IncomingMessage(chat_id=self.settings.chat_id, user_id=self.settings.user_id, text=text,
                               user_name=self.settings.user_name, message_id=self._seq, addressed=addressed)

    async def _command(self, name: str, args: str) -> list[Reply]:
        if name in ("help", "start"):
            return [Reply(self.app.help_text())]
        if name == "ask":
            if not args:
                return [Reply(texts.ASK_USAGE)]
            return await self.pipeline.handle_message(self._message(args, addressed=True))
        if name == "complain" and self.app.tickets is not None:
            return await self.app.tickets.desk.complain(self._message(args, addressed=True), nlu=self.pipeline.nlu)
        if name == "today" and self.app.study is not None:
            return [Reply(self.app.study.today_text(self.settings.chat_id, group=True))]
        return [Reply(texts.UNKNOWN_COMMAND)]

    def run(self) -> None:
        asyncio.run(self.loop())

    async def loop(self) -> None:
        self._print(BANNER)
        interactive = self.stdin.isatty()
        while True:
            if interactive:
                self.stdout.write(f"{self.settings.user_name}：")
                self.stdout.flush()
            line = await asyncio.to_thread(self.stdin.readline)
            if not line or not await self.handle_line(line):
                break
        self._print("再见，一路平安！")
