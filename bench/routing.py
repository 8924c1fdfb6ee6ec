"""Question or ticket? What a group message ends as, through the real message pipeline.

python -m bench.routing: builds the app as `driverhome chat` does (embedded NLU, dense
retrieval, tickets, a SQLite file in a temporary folder) once per retrieval set, seeded with
that set's KB, and sends every in-scope question of the set as a group message from a
member of their own (so flood limits and repeat pointers stay out of the way); then the
labelled messages of the NLU sets (nlu/data/) against the shipped KB. From the replies it
counts messages filed as tickets, offered with buttons (要不要登记成诉求), given any reply at
all, answered with the right entry, and shown the right entry at all (answered, or among the
suggestion buttons); the sets' out-of-scope queries are sent too (one row for all).

The "NLU alone" columns are the reference: what the NLU's thresholds decided before the FAQ
was asked first (complaint_threshold → filed, confirm_threshold → offered, chit-chat →
silent, otherwise the FAQ's decision), computed from the same readings.
Figures are printed, nothing is asserted (tests/test_pipeline_routing.py asserts)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import tempfile
from pathlib import Path

from bench.evalsets import ROOT, SETS
from bot.app import App
from bot.config import load_settings
from bot.events import IncomingMessage
from bot.tickets import texts as ticket_texts
from knowledge_base.evaluate import load_queries
from knowledge_base.retriever import ANSWER, SUGGEST
from nlu.evaluate import load_messages

NLU_SETS = {"nlu test": ROOT / "nlu" / "data" / "test_messages.yml",
            "nlu unseen": ROOT / "nlu" / "data" / "unseen_messages.yml"}
OFFERS = (ticket_texts.ASK_CONFIRM, ticket_texts.ASK_AFTER_FAQ)
_SENDER = itertools.count(1)  # every message from a member (and a group) of its own


def build_app(kb_file: Path, folder: Path) -> App:
    settings = load_settings(ROOT / "config.yml")
    kb = settings.knowledge_base.model_copy(update={"faq_file": kb_file})
    nlu = settings.nlu.model_copy(update={"backend": "embedded"})
    settings = settings.model_copy(update={"knowledge_base": kb, "nlu": nlu, "database_url": f"sqlite:///{folder}/routing.db",
                                           "telegram_bot_token": None})
    return App.build(settings)


async def outcomes(app: App, items: list[tuple[str, str | None]]) -> dict[str, int]:
    """items: (text, expected entry id or None). Counts per outcome, with the reference's."""
    n = {k: 0 for k in ("n", "filed", "offered", "replied", "right", "shown",
                        "a_filed", "a_offered", "a_replied", "a_right", "a_shown")}
    tickets = app.settings.tickets
    for text, expect in items:
        i = next(_SENDER)
        msg = IncomingMessage(chat_id=-10_000 - i, user_id=10_000 + i, text=text, message_id=i)
        replies = await app.pipeline.handle_message(msg)
        answer = app.kb.get(expect).answer if expect else None
        right = any(r.text == answer for r in replies)
        offered_ids = {b.action.split(":", 1)[1] for r in replies for row in r.buttons for b in row
                       if b.action.startswith("faq:")}
        n["n"] += 1
        n["filed"] += any("SQ-" in r.text for r in replies)
        n["offered"] += any(r.text in OFFERS for r in replies)
        n["replied"] += bool(replies)
        n["right"] += right
        n["shown"] += right or expect in offered_ids
        # the reference: the NLU's thresholds first, then the FAQ
        u = app.pipeline.nlu.embedded.parse(text)
        d = app.kb.ask(text)
        c = u.confidence if u.kind == "complaint" else 0.0
        if c >= tickets.complaint_threshold:
            n["a_filed"] += 1
            n["a_replied"] += 1
        elif c >= tickets.confirm_threshold:
            n["a_offered"] += 1
            n["a_replied"] += 1
        elif u.kind != "chitchat":
            n["a_replied"] += d.decision in (ANSWER, SUGGEST)
            hit = d.decision == ANSWER and d.faq_id == expect
            n["a_right"] += hit
            n["a_shown"] += hit or (d.decision == SUGGEST and expect in d.suggestions)
    return n


def row(name: str, n: dict[str, int], scored: bool) -> str:
    def share(key: str) -> str:
        return f"{n[key] / n['n']:.3f}" if scored and n["n"] else "-"

    return (f"| {name} | {n['n']} | {n['filed']} | {n['offered']} | {n['replied']} | {share('right')} | "
            f"{share('shown')} | {n['a_filed']} | {n['a_offered']} | {n['a_replied']} | {share('a_right')} | "
            f"{share('a_shown')} |")


async def run() -> None:
    print("| messages | n | filed | offered | any reply | answered right | right entry shown "
          "| NLU alone: filed | offered | any reply | answered right | right entry shown |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    total: dict[str, int] = {}
    outside: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (kb_file, query_file) in SETS.items():
            folder = Path(tmp) / name
            folder.mkdir()
            app = build_app(kb_file, folder)
            try:
                queries = load_queries(query_file)
                n = await outcomes(app, [(q["q"], q["expect"]) for q in queries if q["expect"] is not None])
                oos = await outcomes(app, [(q["q"], None) for q in queries if q["expect"] is None])
            finally:
                app.close()
            total = {k: total.get(k, 0) + v for k, v in n.items()}
            outside = {k: outside.get(k, 0) + v for k, v in oos.items()}
            print(row(f"{name} questions", n, True))
        print(row("all retrieval questions", total, True))
        print(row("all out-of-scope queries", outside, False))
        folder = Path(tmp) / "nlu"
        folder.mkdir()
        app = build_app(SETS["dev"][0], folder)
        try:
            for name, path in NLU_SETS.items():
                msgs = load_messages(path)
                for kind in ("complaint", "question", "chitchat"):
                    n = await outcomes(app, [(m["text"], None) for m in msgs if m["kind"] == kind])
                    print(row(f"{name}: {kind}", n, False))
        finally:
            app.close()


def main() -> None:
    logging.disable(logging.WARNING)
    asyncio.run(run())


if __name__ == "__main__":
    main()
