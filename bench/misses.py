"""Print the retriever's ranking misses with their top candidates (analysis aid).

python -m bench.misses [--set dev|held-out] [--all]: for each in-scope query whose top entry
is wrong (or, with --all, every query that is not answered correctly) show the expected
entry's rank and the top-3 candidates with their scores and decision probability."""

from __future__ import annotations

import argparse
import logging

from bench.evalsets import SETS, config_settings, load_sets
from knowledge_base.retriever import ANSWER


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.misses")
    ap.add_argument("--set", choices=list(SETS), action="append")
    ap.add_argument("--all", action="store_true", help="also list queries ranked right but not answered")
    ap.add_argument("--oos", action="store_true", help="also list out-of-scope queries that were not silent")
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    for name, (r, queries) in load_sets(config_settings(), args.set).items():
        print(f"== {name}")
        for item in queries:
            d = r.search(item["q"])
            expect = item["expect"]
            ranked = d.candidates
            if expect is None:
                if args.oos and d.decision != "silent":
                    top = ranked[0] if ranked else None
                    print(f"OOS {d.decision:7s} p={d.score:.2f} {item['q']}  -> {top.faq_id if top else None}")
                continue
            if d.faq_id == expect and not (args.all and d.decision != ANSWER):
                continue
            full, _ = r.rank(item["q"])
            pos = next((i for i, c in enumerate(full) if c.faq_id == expect), None)
            print(f"{'MISS' if d.faq_id != expect else 'LOW '} {d.decision:7s} p={d.score:.2f} rank={pos} "
                  f"{item['q']}  [{r.analyzer.canonical(item['q'])}]")
            show = full[:3] + ([full[pos]] if pos is not None and pos >= 3 else [])
            for c in show:
                mark = "*" if c.faq_id == expect else " "
                print(f"   {mark} {c.faq_id:34s} s={c.score:.3f} lex={c.lexical:.3f} dn={c.dense:.3f} "
                      f"cov={c.coverage:.2f} | {r.entry(c.faq_id).question}")


if __name__ == "__main__":
    main()
