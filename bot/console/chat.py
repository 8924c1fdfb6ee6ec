"""A terminal chat that behaves like one driver group, through the same pipeline as
Telegram. Suggestions are numbered; type the number to pick one."""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from ..config import ConsoleSettings
from ..events import ButtonPress, IncomingMessage, Reply
from ..pipeline import MessagePipeline
from .. import texts

BANNER = "司机之家助手 · 本地聊天（模拟一个司机群）。直接输入问题，/help 看说明，/quit 退出。"


class ConsoleChat:
    def __init__(self, pipeline: MessagePipeline, settings: ConsoleSettings,
                 stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout):
        self.pipeline = pipeline
        self.settings = settings
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
        if line in ("/help", "/start"):
            self._print("助手：" + texts.HELP)
            return True
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
        addressed = line.startswith("/ask")
        if addressed:
            line = line[4:].strip()
            if not line:
                self._print("助手：" + texts.ASK_USAGE)
                return True
        msg = IncomingMessage(chat_id=self.settings.chat_id, user_id=self.settings.user_id, text=line,
                              user_name=self.settings.user_name, message_id=self._seq, addressed=addressed)
        self._show(await self.pipeline.handle_message(msg))
        return True

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
