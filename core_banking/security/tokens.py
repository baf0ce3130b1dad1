"""Access tokens: JWTs signed with NEXUM_JWT_SECRET, bound to a server-side session.

The token only says which session it belongs to; the session row decides whether it is
still valid (logout and revocation take effect at once, idle sessions expire). Decoding pins
the configured algorithm — `alg: none` and algorithm switching are refused — and requires
every claim Nexum issues.

A token's signature and claims are checked once: the claims of the last VERIFIED_TOKENS
tokens that passed are remembered by the token's exact text, since the same text under the
same secret always verifies the same way. Expiry is checked against the clock on every use,
and a token that fails is checked again each time it comes back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from uuid import UUID

import jwt

from core_banking.domain.security import Unauthenticated

ISSUER = "nexum"
_REQUIRED_CLAIMS = ["exp", "iat", "sub", "sid", "iss", "typ"]
VERIFIED_TOKENS = 4096


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: UUID
    session_id: UUID
    expires_at: datetime


class JwtTokens:
    def __init__(self, secret: str, algorithm: str, lifetime: timedelta) -> None:
        self._secret = secret
        self._algorithm = algorithm
        self._lifetime = lifetime
        self._verified = lru_cache(maxsize=VERIFIED_TOKENS)(self._verify)

    def issue(self, user_id: UUID, session_id: UUID, now: datetime) -> tuple[str, datetime]:
        expires_at = now + self._lifetime
        token = jwt.encode(
            {
                "sub": str(user_id),
                "sid": str(session_id),
                "iat": int(now.timestamp()),
                "exp": int(expires_at.timestamp()),
                "iss": ISSUER,
                "typ": "access",
            },
            self._secret,
            algorithm=self._algorithm,
        )
        return token, expires_at

    def decode(self, token: str, now: datetime) -> TokenClaims:
        """The claims of a token this server signed and that has not expired at ``now``
        (the service's clock, so time is one thing for sessions and tokens alike)."""
        claims = self._verified(token)
        if now >= claims.expires_at:
            raise Unauthenticated("the access token has expired")
        return claims

    def _verify(self, token: str) -> TokenClaims:
        """The claims of a token signed with this secret, or Unauthenticated."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[self._algorithm],
                issuer=ISSUER,
                options={"require": _REQUIRED_CLAIMS, "verify_exp": False, "verify_iat": False},
            )
            if claims["typ"] != "access":
                raise jwt.InvalidTokenError("not an access token")
            return TokenClaims(
                user_id=UUID(claims["sub"]),
                session_id=UUID(claims["sid"]),
                expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
            )
        except (jwt.InvalidTokenError, ValueError, KeyError, TypeError, OverflowError):
            raise Unauthenticated("the access token is not valid") from None
