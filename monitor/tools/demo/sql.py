"""The SQL the demo runs at the end: the counts it reports and four queries an analyst would write.

Every query is scoped to this run's topics, so the demo reads the same against a shared database
(MONITOR_DATABASE_URL) as against its own embedded one. The queries are constant text with
parameters (`$1`, `$2`, as psql's `PREPARE` takes them); the values are printed beside each query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import asyncpg

from monitor.alerts.config import load_rules

FRAUD_INTENTS = load_rules().rules.fraud_intent.intents
"""The intents the shipped `fraud_intent` rule watches."""

_SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]+$")


@dataclass(frozen=True, slots=True)
class Query:
    """One query shown to the user: what it answers, its text, and the values of its parameters."""

    title: str
    sql: str
    args: tuple[Any, ...] = ()

    def parameters(self) -> str:
        """The values, as a line of SQL comment printed under the query."""
        return "-- " + ", ".join(f"${i} = {value!r}" for i, value in enumerate(self.args, 1))


@dataclass(frozen=True, slots=True)
class Scope:
    """This run's topics: every query reads only their rows."""

    news_topic: str
    customer_topic: str

    def __post_init__(self) -> None:
        for name in (self.news_topic, self.customer_topic):
            if not _SAFE_NAME.match(name):
                raise ValueError(f"unexpected topic name {name!r}")


def showcase_queries(scope: Scope) -> list[Query]:
    """The four queries printed with their results: what an analyst and the customer desk start from."""
    return [
        Query(
            "Negative news per ticker (the burst the negative_news_burst rule watches)",
            "SELECT entity, count(*) AS news,\n"
            "       count(*) FILTER (WHERE sentiment = 'negative') AS negative,\n"
            "       round(avg(sentiment_score)::numeric, 2) AS avg_score\n"
            "FROM scored_events, unnest(entities) AS entity\n"
            "WHERE stream = 'news' AND source_topic = $1\n"
            "GROUP BY entity ORDER BY negative DESC, entity;",
            (scope.news_topic,),
        ),
        Query(
            "Customer messages that report fraud: the watch-list intents' summed probability, and the "
            "customer's mood (card numbers are masked before they are stored)",
            "SELECT customer_id, intent, round(fraud::numeric, 2) AS fraud_probability, sentiment AS mood, text\n"
            "FROM (SELECT *, (SELECT sum(p::float) FROM jsonb_each_text(intent_probabilities) AS t(i, p)\n"
            "                 WHERE i = ANY($2::text[])) AS fraud\n"
            "      FROM scored_events WHERE source_topic = $1) AS m\n"
            "WHERE fraud >= 0.5\n"
            "ORDER BY event_time;",
            (scope.customer_topic, list(FRAUD_INTENTS)),
        ),
        Query(
            "Customer messages and the approved reply suggested for each, most urgent first "
            "(the customer desk's starting point; out-of-scope messages get the out-of-scope reply)",
            "SELECT customer_id, intent, urgency, text, reply_text\n"
            "FROM scored_events WHERE source_topic = $1\n"
            "ORDER BY urgency = 'fraud' DESC, urgency = 'upset' DESC, event_time;",
            (scope.customer_topic,),
        ),
        Query(
            "Dead letters: what could not be scored, and why",
            "SELECT source_topic, source_offset, reason\n"
            "FROM dead_letters WHERE source_topic = ANY($1::text[])\n"
            "ORDER BY source_topic, source_offset;",
            ([scope.news_topic, scope.customer_topic],),
        ),
    ]


async def fetch(conn: asyncpg.Connection, sql: str, *args: Any) -> list[dict[str, Any]]:
    return [dict(row) for row in await conn.fetch(sql, *args)]


async def sentiment_counts(conn: asyncpg.Connection, scope: Scope) -> list[dict[str, Any]]:
    return await fetch(
        conn,
        "SELECT stream, sentiment, count(*) AS events FROM scored_events "
        "WHERE source_topic = ANY($1::text[]) GROUP BY 1, 2 ORDER BY 1 DESC, 2",
        [scope.news_topic, scope.customer_topic],
    )


async def intent_counts(conn: asyncpg.Connection, scope: Scope) -> list[dict[str, Any]]:
    return await fetch(
        conn,
        "SELECT intent, count(*) AS messages FROM scored_events "
        "WHERE source_topic = $1 GROUP BY 1 ORDER BY 2 DESC, 1",
        scope.customer_topic,
    )


async def dead_letter_count(conn: asyncpg.Connection, scope: Scope) -> int:
    value = await conn.fetchval(
        "SELECT count(*) FROM dead_letters WHERE source_topic = ANY($1::text[])",
        [scope.news_topic, scope.customer_topic],
    )
    return int(value)
