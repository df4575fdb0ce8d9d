"""Compare diacritic restoration and chat normalisation packages on the DEV split of the residents' set.

    python bench/compare_restorers.py [--index DIR]

Variants, each over the same index (knowledge/ + distractors) and the same engine otherwise:
corpus-bigram restorer (bot/search/restore.py, the default); no restoration; pyvi 0.1.1
`ViUtils.add_accents` (CRF in its wheel) instead; pyvi first then the corpus restorer for what pyvi left
unmarked; iftc's chat-shorthand dictionary after ours; underthesea `text_normalize` before ours.
Prints hit@1 and answered@1 on the dev split's Vietnamese answerable questions (and on the no-diacritics
and teencode kinds). Only split == "dev" is read.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))


def _pyvi(sylls: list[str]) -> list[str]:
    """pyvi's CRF restoration of a syllable sequence."""
    from pyvi import ViUtils

    try:
        return str(ViUtils.add_accents(" ".join(sylls))).lower().split()
    except KeyError:  # pyvi's reverse mapping misses some outputs (e.g. "ỘX"): keep the input
        return sylls


@contextmanager
def variant(name: str, retriever: Any) -> Iterator[None]:
    """Patch one step of the engine for the duration of a run."""
    import bot.search.chat as chat
    from bot.text import has_diacritics

    restorer = retriever._restorer
    original_restore, original_expand, original_normalize = (
        restorer.restore_syllables,
        chat.expand,
        chat.normalize,
    )
    if name == "none":
        restorer.restore_syllables = lambda sylls: list(sylls)
    elif name == "pyvi":
        restorer.restore_syllables = lambda sylls: _pyvi(list(sylls)) if sylls else []
    elif name == "pyvi+corpus":

        def both(sylls: list[str]) -> list[str]:
            guess = _pyvi(list(sylls)) if sylls else []
            if len(guess) != len(sylls):
                return list(original_restore(list(sylls)))
            return list(
                original_restore([g if has_diacritics(g) else s for g, s in zip(guess, sylls, strict=True)])
            )

        restorer.restore_syllables = both
    elif name == "iftc":
        iftc = _iftc_table()

        def with_iftc(
            text: str, table: chat.ShorthandTable | None = None, choose: chat.Chooser | None = None
        ) -> str:
            return " ".join(iftc.get(w.lower(), w) for w in original_expand(text, table, choose).split())

        chat.expand = with_iftc
    elif name == "underthesea":
        from underthesea import text_normalize

        chat.normalize = lambda text: original_normalize(text_normalize(text))
    try:
        yield
    finally:
        restorer.restore_syllables = original_restore
        chat.expand, chat.normalize = original_expand, original_normalize


def _iftc_table() -> dict[str, str]:
    """iftc's one-word chat shorthand dictionary (shipped in its wheel)."""
    import iftc

    folder = Path(next(iter(iftc.__path__))) / "data" / "dictionary"
    rows = json.loads((folder / "_uni_acronyms.json").read_text(encoding="utf-8"))
    return {inst: row["Origin"] for row in rows for inst in row["Instances"]}


def score(
    retriever: Any, questions: Sequence[Any], aliases: dict[str, set[str]], ev: Any
) -> dict[str, float]:
    """hit@1 and answered@1 of the questions."""
    answers = retriever.ask_many([q.question for q in questions], 5)
    replies = [
        {"abstained": a.abstained, "intent": a.intent, "passages": [p.__dict__ for p in a.passages]}
        for a in answers
    ]
    outcomes = ev.judge(questions, replies, aliases)
    n = len(outcomes)
    return {
        "hit@1": sum(o.rank == 1 for o in outcomes) / n,
        "answered@1": sum(o.answered for o in outcomes) / n,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    import eval_retrieval as ev

    from bot.config import Settings
    from bot.search.index import build_index
    from bot.search.retriever import Retriever

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, help="an index of knowledge/ + distractors (built if absent)")
    args = parser.parse_args(argv)
    questions = [
        q for q in ev.load_questions(ev.RESIDENTS) if q.split == "dev" and q.in_scope and q.kind != "english"
    ]
    groups: dict[str, Callable[[Any], bool]] = {
        "Vietnamese answerable": lambda q: True,
        "no_diacritics": lambda q: q.kind == "no_diacritics",
        "teencode": lambda q: q.kind == "teencode",
    }
    with tempfile.TemporaryDirectory(prefix="citizenbot-restore-") as tmp:
        knowledge = ev.prepare_knowledge(Path(tmp) / "knowledge", True)
        index = args.index or Path(tmp) / "index"
        settings = Settings(knowledge_dir=knowledge, index_dir=index)
        if not (index / "manifest.json").exists():
            build_index(settings)
        retriever = Retriever.load(settings)
        aliases = ev.source_names(knowledge)
        print("| variant (dev) | " + " | ".join(f"{g} hit@1 / answered@1" for g in groups) + " |")
        print("|---|" + "---:|" * len(groups))
        for name in ("corpus", "none", "pyvi", "pyvi+corpus", "iftc", "underthesea"):
            cells = []
            with variant(name, retriever):
                for keep in groups.values():
                    chosen = [q for q in questions if keep(q)]
                    got = score(retriever, chosen, aliases, ev)
                    cells.append(f"{got['hit@1']:.2f} / {got['answered@1']:.2f}")
            print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
