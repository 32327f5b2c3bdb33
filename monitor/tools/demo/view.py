"""What `monitor demo` shows: a live view while the stream plays, and the tables of the final report.

The live numbers come from the service's own `on_committed` hook, so they count only rows that are
in Postgres with their offsets committed: what the view says has happened, has happened.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Group, RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from monitor.batch import CommittedBatch
from monitor.records import SENTIMENTS


@dataclass
class Tally:
    """Running counts of what the service has committed; `add` is the service's `on_committed`."""

    records: int = 0
    """Records whose rows are written and offsets committed (scored events plus dead letters)."""
    sentiments: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(stream, sentiment) -> events."""
    intents: Counter[str] = field(default_factory=Counter)
    dead_letters: int = 0
    last_text: str = ""

    def add(self, batch: CommittedBatch) -> None:
        self.records += len(batch.records)
        self.dead_letters += len(batch.dead_letters)
        for event in batch.events:
            self.last_text = event.message.text
            if event.scores is None:  # a language no model here reads
                continue
            self.sentiments[(event.message.stream, event.scores.sentiment)] += 1
            if event.scores.intent is not None:
                self.intents[event.scores.intent] += 1

    def table(self) -> Table:
        table = Table(title="live summary (committed to Postgres)", title_justify="left")
        table.add_column("stream")
        for sentiment in SENTIMENTS:
            table.add_column(sentiment, justify="right")
        for stream, meaning in (("news", "news (for the company)"), ("customer", "customers (their mood)")):
            table.add_row(meaning, *(str(self.sentiments[(stream, s)]) for s in SENTIMENTS))
        return table

    def lines(self) -> Text:
        top = ", ".join(f"{intent} {n}" for intent, n in self.intents.most_common(3)) or "-"
        text = Text(f"dead letters: {self.dead_letters}   top intents: {top}")
        if self.last_text:
            text.append(f"\nlast stored: {self.last_text}")
        text.overflow = "ellipsis"
        text.no_wrap = True
        return text


class LiveView:
    """Progress bars (played, stored) above the live summary; rich re-renders it on every refresh."""

    def __init__(self, total: int, tally: Tally) -> None:
        self.tally = tally
        self.progress = Progress(
            TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
        )
        self.played = self.progress.add_task("played into Kafka", total=total)
        self.stored = self.progress.add_task("scored and stored", total=total)

    def advance_played(self) -> None:
        self.progress.advance(self.played)

    def __rich__(self) -> RenderableType:
        self.progress.update(self.stored, completed=self.tally.records)
        return Group(self.progress, self.tally.table(), self.tally.lines())


def rows_table(title: str, rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> Table:
    """A result set as a table; `columns` names them when there may be no rows to take names from."""
    names = list(columns or (rows[0].keys() if rows else ()))
    table = Table(title=title, title_justify="left")
    for name in names:
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*(_cell(row[name]) for name in names))
    if not rows:
        table.caption = "(no rows)"
    return table


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)
