"""Personal identifiers masked before anything is stored, logged, explained or sent.

Cards (PCI DSS: the first six and last four digits at most; the security code and expiry
wholly), IBANs and bank accounts, e-mail addresses, phone numbers and national identity numbers
(US SSN, UK National Insurance, Chinese resident identity card), in English and Chinese texts,
full-width digits included. `mask` keeps every character in its place.
"""

from monitor.masking.cards import luhn_valid
from monitor.masking.engine import ALL_KINDS, Masked, mask, mask_bytes, mask_json, mask_text, parse_kinds
from monitor.masking.spans import KINDS, MASK_CHAR, Kind
from monitor.masking.tally import MaskTally

__all__ = [
    "ALL_KINDS",
    "KINDS",
    "MASK_CHAR",
    "Kind",
    "MaskTally",
    "Masked",
    "luhn_valid",
    "mask",
    "mask_bytes",
    "mask_json",
    "mask_text",
    "parse_kinds",
]
