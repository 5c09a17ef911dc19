"""The caller of a request, as the authorizer resolved it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["admin", "brand", "member"]


class Unauthenticated(Exception):
    """The credential is missing, malformed, unknown, expired or revoked.

    The message is always "Unauthorized": API Gateway turns exactly that authorizer error into
    a 401 (anything else is a 500). The reason is kept for logs only, never shown to callers.
    """

    def __init__(self, reason: str) -> None:
        super().__init__("Unauthorized")
        self.reason = reason


@dataclass(frozen=True)
class Principal:
    role: Role
    brand_id: str | None = None
    member_id: str | None = None
    key_id: str | None = None

    @property
    def principal_id(self) -> str:
        return {"admin": "admin", "brand": f"brand:{self.brand_id}",
                "member": f"member:{self.member_id}"}[self.role]

    def to_context(self) -> dict[str, str]:
        """Authorizer context: API Gateway allows only flat string/number/boolean values."""
        context = {"role": self.role}
        for name in ("brand_id", "member_id", "key_id"):
            value = getattr(self, name)
            if value:
                context[name] = value
        return context

    @classmethod
    def from_context(cls, context: dict) -> Principal:
        role = context.get("role")
        if role not in ("admin", "brand", "member"):
            raise Unauthenticated("no principal in the authorizer context")
        return cls(role=role, brand_id=context.get("brand_id") or None,
                   member_id=context.get("member_id") or None, key_id=context.get("key_id") or None)
