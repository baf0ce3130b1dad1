"""Access tokens: JWTs signed with NEXUM_JWT_SECRET, bound to a server-side session.

The token only says which session it belongs to; the session row decides whether it is
still valid (logout and revocation take effect at once, idle sessions expire). Decoding pins
the configured algorithm — `alg: none` and algorithm switching are refused — and requires
every claim Nexum issues.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import jwt

from core_banking.domain.security import Unauthenticated

ISSUER = "nexum"
_REQUIRED_CLAIMS = ["exp", "iat", "sub", "sid", "iss", "typ"]


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
            expires_at = datetime.fromtimestamp(int(claims["exp"]), UTC)
            claims_of = TokenClaims(
                user_id=UUID(claims["sub"]),
                session_id=UUID(claims["sid"]),
                expires_at=expires_at,
            )
        except (jwt.InvalidTokenError, ValueError, KeyError, TypeError, OverflowError):
            raise Unauthenticated("the access token is not valid") from None
        if now >= expires_at:
            raise Unauthenticated("the access token has expired")
        return claims_of
