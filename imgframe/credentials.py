"""Where credentials and the endpoint come from.

Sources, highest first, the same ones Zenlayer's own tools read, so a user of the official
CLI (``zeno``) or the Terraform provider needs no new setup:

1. explicit arguments (``access_key_id`` + ``access_key_secret``, or ``token``);
2. environment ``ZENLAYER_ACCESS_KEY_ID`` + ``ZENLAYER_ACCESS_KEY_SECRET``, or ``ZENLAYER_TOKEN``;
3. the official CLI's profile file ``~/.zenlayer/credentials.json``: the profile named by the
   ``profile`` argument, else ``ZENLAYER_PROFILE``, else ``current_profile`` in
   ``~/.zenlayer/config.json``, else ``default``;
4. Terraform's ``ZENLAYERCLOUD_ACCESS_KEY_ID`` + ``ZENLAYERCLOUD_ACCESS_KEY_PASSWORD``.

The endpoint is the ``endpoint`` argument, else ``ZENLAYER_ENDPOINT``, else
``https://console.zenlayer.com``. Plain ``http://`` is refused unless the host is loopback (the
sandbox), so a secret is never sent in the clear by accident.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

from .errors import ConfigError, CredentialsError

__all__ = [
    "DEFAULT_ENDPOINT",
    "Credentials",
    "is_loopback",
    "list_profiles",
    "resolve_credentials",
    "resolve_endpoint",
    "without_userinfo",
]

DEFAULT_ENDPOINT = "https://console.zenlayer.com"


@dataclass(frozen=True)
class Credentials:
    """An access key pair or a bearer token, and where it was found.

    The secret and the token never appear in ``repr`` or ``str``.
    """

    access_key_id: str | None = None
    access_key_secret: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    source: str = "arguments"

    def __post_init__(self) -> None:
        # Surrounding whitespace is never part of a key (the official SDK strips it too); it
        # arrives from copy-pasted env files and would break every signature.
        for name in ("access_key_id", "access_key_secret", "token"):
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, str):
                raise CredentialsError(
                    f"{_LABELS[name]} from {self.source} must be text, not {type(value).__name__}"
                )
            object.__setattr__(self, name, _checked(value.strip(), name, self.source) or None)
        has_pair = bool(self.access_key_id and self.access_key_secret)
        if not has_pair and not self.token:
            raise CredentialsError(
                f"credentials from {self.source} need an access key id and secret, or a token"
            )

    @property
    def is_token(self) -> bool:
        """True when requests are sent with ``Authorization: Bearer``."""
        return not (self.access_key_id and self.access_key_secret)

    def __repr__(self) -> str:
        kind = "token" if self.is_token else f"access_key_id={self.access_key_id!r}"
        return f"Credentials({kind}, secret=***, source={self.source!r})"

    __str__ = __repr__

    def secrets(self) -> tuple[str, ...]:
        """The values that must never be logged (for redaction and for tests)."""
        return tuple(s for s in (self.access_key_secret, self.token) if s)


_LABELS = {
    "access_key_id": "the access key id",
    "access_key_secret": "the access key secret",
    "token": "the token",
}


def _checked(value: str, name: str, source: str) -> str:
    """``value`` if it can be sent (or signed with) as it is; else a :class:`CredentialsError`
    that says where the bad character is without quoting the value (it may be a secret)."""
    for position, char in enumerate(value, start=1):
        bad = ord(char) < 32 or ord(char) == 127 or ord(char) > 255 or char.isspace()
        if bad:
            kind = "a non-Latin-1" if ord(char) > 255 else "a control or space"
            raise CredentialsError(
                f"{_LABELS[name]} from {source} holds {kind} character at position "
                f"{position} (a pasted line break?); it cannot be sent in an HTTP header"
            )
    return value


def resolve_credentials(
    *,
    access_key_id: str | None = None,
    access_key_secret: str | None = None,
    token: str | None = None,
    profile: str | None = None,
    environ: Mapping[str, str] | None = None,
    home: str | os.PathLike[str] | None = None,
) -> Credentials:
    """Find credentials in the documented order; raise :class:`CredentialsError` naming every
    place looked in when there are none.

    >>> resolve_credentials(token="t", environ={})
    Credentials(token, secret=***, source='arguments')
    """
    env = os.environ if environ is None else environ
    zen_dir = Path(home if home is not None else Path.home()) / ".zenlayer"

    if access_key_id or access_key_secret:
        _require_pair(access_key_id, access_key_secret, "access_key_id", "access_key_secret")
        return Credentials(access_key_id, access_key_secret, source="arguments")
    if token:
        return Credentials(token=token, source="arguments")

    env_id, env_secret = env.get("ZENLAYER_ACCESS_KEY_ID"), env.get("ZENLAYER_ACCESS_KEY_SECRET")
    if env_id or env_secret:
        _require_pair(env_id, env_secret, "ZENLAYER_ACCESS_KEY_ID", "ZENLAYER_ACCESS_KEY_SECRET")
        return Credentials(env_id, env_secret, source="environment ZENLAYER_ACCESS_KEY_ID")
    if env.get("ZENLAYER_TOKEN"):
        return Credentials(token=env["ZENLAYER_TOKEN"], source="environment ZENLAYER_TOKEN")

    profile_name, profile_origin = _profile_name(profile, env, zen_dir)
    from_file = _from_profile_file(zen_dir / "credentials.json", profile_name, profile_origin)
    if from_file is not None:
        return from_file

    tf_id = env.get("ZENLAYERCLOUD_ACCESS_KEY_ID")
    tf_secret = env.get("ZENLAYERCLOUD_ACCESS_KEY_PASSWORD")
    if tf_id or tf_secret:
        _require_pair(
            tf_id, tf_secret, "ZENLAYERCLOUD_ACCESS_KEY_ID", "ZENLAYERCLOUD_ACCESS_KEY_PASSWORD"
        )
        return Credentials(tf_id, tf_secret, source="environment ZENLAYERCLOUD_ACCESS_KEY_ID")

    raise CredentialsError(
        "no Zenlayer credentials found; looked in: arguments (access_key_id/access_key_secret "
        "or token), environment ZENLAYER_ACCESS_KEY_ID + ZENLAYER_ACCESS_KEY_SECRET, "
        f"environment ZENLAYER_TOKEN, {zen_dir / 'credentials.json'} (profile "
        f"{profile_name!r}), environment ZENLAYERCLOUD_ACCESS_KEY_ID + "
        "ZENLAYERCLOUD_ACCESS_KEY_PASSWORD"
    )


def list_profiles(*, home: str | os.PathLike[str] | None = None) -> list[str]:
    """The profiles of the official CLI's ``~/.zenlayer/credentials.json``, in file order
    (what ``profiles="all"`` fetches).

    >>> import json, tempfile
    >>> home = Path(tempfile.mkdtemp())
    >>> (home / ".zenlayer").mkdir()
    >>> _ = (home / ".zenlayer" / "credentials.json").write_text(json.dumps(
    ...     {"prod": {"token": "t1"}, "dev": {"token": "t2"}}))
    >>> list_profiles(home=home)
    ['prod', 'dev']
    """
    path = Path(home if home is not None else Path.home()) / ".zenlayer" / "credentials.json"
    document = _read_json(path)
    if document is None:
        raise CredentialsError(f"no profiles: {path} does not exist")
    if isinstance(document, dict) and isinstance(document.get("profiles"), dict):
        document = document["profiles"]
    if not isinstance(document, dict):
        raise CredentialsError(f"{path} is not a JSON object of profiles")
    names = [str(name) for name, entry in document.items() if isinstance(entry, dict)]
    if not names:
        raise CredentialsError(f"{path} holds no profiles")
    return names


def _require_pair(key_id: str | None, secret: str | None, id_name: str, secret_name: str) -> None:
    if not key_id:
        raise CredentialsError(f"{secret_name} is set but {id_name} is not")
    if not secret:
        raise CredentialsError(f"{id_name} is set but {secret_name} is not")


def _profile_name(explicit: str | None, env: Mapping[str, str], zen_dir: Path) -> tuple[str, str]:
    if explicit:
        return explicit, "argument"
    if env.get("ZENLAYER_PROFILE"):
        return env["ZENLAYER_PROFILE"], "ZENLAYER_PROFILE"
    config = _read_json(zen_dir / "config.json")
    current = config.get("current_profile") if isinstance(config, dict) else None
    if isinstance(current, str) and current:
        return current, f"current_profile in {zen_dir / 'config.json'}"
    return "default", "default"


def _from_profile_file(path: Path, name: str, origin: str) -> Credentials | None:
    document = _read_json(path)
    if document is None:
        if origin in ("argument", "ZENLAYER_PROFILE"):
            raise CredentialsError(f"profile {name!r} was asked for but {path} does not exist")
        return None
    entry = document.get(name) if isinstance(document, dict) else None
    if entry is None and isinstance(document, dict):
        # Tolerate the config.json-like layout {"profiles": {...}} too.
        profiles = document.get("profiles")
        entry = profiles.get(name) if isinstance(profiles, dict) else None
    if not isinstance(entry, dict):
        if origin != "default":
            raise CredentialsError(f"profile {name!r} ({origin}) is not in {path}")
        return None
    key_id, secret, token = (entry.get(k) for k in ("access_key_id", "access_key_secret", "token"))
    source = f"{path} profile {name!r}"
    for field_name, value in (("access_key_id", key_id), ("access_key_secret", secret),
                              ("token", token)):  # fmt: skip
        if value is not None and not isinstance(value, str):
            raise CredentialsError(
                f"{_LABELS[field_name]} from {source} must be text, not {type(value).__name__}"
            )
    if key_id or secret:
        _require_pair(key_id, secret, f"{source} access_key_id", f"{source} access_key_secret")
        return Credentials(key_id, secret, source=source)
    if token:
        return Credentials(token=token, source=source)
    raise CredentialsError(f"{source} has neither an access key pair nor a token")


def _read_json(path: Path) -> object | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    try:
        document: object = json.loads(text)
    except (ValueError, RecursionError):
        # Never quote the file: it holds secrets.
        raise ConfigError(f"{path} is not valid JSON") from None
    return document


def resolve_endpoint(
    endpoint: str | None = None, *, environ: Mapping[str, str] | None = None
) -> str:
    """The API base URL (scheme and host, no path), validated.

    Errors never quote a userinfo part or a query (either may hold a secret), and quote the
    rest cleaned of control characters.

    >>> resolve_endpoint("http://127.0.0.1:8765")
    'http://127.0.0.1:8765'
    """
    env = os.environ if environ is None else environ
    if endpoint:
        origin = "endpoint"
    elif env.get("ZENLAYER_ENDPOINT"):
        endpoint, origin = env["ZENLAYER_ENDPOINT"], "ZENLAYER_ENDPOINT"
    else:
        endpoint, origin = DEFAULT_ENDPOINT, "default"
    text = endpoint.strip()
    parts = urlsplit(text)
    if "@" in parts.netloc:
        raise ConfigError(f"{origin} must not hold credentials in the URL")
    # urlsplit drops tabs and line breaks, so what is quoted is taken from the text itself.
    shown = repr(_shown(urlsplit("".join(c if 32 < ord(c) < 127 else "\ufffd" for c in text))))
    if any(ord(c) < 33 or ord(c) == 127 for c in text):
        raise ConfigError(f"{origin} {shown} holds spaces or control characters")
    if parts.query or parts.fragment:
        raise ConfigError(
            f"{origin} {shown} must be a base URL without a query (the API path is added)"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{origin} {shown} is not an http(s) URL like https://console.zenlayer.com"
        )
    if not _is_host(parts.hostname):
        raise ConfigError(f"{origin} {shown} does not name a valid host")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigError(
            f"{origin} {parts.scheme}://{parts.netloc} uses plain http; only loopback hosts "
            "(the sandbox) may; use https"
        )
    try:
        parts.port  # noqa: B018  (validates the port)
    except ValueError:
        raise ConfigError(f"{origin} {shown} has an invalid port") from None
    if parts.path not in ("", "/"):
        raise ConfigError(
            f"{origin} {shown} must be a base URL without a path (the API path is added)"
        )
    return f"{parts.scheme}://{parts.netloc}"


def _shown(parts: SplitResult) -> str:
    """A URL as it may be quoted: no userinfo, no query, printable, at most 100 characters."""
    host = parts.netloc.rpartition("@")[2]
    text = f"{parts.scheme}://{host}{parts.path}" if parts.scheme else host + parts.path
    text = "".join(c if 32 < ord(c) < 127 else "?" for c in text)
    return text if len(text) <= 100 else text[:99] + "…"


_HOST_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"{_HOST_LABEL}(?:\.{_HOST_LABEL})*\.?")


def _is_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return len(host) <= 253 and _HOSTNAME.fullmatch(host) is not None
    return True


def without_userinfo(url: str) -> str:
    """``url`` without ``user:password@`` (to name a proxy in a message).

    >>> without_userinfo("http://me:secret@proxy.example:3128")
    'http://proxy.example:3128'
    """
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}" if parts.scheme else host


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
