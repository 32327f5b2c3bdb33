"""The dev-data rewrites that check robustness: the form changes, the words mostly stay."""

from __future__ import annotations

from monitor.model.training.variants import VARIANTS, lower, social, typos

TEXT = "Zentrix shares plunge after the company warned on profit for the second quarter"


def test_every_rewrite_is_reproducible() -> None:
    for rewrite in VARIANTS.values():
        assert rewrite(TEXT) == rewrite(TEXT)


def test_lower_and_typos_keep_the_words_in_place() -> None:
    assert lower(TEXT) == TEXT.lower()
    garbled = typos(TEXT)
    assert garbled != TEXT
    words, changed = TEXT.split(), typos(TEXT).split()
    assert len(words) == len(changed)
    assert all(abs(len(a) - len(b)) <= 1 and a[0] == b[0] for a, b in zip(words, changed, strict=True))


def test_social_adds_a_handle_and_keeps_the_text() -> None:
    posted = social(TEXT)
    assert posted.startswith("@")
    assert "shares plunge after the company warned" in posted
