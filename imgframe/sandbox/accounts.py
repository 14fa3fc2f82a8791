"""Accounts the sandbox serves: each an access key (and tokens) with its own catalog.

One sandbox can play several Zenlayer accounts, so a client can be tested with two profiles in
one run: public images are the same for every account (they are Zenlayer's), custom images,
resource groups and instances differ (each account's catalog has its own seed). A key can be
denied actions, as a sub-user without a permission is; the sandbox then answers HTTP 403
``AUTHFAILURE_UNAUTHORIZED_OPERATION`` (:data:`UNAUTHORIZED`; Zenlayer does not document the
code of this error, so this is the sandbox's choice, shaped like its other auth codes).

>>> from imgframe.sandbox import Sandbox
>>> ops = Account("ops", "ak-ops", "sk-ops", seed=11, denied_actions={"DescribeInstances"})
>>> with Sandbox(images=300, accounts=[ops]) as sb:
...     [a.name for a in sb.accounts], sb.account("ops").catalog.seed
(['demo', 'ops'], 11)
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from imgframe.errors import InvalidArgument
from imgframe.sandbox.faults import ACTIONS

if TYPE_CHECKING:
    from imgframe.sandbox.catalog import Catalog

UNAUTHORIZED = "AUTHFAILURE_UNAUTHORIZED_OPERATION"


@dataclass(frozen=True)
class Account:
    """One account: its access key, optional bearer tokens, its catalog and its permissions.

    ``catalog`` serves a prebuilt catalog; otherwise the sandbox builds one with ``seed``
    (default: the sandbox's seed) and the sandbox's size, day, tags shape, fleet size and
    copies. ``denied_actions`` lists the actions this account's key and tokens may not call.
    """

    name: str
    access_key_id: str
    access_key_secret: str
    seed: int | None = None
    catalog: Catalog | None = field(default=None, compare=False)
    tokens: tuple[str, ...] = ()
    denied_actions: Collection[str] = frozenset()

    def __post_init__(self) -> None:
        for attribute in ("name", "access_key_id", "access_key_secret"):
            value = getattr(self, attribute)
            if not isinstance(value, str) or not value:
                raise InvalidArgument(f"Account.{attribute} must be a non-empty string")
        unknown = set(self.denied_actions) - set(ACTIONS)
        if unknown:
            got = ", ".join(sorted(unknown))
            raise InvalidArgument(f"denied_actions must be among {', '.join(ACTIONS)}; got {got}")
        object.__setattr__(self, "tokens", tuple(self.tokens))
        object.__setattr__(self, "denied_actions", frozenset(self.denied_actions))

    def may_call(self, action: str | None) -> bool:
        """False when this account's key is denied ``action``."""
        return action not in self.denied_actions

    def denial(self, action: str, by_token: bool = False) -> str:
        """The message of the 403 answered when the account calls an action it is denied."""
        who = "token" if by_token else f"access key {self.access_key_id!r}"
        return (
            f"The {who} is not authorized to perform {action}: the account's permissions "
            "do not include this action."
        )
