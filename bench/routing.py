"""Question or ticket? What a group message ends as, with the embedded NLU and the FAQ together.

python -m bench.routing: for the in-scope questions of the retrieval sets (bench/evalsets.py,
each against its own KB) and the labelled messages of the NLU sets (nlu/data/, against the
shipped KB) it prints how many are filed as tickets at once, offered with buttons, or left to
the FAQ (`bot.tickets.intake.complaint_action`, the rule the pipeline applies), and how many
retrieval questions get the right answer, or see the right entry at all (answered, or among
the suggestions, which go out unless the message is filed). The "NLU alone" columns are what the classifier's
thresholds would do without the FAQ and the wording check: the order the bot had before.
Figures are printed, nothing is asserted (tests/test_pipeline_routing.py asserts)."""

from __future__ import annotations

import logging
from pathlib import Path

from bench.evalsets import ROOT, config_settings, load_sets
from bot.config import load_settings
from bot.tickets.intake import ASK, FILE, complaint_action
from knowledge_base.retriever import ANSWER, SUGGEST
from nlu.evaluate import load_messages
from nlu.service import NluService

NLU_SETS = {"nlu test": ROOT / "nlu" / "data" / "test_messages.yml",
            "nlu unseen": ROOT / "nlu" / "data" / "unseen_messages.yml"}


def _row(name: str, items: list[tuple], nlu, tickets) -> str:
    """items: (text, retriever, expected entry id or None). One table row."""
    n = filed = offered = right = shown = alone_file = alone_ask = alone_right = alone_shown = 0
    for text, retriever, expect in items:
        u = nlu.parse(text)
        d = retriever.search(text)
        answered = d.decision == ANSWER
        action = complaint_action(u, text, tickets, answered)
        n += 1
        filed += action == FILE
        offered += action == ASK
        correct = answered and expect is not None and d.faq_id == expect
        # the driver sees the right entry: answered, or among suggestions shown (not when filed)
        seen = correct or (d.decision == SUGGEST and expect in d.suggestions)
        right += correct
        shown += seen and (answered or action != FILE)
        c = u.confidence if u.kind == "complaint" else 0.0
        alone_file += c >= tickets.complaint_threshold
        alone_ask += tickets.confirm_threshold <= c < tickets.complaint_threshold
        alone_right += correct and c < tickets.confirm_threshold
        alone_shown += seen and c < tickets.confirm_threshold
    if not items or items[0][2] is None:
        return f"| {name} | {n} | {filed} | {offered} | - | - | {alone_file} | {alone_ask} | - | - |"
    return (f"| {name} | {n} | {filed} | {offered} | {right / n:.3f} | {shown / n:.3f} | {alone_file} | "
            f"{alone_ask} | {alone_right / n:.3f} | {alone_shown / n:.3f} |")


def main() -> None:
    logging.disable(logging.WARNING)
    settings = load_settings(ROOT / "config.yml")
    nlu = NluService(settings.nlu, ROOT, backend="embedded").embedded
    sets = load_sets(config_settings())
    print("| messages | n | filed | offered | answered right | right entry shown | NLU alone: filed | offered "
          "| answered right | right entry shown |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    everything = []
    for name, (retriever, queries) in sets.items():
        items = [(q["q"], retriever, q["expect"]) for q in queries if q["expect"] is not None]
        everything += items
        print(_row(f"{name} questions", items, nlu, settings.tickets))
    print(_row("all retrieval questions", everything, nlu, settings.tickets))
    shipped = sets["dev"][0]
    for name, path in NLU_SETS.items():
        msgs = load_messages(Path(path))
        for kind in ("complaint", "question"):
            items = [(m["text"], shipped, None) for m in msgs if m["kind"] == kind]
            print(_row(f"{name}: {kind}s", items, nlu, settings.tickets))


if __name__ == "__main__":
    main()
