"""Where credentials and the endpoint come from, and that secrets never show."""

from __future__ import annotations

import json
import os
import traceback
from pathlib import Path

import pytest

from imgframe.credentials import Credentials, resolve_credentials, resolve_endpoint
from imgframe.errors import ConfigError, CredentialsError

SECRET = "s3cr3t-Value-Never-Shown"


def write_profiles(home: Path, credentials: object, config: object | None = None) -> None:
    zen = home / ".zenlayer"
    zen.mkdir(parents=True, exist_ok=True)
    (zen / "credentials.json").write_text(json.dumps(credentials))
    os.chmod(zen / "credentials.json", 0o600)
    if config is not None:
        (zen / "config.json").write_text(json.dumps(config))


def test_explicit_arguments_win_over_everything(tmp_path: Path) -> None:
    write_profiles(tmp_path, {"default": {"access_key_id": "file", "access_key_secret": "f"}})
    env = {"ZENLAYER_ACCESS_KEY_ID": "env", "ZENLAYER_ACCESS_KEY_SECRET": "e"}
    creds = resolve_credentials(
        access_key_id="arg", access_key_secret=SECRET, environ=env, home=tmp_path
    )
    assert (creds.access_key_id, creds.access_key_secret, creds.source) == (
        "arg",
        SECRET,
        "arguments",
    )


def test_environment_pair_beats_token_and_profile(tmp_path: Path) -> None:
    write_profiles(tmp_path, {"default": {"token": "file-token"}})
    env = {
        "ZENLAYER_ACCESS_KEY_ID": "env",
        "ZENLAYER_ACCESS_KEY_SECRET": "e",
        "ZENLAYER_TOKEN": "t",
    }
    creds = resolve_credentials(environ=env, home=tmp_path)
    assert (creds.access_key_id, creds.is_token) == ("env", False)
    assert creds.source == "environment ZENLAYER_ACCESS_KEY_ID"


def test_environment_token(tmp_path: Path) -> None:
    creds = resolve_credentials(environ={"ZENLAYER_TOKEN": " tok \n"}, home=tmp_path)
    assert (creds.token, creds.is_token, creds.source) == (
        "tok",
        True,
        "environment ZENLAYER_TOKEN",
    )


@pytest.mark.parametrize(
    ("env", "config", "expected"),
    [
        ({}, None, "d"),
        ({}, {"current_profile": "work"}, "w"),
        ({"ZENLAYER_PROFILE": "other"}, {"current_profile": "work"}, "o"),
    ],
)
def test_profile_choice_follows_zeno(
    tmp_path: Path, env: dict[str, str], config: object, expected: str
) -> None:
    write_profiles(
        tmp_path,
        {
            "default": {"access_key_id": "d", "access_key_secret": "x"},
            "work": {"access_key_id": "w", "access_key_secret": "x"},
            "other": {"access_key_id": "o", "access_key_secret": "x"},
        },
        config,
    )
    assert resolve_credentials(environ=env, home=tmp_path).access_key_id == expected


def test_explicit_profile_argument_and_token_profile(tmp_path: Path) -> None:
    write_profiles(tmp_path, {"ci": {"token": "ci-token"}})
    creds = resolve_credentials(profile="ci", environ={}, home=tmp_path)
    assert (creds.token, creds.source) == (
        "ci-token",
        f"{tmp_path / '.zenlayer' / 'credentials.json'} profile 'ci'",
    )


def test_unknown_explicit_profile_is_an_error(tmp_path: Path) -> None:
    write_profiles(tmp_path, {"default": {"token": "t"}})
    with pytest.raises(CredentialsError, match=r"profile 'nope' \(argument\) is not in"):
        resolve_credentials(profile="nope", environ={}, home=tmp_path)


def test_terraform_variables_are_the_last_resort(tmp_path: Path) -> None:
    env = {"ZENLAYERCLOUD_ACCESS_KEY_ID": "tf", "ZENLAYERCLOUD_ACCESS_KEY_PASSWORD": SECRET}
    creds = resolve_credentials(environ=env, home=tmp_path)
    assert (creds.access_key_id, creds.access_key_secret) == ("tf", SECRET)


def test_missing_credentials_names_every_place(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError) as info:
        resolve_credentials(environ={}, home=tmp_path)
    message = str(info.value)
    for place in (
        "arguments",
        "ZENLAYER_ACCESS_KEY_ID + ZENLAYER_ACCESS_KEY_SECRET",
        "ZENLAYER_TOKEN",
        str(tmp_path / ".zenlayer" / "credentials.json"),
        "profile 'default'",
        "ZENLAYERCLOUD_ACCESS_KEY_ID + ZENLAYERCLOUD_ACCESS_KEY_PASSWORD",
    ):
        assert place in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ZENLAYER_ACCESS_KEY_ID": "a"},
         "ZENLAYER_ACCESS_KEY_ID is set but ZENLAYER_ACCESS_KEY_SECRET is not"),
        ({"ZENLAYER_ACCESS_KEY_SECRET": SECRET},
         "ZENLAYER_ACCESS_KEY_SECRET is set but ZENLAYER_ACCESS_KEY_ID is not"),
    ],
)  # fmt: skip
def test_half_a_key_pair_is_named(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(CredentialsError, match=message) as info:
        resolve_credentials(environ=env, home=tmp_path)
    assert SECRET not in str(info.value)


def test_broken_profile_file_is_not_quoted(tmp_path: Path) -> None:
    zen = tmp_path / ".zenlayer"
    zen.mkdir()
    (zen / "credentials.json").write_text('{"default": {"access_key_secret": "' + SECRET)
    with pytest.raises(ConfigError, match="is not valid JSON") as info:
        resolve_credentials(environ={}, home=tmp_path)
    assert SECRET not in "".join(traceback.format_exception(info.value))


@pytest.mark.parametrize(
    ("creds", "shown"),
    [
        (Credentials("AK", SECRET), "Credentials(access_key_id='AK', secret=***, source='arguments')"),
        (Credentials(token=SECRET), "Credentials(token, secret=***, source='arguments')"),
    ],
    ids=["key-pair", "token"],
)  # fmt: skip
def test_secrets_never_in_repr_or_str(creds: Credentials, shown: str) -> None:
    assert repr(creds) == str(creds) == f"{creds}" == shown
    assert creds.secrets() == (SECRET,)


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        (None, "https://console.zenlayer.com"),
        ("https://console.zenlayer.com/", "https://console.zenlayer.com"),
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
        ("http://localhost:1", "http://localhost:1"),
        ("http://[::1]:9", "http://[::1]:9"),
        ("https://api.example.test:8443", "https://api.example.test:8443"),
    ],
)
def test_endpoint_accepted(endpoint: str | None, expected: str) -> None:
    assert resolve_endpoint(endpoint, environ={}) == expected


def test_endpoint_from_environment() -> None:
    env = {"ZENLAYER_ENDPOINT": "http://127.0.0.2:9"}
    assert resolve_endpoint(None, environ=env) == "http://127.0.0.2:9"


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ("http://console.zenlayer.com", "uses plain http; only loopback hosts"),
        ("http://10.0.0.1:80", "uses plain http"),
        ("ftp://x", "is not an http(s) URL"),
        ("console.zenlayer.com", "is not an http(s) URL"),
        ("https://console.zenlayer.com/api/v2/zec", "must be a base URL without a path"),
        ("https://user:pw@console.zenlayer.com", "must not hold credentials"),
        ("https://h:99999", "has an invalid port"),
    ],
)
def test_endpoint_refused(endpoint: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_endpoint(endpoint, environ={})
    assert message in str(info.value)
    assert "pw@" not in str(info.value)
