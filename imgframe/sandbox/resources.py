"""What an account's images and instances belong to: resource groups, key pairs, networks.

Drawn from their own seeded stream (``imgframe-account:<seed>``), so adding them changed no
byte of the image catalog. Resource group ids are UUIDs and names read like a real account's:
the ``Default Resource Group`` every account has, plus groups named after some of the teams
(three to six, depending on the seed).
"""

from __future__ import annotations

import random
import string
import uuid
from dataclasses import dataclass

from imgframe.sandbox import data

_KEY_CHARS = string.ascii_letters + string.digits


@dataclass(frozen=True)
class AccountResources:
    """One account's resource groups and networking, indexed as the catalog's codes are.

    >>> res = account_resources(7)
    >>> res.group_names[0], len(res.group_ids) == len(res.group_names) >= 4
    ('Default Resource Group', True)
    """

    #: Resource group ids and names; index 0 is the default group.
    group_ids: tuple[str, ...]
    group_names: tuple[str, ...]
    #: For each team (``data.TEAMS`` order), the index of its resource group (0: none of its
    #: own, so the default one).
    team_groups: tuple[int, ...]
    key_ids: tuple[str, ...]
    vpc_id: str
    #: Per zone (``data.ZONES`` order).
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]

    @property
    def resource_groups(self) -> list[dict[str, str]]:
        """ResourceGroupInfo records (``resourceGroupId``, ``resourceGroupName``)."""
        return [
            {"resourceGroupId": i, "resourceGroupName": n}
            for i, n in zip(self.group_ids, self.group_names, strict=True)
        ]


def _number(rng: random.Random) -> str:
    """A 19-digit resource id, the shape Zenlayer's resource ids have."""
    return str(10**18 + rng.randrange(9 * 10**18))


def account_resources(seed: int) -> AccountResources:
    """The resources of the account whose catalog has this seed."""
    rng = random.Random(f"imgframe-account:{seed}")
    teams = sorted(rng.sample(range(len(data.TEAMS)), 3 + rng.randrange(4)))
    names = [data.DEFAULT_RESOURCE_GROUP] + [data.TEAM_GROUP_NAMES[data.TEAMS[t]] for t in teams]
    ids = [str(uuid.UUID(bytes=rng.randbytes(16), version=4)) for _ in names]
    team_groups = tuple(teams.index(t) + 1 if t in teams else 0 for t in range(len(data.TEAMS)))
    keys = tuple("key-" + "".join(rng.choices(_KEY_CHARS, k=8)) for _ in range(4))
    n_zones = len(data.ZONES)
    return AccountResources(
        group_ids=tuple(ids),
        group_names=tuple(names),
        team_groups=team_groups,
        key_ids=keys,
        vpc_id=_number(rng),
        subnet_ids=tuple(_number(rng) for _ in range(n_zones)),
        security_group_ids=tuple(_number(rng) for _ in range(n_zones)),
    )
