"""The dev-data rewrites that check robustness: the form changes, the words mostly stay."""

from __future__ import annotations

from monitor.model.training.variants import VARIANTS, keys, lower, social, typos

TEXT = "Zentrix shares plunge after the company warned on profit for the second quarter"


def test_every_rewrite_is_reproducible() -> None:
    for rewrite in VARIANTS.values():
        assert rewrite(TEXT) == rewrite(TEXT)


def test_lower_typos_and_keyboard_slips_keep_the_words_in_place() -> None:
    assert lower(TEXT) == TEXT.lower()
    words = TEXT.split()
    for garbled in (typos(TEXT), keys(TEXT)):
        assert garbled != TEXT
        changed = garbled.split()
        assert len(words) == len(changed)
        assert all(abs(len(a) - len(b)) <= 1 and a[0] == b[0] for a, b in zip(words, changed, strict=True))


def test_a_keyboard_slip_strikes_a_neighbouring_key() -> None:
    rows = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
    slips = [(a, b) for a, b in zip(TEXT.split(), keys(TEXT).split(), strict=True) if a != b]
    assert slips
    for a, b in slips:
        (i,) = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        row = next(r for r in rows if a[i] in r)
        assert abs(row.index(a[i]) - row.index(b[i])) == 1


def test_social_adds_a_handle_and_keeps_the_text() -> None:
    posted = social(TEXT)
    assert posted.startswith("@")
    assert "shares plunge after the company warned" in posted
