"""Fraud reports in everyday wording, generated from templates, added to the intent training set.

Banking77's fraud queries are short and app-like ("I think my card was stolen"); customers who
write in about fraud say it their own way ("my purse got nicked with my card in it", "someone took
cash out in a country I've never been to"). The watch-list intents learnt from Banking77 alone
sent such messages to neighbours (`card_swallowed`, `pending_cash_withdrawal`, ...), so the fraud
rule missed them. These templates spell the same five intents with other words, places, amounts
and merchants; they are a fixed, seeded set, so training stays reproducible. docs/model.md says
what they bought on a probe written apart from them.
"""

from __future__ import annotations

import random

from monitor.model.training.variants import typos

PER_INTENT = 60
"""Generated reports per watch-list intent (Banking77 has ~160 of its own per intent)."""

CARD = ("card", "debit card", "credit card", "bank card", "contactless card", "visa card")
AMOUNT = ("£20", "$45", "€300", "150 pounds", "£1,200", "$9.99", "80 euros", "£64.50", "$500")
MERCHANT = (
    "an online shop", "a hotel in Dubai", "a website I've never used", "an electronics store", "a taxi firm",
    "a betting site", "a supermarket in another city", "Amazon", "Uber", "a clothes shop abroad", "PayPal",
)
PLACE = ("Lisbon", "a town I've never been to", "Manchester", "another country", "Bangkok", "New York")
WHEN = ("yesterday", "last night", "this morning", "on Saturday", "two days ago", "while I was on holiday", "")
ASK = (
    "please block it", "what do I do?", "can you cancel it right away", "I need a new one", "help",
    "please stop any payments", "how do I get my money back?", "", "", "",
)

TEMPLATES: dict[str, tuple[str, ...]] = {
    "lost_or_stolen_card": (
        "someone stole my {card} {when}",
        "my wallet was stolen {when} and my {card} was in it",
        "my bag got snatched {when} with my {card} inside",
        "I've lost my {card} and can't find it anywhere",
        "my {card} has gone missing",
        "I was pickpocketed {when}, they took my {card}",
        "I left my {card} in a shop {when} and now it's gone",
        "I got mugged and they took my {card}",
        "my {card} fell out of my pocket {when}",
        "i dropped my {card} somewhere {when}",
    ),
    "compromised_card": (
        "I think my {card} details have been stolen",
        "my card number was leaked in a data breach",
        "I typed my {card} details into a fake website",
        "someone has got hold of my card number",
        "I think my {card} was skimmed at a cash machine",
        "my card has been cloned, I still have it but it's been used",
        "I fell for a phishing email and gave them my card details",
        "a scammer called pretending to be you and I read out my card number",
        "my {card} might be compromised after I used it at {merchant}",
        "I got a fraud warning text about my {card}",
    ),
    "card_payment_not_recognised": (
        "there's a payment of {amount} to {merchant} that I never made",
        "I don't recognise a payment to {merchant} on my statement",
        "someone used my {card} to pay {merchant} {amount}",
        "a purchase of {amount} shows up that wasn't me",
        "my {card} was charged {amount} by {merchant} and I didn't buy anything",
        "there are payments on my {card} I didn't authorise",
        "who is {merchant}? they took {amount} from my {card}",
        "I never bought anything from {merchant} but they charged me {amount}",
        "unknown card transaction for {amount} {when}",
        "my card was used in {place} {when} but I'm at home",
    ),
    "cash_withdrawal_not_recognised": (
        "{amount} was withdrawn from a cash machine {when} and it wasn't me",
        "there's a cash withdrawal in {place} I didn't make",
        "someone took {amount} out of an ATM using my {card}",
        "I don't recognise an ATM withdrawal of {amount}",
        "cash was taken out of my account {when} without my permission",
        "my statement shows a withdrawal in {place} but I've never been there",
        "an ATM withdrawal {when} that I know nothing about",
        "who withdrew {amount} from my account?",
    ),
    "direct_debit_payment_not_recognised": (
        "there's a direct debit from {merchant} I never set up",
        "a direct debit of {amount} I don't recognise came out {when}",
        "a company I've never heard of is taking {amount} a month by direct debit",
        "I didn't agree to this direct debit",
        "someone set up a direct debit on my account without asking me",
        "unknown direct debit on my statement for {amount}",
        "why is {merchant} collecting a direct debit from me? I never signed up",
    ),
}


def fraud_reports(seed: int = 0, per_intent: int = PER_INTENT) -> tuple[list[str], list[str]]:
    """(texts, intents): `per_intent` distinct reports per watch-list intent, in varied form."""
    rng = random.Random(seed)  # noqa: S311 - a fixed training set, not security
    texts: list[str] = []
    labels: list[str] = []
    for intent, templates in TEMPLATES.items():
        seen: set[str] = set()
        for _ in range(per_intent * 20):
            if len(seen) >= per_intent:
                break
            text = rng.choice(templates).format(
                card=rng.choice(CARD), amount=rng.choice(AMOUNT), merchant=rng.choice(MERCHANT),
                place=rng.choice(PLACE), when=rng.choice(WHEN),
            )
            ask = rng.choice(ASK)
            text = " ".join(f"{text}{rng.choice(('.', ',', '!', ' -', ''))} {ask}".split()).strip(" ,-")
            if rng.random() < 0.3:
                text = text.lower()
            elif text[0].islower():
                text = text[0].upper() + text[1:]
            if rng.random() < 0.15:
                text = typos(text)
            if text not in seen:
                seen.add(text)
                texts.append(text)
                labels.append(intent)
    return texts, labels
