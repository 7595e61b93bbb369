"""Wire types of the policy engine (pydantic: they travel through Temporal activities)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Decision",
    "PolicyProblem",
    "PolicyReason",
    "PolicyResult",
    "PolicySource",
    "PolicyVerdict",
    "RegoVersion",
]

RegoVersion = Literal["v1", "v0"]
Decision = Literal["allowed", "denied", "pending"]


class PolicySource(BaseModel):
    """An attached Intent policy: its name (for reasons and history) and Rego body."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1)
    body: str
    rego_version: RegoVersion = "v1"
    id: str | None = Field(default=None, description="The stored policy's id, for history.")


class PolicyProblem(BaseModel):
    """Something wrong with a policy body, where the editor should point."""

    message: str
    line: int | None = Field(default=None, description="1-based")
    column: int | None = Field(default=None, description="1-based, in characters")
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = f"{self.line}:{self.column}: " if self.line is not None else ""
        return f"{where}{self.severity}: {self.message}"


class PolicyResult(BaseModel):
    """One policy's evaluation. On an error, ``deny`` holds one reason naming it."""

    policy: str
    policy_id: str | None = None
    deny: list[str] = Field(default_factory=list)
    allow: list[str] = Field(default_factory=list)
    sample: bool = False
    prints: list[str] = Field(default_factory=list)
    error: str | None = None
    timed_out: bool = False
    duration_ms: float = 0.0


class PolicyReason(BaseModel):
    """A reason given by one policy (a deny or an allow message)."""

    policy: str
    message: str

    def __str__(self) -> str:
        return f"{self.policy}: {self.message}"


class PolicyVerdict(BaseModel):
    """The decision of all attached policies on one operation.

    Any deny wins (``denied``); else any allow (``allowed``); else ``pending`` (a human
    reviews). With no policy attached the operation is ``allowed``.
    ``reasons`` are the deny reasons when denied, the allow reasons when allowed.
    """

    decision: Decision
    reasons: list[PolicyReason] = Field(default_factory=list)
    results: list[PolicyResult] = Field(default_factory=list)
    duration_ms: float = 0.0

    @property
    def sampled(self) -> list[PolicyResult]:
        """The results whose policy asked to keep this evaluation (``sample``)."""
        return [r for r in self.results if r.sample]

    def summary(self) -> str:
        if not self.results:
            return "allowed: no policy is attached"
        if self.decision == "pending":
            return "pending review: no policy allowed or denied the operation"
        return f"{self.decision}: " + "; ".join(str(r) for r in self.reasons)
