"""Patient identity encrypted at rest: names, phone, address and the free-text reason of a call.

Each value is sealed with AES-256-GCM (``cryptography``) under the current key of the keyring
(``SNP_IDENTITY_KEYS``: key id → 32 bytes in base64; ``SNP_IDENTITY_KEY_ID`` the one that seals), the
column's name as associated data (a value moved to another column does not open), and stored as
``e1.<key id>.<nonce + ciphertext in base64url>``: old rows keep opening after a rotation, and
``snp keys rotate`` seals them again under the current key.

What must be found without opening every row is found by keyed hashes (HMAC-SHA256 under
``SNP_IDENTITY_HASH_KEY``) of normalised values: the prefixes of each name (case and accents
ignored) and the beginnings and endings of the phone number (4 digits or more). What SQL used to compute from
identity (a patient's initials in a booking event) is computed after opening.

A value that is not sealed (a row written before encryption) is read as it is.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.platform.config import Settings

PREFIX = "e1."
# The columns of a call that hold identity (each sealed with its own name as associated data).
SEALED = ("patient_family_name", "patient_given_name", "patient_phone", "patient_address", "reason")
NAME_PREFIX_MIN, NAME_PREFIX_MAX = 2, 20
PHONE_ENDING_MIN = 4


class IdentityKeyError(ValueError):
    """A sealed value whose key is not in the keyring, or that does not open."""


def _key(value: str) -> bytes:
    """32 bytes from base64 (standard or URL-safe, padding optional)."""
    text = value.strip().replace("-", "+").replace("_", "/")
    key = base64.b64decode(text + "=" * (-len(text) % 4))
    if len(key) != 32:
        raise ValueError("an identity key is 32 bytes, in base64")
    return key


@dataclass(frozen=True)
class Keyring:
    keys: dict[str, bytes]
    current: str
    hash_key: bytes

    def seal(self, value: str | None, column: str) -> str | None:
        """Always sealed, whatever the text (a name typed as "e1.…" is sealed like any other)."""
        if value is None:
            return value
        nonce = os.urandom(12)
        sealed = AESGCM(self.keys[self.current]).encrypt(nonce, value.encode(), column.encode())
        return f"{PREFIX}{self.current}.{base64.urlsafe_b64encode(nonce + sealed).decode().rstrip('=')}"

    def open(self, value: str | None, column: str) -> str | None:
        if value is None or not value.startswith(PREFIX):
            return value
        try:
            key_id, body = value[len(PREFIX):].split(".", 1)
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            return AESGCM(self.keys[key_id]).decrypt(raw[:12], raw[12:], column.encode()).decode()
        except KeyError as exc:
            raise IdentityKeyError(f"{column}: sealed with key {exc.args[0]!r}, not in SNP_IDENTITY_KEYS") from exc
        except (ValueError, InvalidTag) as exc:
            raise IdentityKeyError(f"{column}: the sealed value does not open") from exc

    def key_of(self, value: str | None) -> str | None:
        """The key id a value is sealed with (None: not sealed)."""
        if value is None or not value.startswith(PREFIX):
            return None
        return value[len(PREFIX):].split(".", 1)[0]

    def _hash(self, kind: str, value: str) -> str:
        return hmac.new(self.hash_key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:32]

    def name_hashes(self, *names: str | None) -> list[str]:
        """The keyed hashes of every prefix (2 to 20 letters) of each name, case and accents ignored."""
        out: set[str] = set()
        for name in names:
            normal = normalise_name(name)
            for length in range(NAME_PREFIX_MIN, min(len(normal), NAME_PREFIX_MAX) + 1):
                out.add(self._hash("name", normal[:length]))
        return sorted(out)

    def name_query(self, text: str) -> str:
        return self._hash("name", normalise_name(text)[:NAME_PREFIX_MAX])

    def phone_hashes(self, phone: str | None) -> list[str]:
        """The keyed hashes of the number's beginnings and endings of 4 digits and more (as an operator
        types what he hears: 06 12 34…, or the last digits)."""
        digits = re.sub(r"\D", "", phone or "")
        parts = {digits[:n] for n in range(PHONE_ENDING_MIN, len(digits) + 1)}
        parts |= {digits[-n:] for n in range(PHONE_ENDING_MIN, len(digits) + 1)}
        return sorted(self._hash("phone", part) for part in parts)

    def phone_query(self, digits: str) -> str:
        return self._hash("phone", re.sub(r"\D", "", digits))


def normalise_name(name: str | None) -> str:
    """Lower case, without accents, letters and single spaces only ("Lefèvre-Dupont" → "lefevre dupont")."""
    if not name:
        return ""
    plain = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^a-z]+", " ", plain.casefold()).split())


@lru_cache(maxsize=8)
def _keyring(keys: tuple[tuple[str, str], ...], current: str, hash_key: str) -> Keyring:
    ring = {key_id: _key(value) for key_id, value in keys}
    if current not in ring:
        raise ValueError(f"SNP_IDENTITY_KEY_ID {current!r} is not a key of SNP_IDENTITY_KEYS")
    return Keyring(ring, current, _key(hash_key))


def keyring_of(settings: Settings) -> Keyring:
    """The keyring the settings describe."""
    return _keyring(tuple(sorted(settings.identity_keys.items())), settings.identity_key_id,
                    settings.identity_hash_key)


_IN_USE: Keyring | None = None


def use(ring: Keyring) -> None:
    """The keyring of this process (set by the app from its settings)."""
    global _IN_USE
    _IN_USE = ring


def ring() -> Keyring:
    """The keyring in use: the app's, else the one the environment's settings describe."""
    if _IN_USE is not None:
        return _IN_USE
    from app.platform.config import get_settings

    return keyring_of(get_settings())
