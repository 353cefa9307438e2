"""One-time voting codes: a serial and a secret of 60 bits from the operating system's
cryptographic generator, written in Crockford base 32 so that it survives being read aloud or
typed on a phone (O/0, I/L/1 are the same; case, spaces, dashes and full-width forms from Chinese
keyboards do not matter).

A slip reads `0017-K3F9-QX2M-7TBD`: four digits of serial, twelve characters of secret. The server
keeps SHA-256(salt, serial, secret) only; the salt is the session's own.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SECRET_CHARS = 12  # 12 × 5 = 60 bits
SERIAL_DIGITS = 4
MAX_SERIAL = 10**SERIAL_DIGITS - 1
_SAME = str.maketrans({"O": "0", "I": "1", "L": "1"})


class BadCode(ValueError):
    """The text is not a voting code of this session."""


def new_salt() -> str:
    return secrets.token_hex(16)


def new_public_id() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(10)).lower()


def new_secret() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(SECRET_CHARS))


def secret_hash(salt: str, serial: int, secret: str) -> str:
    return hashlib.sha256(f"{salt}:{serial}:{secret}".encode()).hexdigest()


def matches(stored_hash: str, salt: str, serial: int, secret: str) -> bool:
    return hmac.compare_digest(stored_hash, secret_hash(salt, serial, secret))


def format_code(serial: int, secret: str) -> str:
    s = secret
    return f"{serial:0{SERIAL_DIGITS}d}-{s[:4]}-{s[4:8]}-{s[8:]}"


def parse(text: str) -> tuple[int, str]:
    """(serial, secret) from what the voter typed or scanned; BadCode if it cannot be a code."""
    text = unicodedata.normalize("NFKC", str(text)[:200]).upper()
    cleaned = "".join(ch for ch in text if ch.isascii() and ch.isalnum()).translate(_SAME)
    if len(cleaned) != SERIAL_DIGITS + SECRET_CHARS:
        raise BadCode
    serial, secret = cleaned[:SERIAL_DIGITS], cleaned[SERIAL_DIGITS:]
    if any(ch not in "0123456789" for ch in serial) or any(ch not in ALPHABET for ch in secret):
        raise BadCode
    return int(serial), secret
