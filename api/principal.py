"""Who is calling: the principal a key stands for, shared by authentication, scopes and the audit trail."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    """Who is calling: the kind of principal, its agency or recipient, and its scopes."""

    key_id: int
    kind: str
    agency_code: str | None
    recipient: str | None
    scopes: frozenset[str]
    label: str
    prefix: str = ""

    @property
    def agency_scope(self) -> str | None:
        """Return the agency every query must be limited to (None for officers and regulators)."""
        return self.agency_code if self.kind == "agency" else None

    @property
    def name(self) -> str:
        """Name the principal for the audit trail: role, agency or recipient, and the key's label."""
        whose = self.agency_code or self.recipient
        return f"{self.kind} {whose}: {self.label}" if whose else f"{self.kind}: {self.label}"
