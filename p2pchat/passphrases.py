"""Network passphrases: strong ones made for `network create`, and a warning for weak typed ones.

A made passphrase is WORDS words drawn uniformly (secrets.choice) from the EFF short word list
shipped in p2pchat/data (1,295 words without hyphens: 10.34 bits each, 62 bits for six), joined
with "-". A typed one is judged by how a guesser would attack it: words of that list count
10.34 bits each; anything else by the NIST SP 800-63 (2004, appendix A) estimate for
user-chosen passwords, which is what a dictionary guesser exploits. Since every guess costs a
live exchange with a member (docs/protocol.md 10.7), the warning counts online guesses.
"""

from __future__ import annotations

import math
import re
import secrets
from functools import cache
from importlib import resources

WORDS = 6
SEPARATOR = "-"
WEAK_BITS = 40.0  # below this a typed passphrase gets a warning


@cache
def word_list() -> tuple[str, ...]:
    text = resources.files("p2pchat.data").joinpath("eff_short_wordlist.txt").read_text("utf-8")
    return tuple(sorted({w for w in text.split() if w.isalpha() and w.islower()}))


def bits_per_word() -> float:
    return math.log2(len(word_list()))


def generate(words: int = WORDS) -> str:
    """A new network passphrase: `words` random words of the list, joined with "-"."""
    chosen = word_list()
    return SEPARATOR.join(secrets.choice(chosen) for _ in range(words))


def strength_bits(passphrase: str) -> float:
    """About how many bits of guessing `passphrase` resists (an estimate, on the safe side)."""
    tokens = [t for t in re.split(r"[\s\-_.,+]+", passphrase.strip().lower()) if t]
    known = set(word_list())
    if tokens and all(t in known for t in tokens):
        return len(tokens) * bits_per_word()
    return _nist_bits(passphrase)


def _nist_bits(text: str) -> float:
    """NIST SP 800-63 (2004) appendix A: 4 bits for the first character, 2 for each of the next
    seven, 1.5 for characters 9 to 20, 1 after that; 6 more for upper case and non-letters."""
    n = len(text)
    bits = 4.0 * min(n, 1) + 2.0 * min(max(n - 1, 0), 7) + 1.5 * min(max(n - 8, 0), 12) \
        + 1.0 * max(n - 20, 0)
    if re.search(r"[A-Z]", text) and re.search(r"[^A-Za-z]", text):
        bits += 6.0
    return bits


def weak_warning(passphrase: str, guesses_per_minute: float, burst: int) -> str | None:
    """A warning for a weak `passphrase` saying how many online guesses find it, or None."""
    bits = strength_bits(passphrase)
    if bits >= WEAK_BITS:
        return None
    guesses = 2.0 ** (bits - 1)  # on average half the space is searched
    minutes = max(0.0, guesses - burst) / guesses_per_minute
    return (f"warning: this passphrase is weak (about {bits:.0f} bits): about {guesses:,.0f}"
            f" online guesses would find it, {_duration(minutes)} against one member at the"
            f" limit of {guesses_per_minute:g} a minute (more members, proportionally less)."
            " `p2pchat network create` makes a strong one.")


def join_warning(passphrase: str, *, short: bool = False) -> str | None:
    """`weak_warning` at a member's default guess limits: what `network join` says; `short`:
    one line for the chat screen's notices."""
    from p2pchat.core.guess_limits import GuessLimits

    limits = GuessLimits()
    rate = limits.network_rate * 60
    warning = weak_warning(passphrase, rate, limits.network_burst)
    if warning is None or not short:
        return warning
    bits = strength_bits(passphrase)
    minutes = max(0.0, 2.0 ** (bits - 1) - limits.network_burst) / rate
    return f"weak passphrase (about {bits:.0f} bits, guessed online in ~{_duration(minutes)})"


def _duration(minutes: float) -> str:
    if minutes < 120:
        return f"{minutes:.0f} minutes"
    if minutes < 60 * 48:
        return f"{minutes / 60:.0f} hours"
    if minutes < 60 * 24 * 730:
        return f"{minutes / 1440:.0f} days"
    return f"{minutes / 525960:,.0f} years"
