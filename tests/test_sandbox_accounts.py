"""Several accounts on one sandbox, keys denied an action, the official SDK calling the new
actions, and faults aimed at them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from imgframe import sandbox
from imgframe.errors import InvalidArgument
from tests.sandbox_helpers import bearer_headers, call
from tests.test_sandbox_paging import (  # noqa: F401 (fixtures)
    CUSTOM,
    INSTANCES,
    answer,
    http_session,
    listing,
    reset_after_each_test,
)

HK = "asia-east-1a"
OPS = ("ak-ops", "sk-ops")
DATA = ("ak-data", "sk-data")


@pytest.fixture(scope="module")
def sb() -> Iterator[sandbox.Sandbox]:
    accounts = [
        sandbox.Account(
            "ops", *OPS, seed=11, tokens=("tok-ops",), denied_actions={"DescribeInstances"}
        ),
        sandbox.Account("data", *DATA, seed=12, denied_actions=["DescribeCustomImages"]),
    ]
    with sandbox.running(images=1500, seed=7, accounts=accounts) as server:
        yield server


def catalog_of(sb: sandbox.Sandbox, name: str) -> sandbox.Catalog:
    catalog = sb.account(name).catalog
    assert catalog is not None
    return catalog


def images(
    s: requests.Session, sb: sandbox.Sandbox, zone: str, keys: tuple[str, str] | None
) -> list[dict[str, Any]]:
    creds = {} if keys is None else {"key_id": keys[0], "secret": keys[1]}
    records = []
    num = 1
    while True:
        r = call(s, sb, {"zoneId": zone, "pageNum": num, "pageSize": 1000}, **creds)
        assert r.status_code == 200
        page = r.json()["response"]
        records += page["dataSet"]
        if num * 1000 >= page["totalCount"]:
            return records
        num += 1


def test_accounts_see_their_own_custom_images_and_the_same_public_ones(
    sb: sandbox.Sandbox, s: requests.Session
) -> None:
    assert [a.name for a in sb.accounts] == ["demo", "ops", "data"]
    assert [a.catalog.seed for a in sb.accounts if a.catalog] == [7, 11, 12]
    for zone in sb.catalog.zone_ids:
        demo, ops = images(s, sb, zone, None), images(s, sb, zone, OPS)
        public = [[r for r in rs if r["imageType"] == "PUBLIC_IMAGE"] for rs in (demo, ops)]
        assert public[0] == public[1]
        assert public[0]
        custom = [
            {r["imageId"] for r in rs if r["imageType"] == "CUSTOM_IMAGE"} for rs in (demo, ops)
        ]
        assert custom[0]
        assert custom[1]
        assert not custom[0] & custom[1]
    demo_custom = listing(s, sb, CUSTOM)[0]
    ops_custom = listing(s, sb, CUSTOM, credentials=OPS)[0]
    assert ops_custom == catalog_of(sb, "ops").custom_images()
    assert not {r["imageId"] for r in demo_custom} & {r["imageId"] for r in ops_custom}
    groups = [
        {g["resourceGroupId"] for g in a.catalog.resource_groups} for a in sb.accounts if a.catalog
    ]
    assert not groups[0] & groups[1]
    demo_fleet = listing(s, sb, INSTANCES)[0]
    data_fleet = listing(s, sb, INSTANCES, credentials=DATA)[0]
    assert data_fleet == catalog_of(sb, "data").instances()
    assert not {r["instanceId"] for r in demo_fleet} & {r["instanceId"] for r in data_fleet}
    assert [r.account for r in sb.requests[-2:]] == ["demo", "data"]


@pytest.mark.parametrize(
    ("keys", "denied", "allowed"),
    [
        (OPS, INSTANCES, [CUSTOM, "DescribeImages", "DescribeZones"]),
        (DATA, CUSTOM, [INSTANCES, "DescribeImages", "DescribeZones"]),
    ],
)
def test_a_key_denied_an_action_gets_403_and_keeps_the_others(
    sb: sandbox.Sandbox, s: requests.Session, keys: tuple[str, str], denied: str, allowed: list[str]
) -> None:
    r = call(s, sb, {}, action=denied, key_id=keys[0], secret=keys[1])
    body = r.json()
    assert r.status_code == 403
    assert list(body) == ["requestId", "code", "message"]
    assert body["code"] == "AUTHFAILURE_UNAUTHORIZED_OPERATION" == sandbox.UNAUTHORIZED
    assert body["message"] == (
        f"The access key {keys[0]!r} is not authorized to perform {denied}: the account's "
        "permissions do not include this action."
    )
    assert "cf-mitigated" not in r.headers  # an API answer, not a network block
    assert (sb.requests[-1].status, sb.requests[-1].account) == (
        403,
        sb.accounts[1 if keys == OPS else 2].name,
    )
    for action in allowed:
        payload = {"zoneId": HK} if action == "DescribeImages" else {}
        assert (
            call(s, sb, payload, action=action, key_id=keys[0], secret=keys[1]).status_code == 200
        )
    assert call(s, sb, {}, action=denied).status_code == 200  # the demo key may


def test_a_denied_tokens_request_is_refused_too(sb: sandbox.Sandbox, s: requests.Session) -> None:
    r = s.post(sb.api_url, data=b"{}", headers=bearer_headers("tok-ops", action=INSTANCES))
    assert (r.status_code, r.json()["code"]) == (403, "AUTHFAILURE_UNAUTHORIZED_OPERATION")
    assert r.json()["message"].startswith(
        "The token is not authorized to perform DescribeInstances"
    )
    r = s.post(sb.api_url, data=b"{}", headers=bearer_headers("tok-ops", action=CUSTOM))
    assert r.json()["response"]["totalCount"] == len(catalog_of(sb, "ops").custom_images())


def test_permissions_are_checked_before_faults_and_after_signatures(
    sb: sandbox.Sandbox, s: requests.Session
) -> None:
    sb.inject("429")
    assert call(s, sb, {}, action=INSTANCES, key_id=OPS[0], secret=OPS[1]).status_code == 403
    assert sb.faults.pending() == [("429", None)]  # not consumed by the refused request
    bad = call(s, sb, {}, action=INSTANCES, key_id=OPS[0], secret="wrong")
    assert (bad.status_code, bad.json()["code"]) == (401, "AUTHFAILURE_SIGNATURE_FAILURE")
    assert call(s, sb, {}, action=CUSTOM, key_id=OPS[0], secret=OPS[1]).status_code == 429


def test_reset_restores_every_accounts_day(sb: sandbox.Sandbox) -> None:
    for account in sb.accounts:
        assert account.catalog is not None
        account.catalog.set_day(2)
    sb.reset()
    assert [a.catalog.day for a in sb.accounts if a.catalog] == [0, 0, 0]


def test_an_account_with_the_demo_key_replaces_demo(s: requests.Session) -> None:
    demo = sandbox.Account(
        "me", sandbox.DEMO_ACCESS_KEY_ID, sandbox.DEMO_ACCESS_KEY_SECRET, seed=3,
        denied_actions={"DescribeInstances"},
    )  # fmt: skip
    with sandbox.running(images=0, accounts=[demo]) as box:
        assert [a.name for a in box.accounts] == ["me"]
        assert box.catalog.seed == 3
        assert call(s, box, {}, action=INSTANCES).status_code == 403
        r = s.post(box.api_url, data=b"{}", headers=bearer_headers(box.token, action=INSTANCES))
        assert r.status_code == 403  # the demo token is the default account's too


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: sandbox.Account("x", "k", "s", denied_actions={"RunInstances"}),
            "denied_actions must be among",
        ),
        (lambda: sandbox.Account("", "k", "s"), "Account.name must be a non-empty string"),
        (lambda: sandbox.Account("x", "k", ""), "Account.access_key_secret must be"),
        (
            lambda: sandbox.Sandbox(
                images=0, accounts=[sandbox.Account("a", "k", "s"), sandbox.Account("b", "k", "t")]
            ),
            "the same access key id is given to accounts a and b",
        ),
        (
            lambda: sandbox.Sandbox(images=0, accounts=[sandbox.Account("demo", "k", "s")]),
            "account names must be unique",
        ),
        (lambda: sandbox.Sandbox(images=0).account("nobody"), "unknown account 'nobody'"),
        (lambda: sandbox.Catalog(images=10, copies=1.5), "copies must be a share between 0 and 1"),
        (lambda: sandbox.Catalog(images=10, instances=-1), "instances must be a non-negative"),
        (lambda: sandbox.Catalog(images=10).instance_count("mars-1a", "x"), "unknown zone"),
        (lambda: sandbox.Faults().inject("429", action="RunInstances"), "action must be one of"),
    ],
)
def test_bad_arguments_are_invalid_arguments(make: Any, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        make()


# -- the official SDK -----------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A record without its None values (the SDK's serialize() leaves unset fields out)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_official_sdk_reads_both_actions_as_the_ground_truth(sb: sandbox.Sandbox) -> None:
    from zenlayercloud.common.config import Config
    from zenlayercloud.common.credential import Credential
    from zenlayercloud.common.excpetion.zenlayer_cloud_sdk_exception import (
        ZenlayerCloudSdkException,
    )
    from zenlayercloud.zec.v20250901 import models
    from zenlayercloud.zec.v20250901.zec_client import ZecClient

    config = Config(scheme="http", domain=f"127.0.0.1:{sb.port}")
    client = ZecClient(Credential(sb.access_key_id, sb.access_key_secret), config)

    req = models.DescribeCustomImagesRequest()
    req.regionId, req.osType, req.pageNum, req.pageSize = "asia-southeast-1", "linux", 2, 25
    tag = models.Tag()
    tag.key, tag.value = "env", "prod"
    req.tags = [tag]
    custom = client.DescribeCustomImages(req)
    expected = sb.catalog.custom_images(
        regionId="asia-southeast-1", osType="linux", tags=[{"key": "env", "value": "prod"}]
    )
    assert custom.totalCount == len(expected) > 25
    assert [m.serialize() for m in custom.dataSet] == [_plain(r) for r in expected[25:50]]

    req = models.DescribeInstancesRequest()
    req.zoneId, req.status, req.pageSize = "asia-southeast-1a", "RUNNING", 1000
    instances = client.DescribeInstances(req)
    expected = sb.catalog.instances(zoneId="asia-southeast-1a", status="RUNNING")
    assert instances.totalCount == len(expected) > 0
    assert [m.serialize() for m in instances.dataSet] == [_plain(r) for r in expected]
    assert instances.dataSet[0].systemDisk.diskSize == expected[0]["systemDisk"]["diskSize"]

    ops = ZecClient(Credential(*OPS), config)
    with pytest.raises(ZenlayerCloudSdkException) as denied:
        ops.DescribeInstances(models.DescribeInstancesRequest())
    assert denied.value.code == "AUTHFAILURE_UNAUTHORIZED_OPERATION"
    assert ops.DescribeCustomImages(models.DescribeCustomImagesRequest()).totalCount == len(
        catalog_of(sb, "ops").custom_images()
    )


# -- faults ---------------------------------------------------------------------------------


@pytest.mark.parametrize("action", [CUSTOM, INSTANCES])
def test_scripted_faults_can_target_the_new_actions(
    sb: sandbox.Sandbox, s: requests.Session, action: str
) -> None:
    other = INSTANCES if action == CUSTOM else CUSTOM
    sb.inject("429", "502-html", "503-empty", action=action)
    assert call(s, sb, {}, action=other).status_code == 200  # not for this action
    assert call(s, sb, {"zoneId": HK}).status_code == 200
    r = call(s, sb, {}, action=action)
    assert (r.status_code, r.json()["code"]) == (429, "REQUEST_LIMIT_EXCEEDED")
    r = call(s, sb, {}, action=action)
    assert r.status_code == 502
    assert b"502 Bad Gateway" in r.content
    r = call(s, sb, {}, action=action)
    assert (r.status_code, r.content) == (503, b"")
    assert [(rec.action, rec.fault) for rec in sb.requests[-3:]] == [
        (action, "429"), (action, "502-html"), (action, "503-empty"),
    ]  # fmt: skip
    assert call(s, sb, {}, action=action).status_code == 200  # consumed


@pytest.mark.parametrize("action", [CUSTOM, INSTANCES])
def test_malformed_and_no_dataset_answers_of_the_new_actions(
    sb: sandbox.Sandbox, s: requests.Session, action: str
) -> None:
    total = answer(s, sb, action, pageSize=1)["totalCount"]
    sb.inject("no-dataset", action=action)
    assert answer(s, sb, action) == {"requestId": sb.requests[-1].request_id, "totalCount": total}
    sb.inject("malformed", action=action)
    r = call(s, sb, {}, action=action)
    with pytest.raises(ValueError, match="Expecting"):
        r.json()
    sb.inject("drop", action=action)
    with pytest.raises(requests.ConnectionError):
        call(s, sb, {}, action=action)


def test_fault_rates_apply_to_the_new_actions(sb: sandbox.Sandbox, s: requests.Session) -> None:
    sb.faults.error_rate, sb.faults.error_status = 1.0, 500
    assert [call(s, sb, {}, action=a).status_code for a in (CUSTOM, INSTANCES)] == [500, 500]
