"""Typed settings, built from layers with a documented precedence.

Lowest to highest (a later layer wins, key by key):

1. built-in defaults (the dataclasses below);
2. ``exactsync.toml``: the file given by ``--config`` / ``EXACTSYNC_CONFIG``, else
   ``./exactsync.toml`` if it exists. Relative paths in it are relative to the file's folder;
3. ``.streamlit/secrets.toml`` (same sections; Streamlit's own ``[auth]``/``[connections]``
   sections are ignored). Keep secrets here or in the environment, never in exactsync.toml
   under version control;
4. environment variables ``EXACTSYNC_<SECTION>__<KEY>``, e.g. ``EXACTSYNC_EXACT__CLIENT_SECRET``,
   ``EXACTSYNC_STORE__PATH``, ``EXACTSYNC_SHOPS__WOO_MAIN__CONSUMER_SECRET`` (shop names
   upper-cased, ``-`` written as ``_``);
5. explicit overrides from the caller (CLI options).

The library receives a :class:`Settings`; it never reads Streamlit. Secret values are
:class:`Secret` objects that print as ``'********'`` and register themselves with
:mod:`exactsync.redact` so they are scrubbed from every log line.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Mapping

from exactsync.errors import EXIT_CONFIG, ExactsyncError
from exactsync.redact import register_secret

__all__ = [
    "Secret",
    "SettingsError",
    "StoreSettings",
    "ExactSettings",
    "ShopSettings",
    "ReconcileSettings",
    "Settings",
    "load_settings",
    "ENV_PREFIX",
    "shop_env_var",
]

ENV_PREFIX = "EXACTSYNC_"


class SettingsError(ExactsyncError, ValueError):
    """A setting is unknown, malformed or missing; the message names it and its source."""

    exit_code = EXIT_CONFIG


class _BadValue(SettingsError):
    """A setting whose value has the wrong type; knows the setting, so the loader can name the
    environment variable it came from."""

    def __init__(self, where: str, text: str) -> None:
        super().__init__(f"{where}: {text}")
        self.where, self.text = where, text


#: what a value of each type must be, in words (not Python's type names)
_TYPE_WORDS = {"float": "a number", "Decimal": "a number", "int": "a whole number", "bool": "true or false",
               "str": "text", "Path": "a path", "Secret": "text"}


class Secret:
    """A secret string. ``repr``/``str``/f-strings show ``'********'``; ``get()`` reveals it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if isinstance(value, Secret):
            value = value.get()
        self._value = str(value)
        register_secret(self._value)

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')" if self._value else "Secret('')"

    def __str__(self) -> str:
        return "********" if self._value else ""

    def __format__(self, spec: str) -> str:
        return str(self)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self):  # pickling (st.cache_data) must not leak it either way
        return (Secret, (self._value,))


@dataclass
class StoreSettings:
    #: DuckDB file; relative paths are relative to the working directory (or the toml's folder).
    path: Path = Path("data/exactsync.duckdb")
    #: seconds to wait for another process that holds the database before giving up.
    lock_timeout: float = 120.0


@dataclass
class ExactSettings:
    base_url: str = "https://start.exactonline.nl"
    client_id: str = ""
    client_secret: Secret = field(default_factory=lambda: Secret(""))
    #: must equal the redirect URI registered for the app in Exact's App Center.
    redirect_uri: str = "http://127.0.0.1:8501/"
    #: the administrations (division codes) to pull and push; never rely on Me.CurrentDivision.
    divisions: list[int] = field(default_factory=list)
    #: where the OAuth token is kept (0600, written atomically). Never in DuckDB.
    token_file: Path = Path("data/exact_token.json")
    #: sales journal code used for pushed entries.
    sales_journal: str = "70"
    minutely_limit: int = 60
    daily_limit: int = 5000
    #: request timeout in seconds.
    timeout: float = 60.0


@dataclass
class ShopSettings:
    name: str = ""
    #: "woocommerce" or "magento"
    kind: str = "woocommerce"
    #: shop base URL, e.g. https://shop.example.com (Woo) or https://shop.example.com (Magento)
    url: str = ""
    consumer_key: Secret = field(default_factory=lambda: Secret(""))
    consumer_secret: Secret = field(default_factory=lambda: Secret(""))
    #: Magento integration access token (sent as Bearer)
    token: Secret = field(default_factory=lambda: Secret(""))
    #: Exact division this shop books into
    division: int | None = None
    #: prefix put before the shop document number to form YourRef (when shops share a division)
    reference_prefix: str = ""
    #: Woo order statuses that count as invoiced sales
    statuses: list[str] = field(default_factory=lambda: ["processing", "completed", "refunded"])
    #: the shop's home country (domestic VAT)
    home_country: str = "NL"
    #: shop's local timezone: document dates (periods) are taken in it
    timezone: str = "Europe/Amsterdam"
    #: look-back window for incremental pulls (late refunds, clock skew)
    lookback_minutes: int = 1440
    page_size: int = 100
    #: Woo: concurrent page fetches (1 = sequential)
    concurrency: int = 4
    timeout: float = 60.0
    verify_tls: bool = True
    #: Woo: the shop's base (accounting) currency; Woo's REST orders do not carry it (Magento's do)
    base_currency: str = "EUR"
    #: Woo: an order with more lines than this is a per-record error, not a pull-stopping one
    max_order_lines: int = 5000
    #: Woo: list every status so an order that left the booked statuses is noticed (and dropped)
    track_status_changes: bool = True


@dataclass
class ReconcileSettings:
    #: default tolerance per document and difference type, in document currency
    tolerance: Decimal = Decimal("0.01")


@dataclass
class Settings:
    store: StoreSettings = field(default_factory=StoreSettings)
    exact: ExactSettings = field(default_factory=ExactSettings)
    shops: dict[str, ShopSettings] = field(default_factory=dict)
    reconcile: ReconcileSettings = field(default_factory=ReconcileSettings)
    #: True when the settings point at the bundled sandboxes (demo data)
    demo: bool = False
    #: where each layer came from, for `exactsync status` (no values)
    sources: list[str] = field(default_factory=list)

    def shop(self, name: str) -> ShopSettings:
        try:
            return self.shops[name]
        except KeyError:
            known = ", ".join(sorted(self.shops)) or "none configured"
            raise SettingsError(f"unknown shop {name!r} (configured: {known})") from None

    def public_dict(self) -> dict[str, Any]:
        """Settings as plain data with every secret masked (safe to print or log)."""
        return _public(self)


# --------------------------------------------------------------------------- loading


def _is_time_zone(name: str) -> bool:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def load_settings(
    config_file: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    secrets_file: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    cwd: str | Path | None = None,
) -> Settings:
    """Build :class:`Settings` from defaults, toml, Streamlit secrets, environment, overrides."""
    env = os.environ if env is None else env
    cwd = Path(cwd) if cwd is not None else Path.cwd()
    merged: dict[str, Any] = {}
    sources = ["defaults"]

    if config_file is None and env.get(ENV_PREFIX + "CONFIG"):
        config_file = env[ENV_PREFIX + "CONFIG"]
    if config_file is not None:
        path = Path(config_file)
        if not path.is_absolute():
            path = cwd / path
        if not path.exists():
            raise SettingsError(f"config file not found: {path}")
        _merge(merged, _read_toml(path, base_dir=path.parent))
        sources.append(str(path))
    elif (cwd / "exactsync.toml").exists():
        _merge(merged, _read_toml(cwd / "exactsync.toml", base_dir=cwd))
        sources.append(str(cwd / "exactsync.toml"))

    secrets_path = Path(secrets_file) if secrets_file else cwd / ".streamlit" / "secrets.toml"
    if secrets_path.exists():
        data = _read_toml(secrets_path, base_dir=cwd, ignore_unknown=True)
        _merge(merged, data)
        sources.append(str(secrets_path))

    env_vars: dict[str, str] = {}  # setting -> the environment variable that set it
    env_layer = _env_layer(env, merged, env_vars)
    if env_layer:
        _merge(merged, env_layer)
        sources.append("environment")
    if overrides:
        _merge(merged, _nest(overrides))
        sources.append("overrides")
        for key in overrides:
            env_vars.pop(key, None)

    try:
        settings = _build(Settings, merged, "")
    except _BadValue as e:  # a value from the environment: name the variable, not only the setting
        if e.where in env_vars:
            raise SettingsError(f"{env_vars[e.where]} (setting {e.where}): {e.text}") from None
        raise
    for name, shop in settings.shops.items():
        shop.name = shop.name or name
        if shop.kind not in ("woocommerce", "magento"):
            raise SettingsError(f"shops.{name}.kind must be 'woocommerce' or 'magento', not {shop.kind!r}")
        if not _is_time_zone(shop.timezone):
            raise SettingsError(f"shops.{name}.timezone: {shop.timezone!r} is not a time zone "
                                f"(an IANA name such as 'Europe/Amsterdam' or 'UTC')")
    for div in settings.exact.divisions:
        if div <= 0:
            raise SettingsError(f"exact.divisions: {div} is not a division code")
    for fld in ("path",):
        p = getattr(settings.store, fld)
        if not p.is_absolute():
            setattr(settings.store, fld, cwd / p)
    if not settings.exact.token_file.is_absolute():
        settings.exact.token_file = cwd / settings.exact.token_file
    settings.sources = sources
    return settings


_KNOWN_SECTIONS = {"store", "exact", "shops", "reconcile", "demo"}


def _read_toml(path: Path, *, base_dir: Path, ignore_unknown: bool = False) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise SettingsError(f"{path}: not valid TOML ({e})") from None
    if ignore_unknown:
        data = {k: v for k, v in data.items() if k in _KNOWN_SECTIONS}
    else:
        unknown = set(data) - _KNOWN_SECTIONS
        if unknown:
            raise SettingsError(f"{path}: unknown section(s) {', '.join(sorted(unknown))}")
    # Relative paths inside a config file are relative to that file.
    for section, key in (("store", "path"), ("exact", "token_file")):
        value = data.get(section, {}).get(key) if isinstance(data.get(section), dict) else None
        if isinstance(value, str) and not Path(value).is_absolute():
            data[section][key] = str(base_dir / value)
    return data


def _merge(into: dict[str, Any], layer: Mapping[str, Any]) -> None:
    for key, value in layer.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        elif isinstance(value, Mapping):
            into[key] = {}
            _merge(into[key], value)
        else:
            into[key] = value


def _nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """{"store.path": x} → {"store": {"path": x}}; nested dicts pass through."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        parts = key.split(".")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def _shop_key(name: str) -> str:
    return name.upper().replace("-", "_")


def shop_env_var(shop: str, key: str) -> str:
    """The environment variable of setting ``shops.<shop>.<key>`` (``EXACTSYNC_SHOPS__WOO_MAIN__TOKEN``)."""
    return f"{ENV_PREFIX}SHOPS__{_shop_key(shop)}__{key.upper()}"


def _env_layer(env: Mapping[str, str], merged: Mapping[str, Any],
               names: dict[str, str] | None = None) -> dict[str, Any]:
    """The settings the ``EXACTSYNC_…`` variables give; ``names`` gets setting -> variable."""
    names = {} if names is None else names
    layer: dict[str, Any] = {}
    known_shops = {_shop_key(n): n for n in (merged.get("shops") or {})}
    for var, value in env.items():
        if not var.startswith(ENV_PREFIX) or var == ENV_PREFIX + "CONFIG":
            continue
        parts = var[len(ENV_PREFIX):].split("__")
        if parts[0] == "DEMO" and len(parts) == 1:
            layer["demo"] = value
            continue
        section = parts[0].lower()
        if section == "shops" and len(parts) == 3:
            shop = known_shops.get(parts[1], parts[1].lower().replace("_", "-"))
            layer.setdefault("shops", {}).setdefault(shop, {})[parts[2].lower()] = value
            names[f"shops.{shop}.{parts[2].lower()}"] = var
        elif section in _KNOWN_SECTIONS and len(parts) == 2:
            layer.setdefault(section, {})[parts[1].lower()] = value
            names[f"{section}.{parts[1].lower()}"] = var
        else:
            raise SettingsError(f"environment variable {var} does not name a setting")
    return layer


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, Mapping):
        raise SettingsError(f"{where or 'settings'} must be a table, not {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise SettingsError(f"unknown setting(s): {', '.join(sorted((where + '.' if where else '') + u for u in unknown))}")
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _coerce(hints[name], value, f"{where}.{name}" if where else name)
    return cls(**kwargs)


def _coerce(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if value is None or (isinstance(value, str) and value == "" and type(None) in args):
            return None
        inner = [a for a in args if a is not type(None)][0]
        return _coerce(inner, value, where)
    if origin is dict:
        key_t, val_t = args
        if not isinstance(value, Mapping):
            raise SettingsError(f"{where} must be a table")
        return {str(k): _build(val_t, v, f"{where}.{k}") for k, v in value.items()}
    if origin is list:
        (item_t,) = args
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list):
            raise SettingsError(f"{where} must be a list")
        return [_coerce(item_t, v, where) for v in value]
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, where)
    try:
        if tp is Secret:
            return Secret(value)
        if tp is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(value)
        if tp is int:
            if isinstance(value, bool):
                raise ValueError(value)
            return int(value)
        if tp is float:
            return float(value)
        if tp is Decimal:
            return Decimal(str(value))
        if tp is Path:
            return Path(str(value))
        if tp is str:
            if not isinstance(value, (str, int)):
                raise ValueError(value)
            return str(value)
    except (ValueError, TypeError, InvalidOperation):
        shown = "********" if tp is Secret else repr(value)[:60]
        name = getattr(tp, "__name__", str(tp))
        raise _BadValue(where, f"{shown} is not {_TYPE_WORDS.get(name, 'a valid ' + name)}") from None
    raise SettingsError(f"{where}: unsupported setting type {tp}")  # pragma: no cover


def _public(obj: Any) -> Any:
    if isinstance(obj, Secret):
        return str(obj)
    if dataclasses.is_dataclass(obj):
        return {f.name: _public(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {k: _public(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_public(v) for v in obj]
    if isinstance(obj, (Path, Decimal)):
        return str(obj)
    return obj
