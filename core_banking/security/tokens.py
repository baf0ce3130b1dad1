"""Access tokens: JWTs signed with NEXUM_JWT_SECRET, bound to a server-side session.

The token only says which session it belongs to; the session row decides whether it is
still valid (logout and revocation take effect at once, idle sessions expire). Decoding pins
the configured algorithm — `alg: none` and algorithm switching are refused — and requires
every claim Nexum issues.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
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

    def decode(self, token: str) -> TokenClaims:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[self._algorithm],
                issuer=ISSUER,
                options={"require": _REQUIRED_CLAIMS},
            )
            if claims["typ"] != "access":
                raise jwt.InvalidTokenError("not an access token")
            return TokenClaims(
                user_id=UUID(claims["sub"]),
                session_id=UUID(claims["sid"]),
                expires_at=datetime.fromtimestamp(claims["exp"]).astimezone(),
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the access token has expired") from None
        except (jwt.InvalidTokenError, ValueError, KeyError):
            raise Unauthenticated("the access token is not valid") from None
