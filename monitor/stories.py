"""Stories: one news event, however many times it is reprinted or lightly rewritten.

A headline is reduced to word shingles (words and word pairs; characters and character pairs for
Chinese) once wire furniture is gone ("UPDATE 1-", "BRIEF-", "- Reuters"), and sketched by MinHash
(datasketch, 60 permutations, fixed seed: every replica computes the same signature). The
signature is cut into 20 bands of 3 values (a pair at Jaccard 0.5 shares a band with chance 0.93,
one at 0.2 with 0.15, unrelated headlines almost never); a story is found through any band it shares with a
recent member (LSH), then confirmed when the estimated Jaccard similarity of the two reaches
`STORY_THRESHOLD`. The pure decision is here; the members live in Postgres (`monitor.db.stories`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import numpy.typing as npt
from datasketch import MinHash

NUM_PERM = 60
BANDS = 20
ROWS = NUM_PERM // BANDS
STORY_THRESHOLD = 0.5
"""Estimated Jaccard of two headlines' shingles from which they are one story: measured on
tests/data/story_reprints.csv (see `monitor.tools.bench.linking`)."""

_FURNITURE = re.compile(
    r"^\s*(?:(?:UPDATE|WRAPUP)\s*\d*|BRIEF|CORRECTED|REFILE|RPT|EXCLUSIVE|BREAKINGVIEWS|FACTBOX|"
    r"INSTANT VIEW|HOT STOCKS?|BUZZ|TEXT|WRAP)\s*[-:\u2014\u2013]+\s*",
    re.IGNORECASE,
)
_SOURCE_SUFFIX = re.compile(r"\s+[-\u2014\u2013|]\s+(?:[A-Z][\w.&']*\s?){1,4}$")
_TOKEN = re.compile(r"[a-z0-9]+(?:['\u2019][a-z]+)?|[\u3400-\u9fff]")
_TEMPLATE = MinHash(num_perm=NUM_PERM, seed=1)
_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9], dtype=np.uint64)
_BAND_OFFSET = np.arange(BANDS, dtype=np.uint64) * np.uint64(0x94D049BB133111EB)
STORY_WINDOW_S = 24 * 3600
"""A headline joins a story only if a member's event time is within this of its own."""
MEMBERS_PER_BAND = 32
"""Recent members a headline is compared with per band it shares with them, newest first.

A headline reprinted thousands of times in a day (a wire story, a bot) puts every reprint under
the same band keys; comparing each new one with all of them made storing a batch quadratic: 4,000
near-identical headlines drained at 150-221 msgs/s, the event loop spending 99% of its write time
here while the model waited. Members of one story are alike, so the newest few find it as surely
as all of them do."""


def headline_of(text: str) -> str:
    """The message's headline (the text before its body), without wire prefixes and a trailing
    source ("- Reuters")."""
    headline = text.split("\n\n", 1)[0]
    while (stripped := _FURNITURE.sub("", headline, count=1)) != headline:
        headline = stripped
    return _SOURCE_SUFFIX.sub("", headline).strip()


def shingles(text: str) -> set[str]:
    """Words and adjacent word pairs of the headline, lowered (a Chinese character is a word)."""
    tokens = _TOKEN.findall(headline_of(text).lower())
    return set(tokens) | {f"{a} {b}" for a, b in pairwise(tokens)}


def story_sketch(text: str) -> tuple[int, ...]:
    """The headline's MinHash signature (`NUM_PERM` unsigned 32-bit values); () when it has no words."""
    words = shingles(text)
    if not words:
        return ()
    m = MinHash(num_perm=NUM_PERM, seed=1, permutations=_TEMPLATE.permutations, scheme=_TEMPLATE.scheme)
    m.update_batch([w.encode() for w in words])
    return tuple(m.hashvalues.tolist())


def band_keys(sketch: Sequence[int]) -> tuple[int, ...]:
    """One signed 64-bit key per band: headlines sharing a key are candidates for one story.

    A band's values are already hashes, so a multiply-and-add mix (wrapping in 64 bits, a
    different odd multiplier per row and an offset per band) keys it without another hash."""
    if not sketch:
        return ()
    values = np.asarray(sketch, dtype=np.uint64).reshape(BANDS, ROWS)
    with np.errstate(over="ignore"):
        keys = (values * _MIX).sum(axis=1, dtype=np.uint64) + _BAND_OFFSET
    return tuple(int(k) for k in keys.view(np.int64))


def similarity(a: Sequence[int], b: Sequence[int]) -> float:
    """Estimated Jaccard similarity of two signatures: the share of equal values."""
    if not a or not b:
        return 0.0
    return float(np.mean(np.asarray(a, dtype=np.uint32) == np.asarray(b, dtype=np.uint32)))


@dataclass(frozen=True, slots=True)
class Member:
    """A headline already in a story."""

    story_id: int
    sketch: npt.NDArray[np.uint32]
    """Its signature as an array: a batch compares each new headline with many members at once."""

    @classmethod
    def of(cls, story_id: int, sketch: Sequence[int]) -> Member:
        return cls(story_id, np.asarray(sketch, dtype=np.uint32))


@dataclass(frozen=True, slots=True)
class Assignment:
    """The story a new headline joins, or starts (`first`)."""

    story_id: int
    first: bool


def assign(
    sketch: Sequence[int], own_id: int, members: Iterable[Member], threshold: float = STORY_THRESHOLD
) -> Assignment:
    """The story of the most similar member at or above `threshold`; else a new story whose id
    is `own_id` (the headline's own key, so a retried transaction chooses the same)."""
    near = list(members)
    if not near or not sketch:
        return Assignment(own_id, True)
    scores = (np.stack([m.sketch for m in near]) == np.asarray(sketch, dtype=np.uint32)).mean(axis=1)
    best = float(scores.max())
    if best < threshold:
        return Assignment(own_id, True)
    # Ties go to the lowest story id, so the choice does not depend on the members' order.
    return Assignment(min(m.story_id for m, s in zip(near, scores, strict=True) if s == best), False)


def story_key(stream: str, message_id: str) -> int:
    """A stable id for the story a message starts, from its natural key: positive and under 2**63
    (a bigint), so that a negative number can stand for an event without a story."""
    digest = hashlib.blake2b(f"{stream}\x00{message_id}".encode(), digest_size=8, person=b"story").digest()
    return int.from_bytes(digest, "big") >> 1
