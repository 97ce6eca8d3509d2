"""Settings: precedence of the layers, coercion, clear errors, secrets that never show."""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path

import pytest

from exactsync.settings import Secret, SettingsError, load_settings


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_any_file(tmp_path):
    s = load_settings(env={}, cwd=tmp_path)
    assert s.store.path == tmp_path / "data" / "exactsync.duckdb"
    assert s.exact.base_url == "https://start.exactonline.nl"
    assert s.reconcile.tolerance == Decimal("0.01")
    assert s.shops == {} and s.sources == ["defaults"]


def test_precedence_toml_then_secrets_then_env_then_overrides(tmp_path):
    write(tmp_path / "exactsync.toml", """
        [store]
        path = "db/x.duckdb"
        [exact]
        client_id = "from-toml"
        divisions = [1, 2]
        [shops.woo-main]
        kind = "woocommerce"
        url = "https://shop"
        consumer_secret = "toml-secret"
        [reconcile]
        tolerance = "0.05"
    """.replace("\n        ", "\n"))
    write(tmp_path / ".streamlit" / "secrets.toml", """
[exact]
client_id = "from-secrets"
client_secret = "s3cr3t-from-secrets"
[shops.woo-main]
consumer_secret = "secrets-secret"
[auth]
redirect_uri = "ignored: streamlit's own section"
""")
    env = {"EXACTSYNC_EXACT__CLIENT_ID": "from-env", "EXACTSYNC_SHOPS__WOO_MAIN__CONSUMER_KEY": "ck_env_key",
           "EXACTSYNC_RECONCILE__TOLERANCE": "0.02"}
    s = load_settings(env=env, cwd=tmp_path, overrides={"reconcile.tolerance": "0.03"})
    assert s.store.path == tmp_path / "db" / "x.duckdb"  # relative to the toml's folder
    assert s.exact.client_id == "from-env"
    assert s.exact.client_secret.get() == "s3cr3t-from-secrets"
    assert s.exact.divisions == [1, 2]
    shop = s.shop("woo-main")
    assert shop.consumer_secret.get() == "secrets-secret" and shop.consumer_key.get() == "ck_env_key"
    assert shop.name == "woo-main" and shop.url == "https://shop"
    assert s.reconcile.tolerance == Decimal("0.03")
    assert s.sources[0] == "defaults" and s.sources[-2:] == ["environment", "overrides"]


def test_explicit_config_file_and_env_config(tmp_path):
    cfg = write(tmp_path / "elsewhere" / "my.toml", '[store]\npath = "my.duckdb"\n')
    s = load_settings(cfg, env={}, cwd=tmp_path)
    assert s.store.path == tmp_path / "elsewhere" / "my.duckdb"
    s2 = load_settings(env={"EXACTSYNC_CONFIG": str(cfg)}, cwd=tmp_path)
    assert s2.store.path == s.store.path
    with pytest.raises(SettingsError, match="config file not found"):
        load_settings(tmp_path / "missing.toml", env={}, cwd=tmp_path)


@pytest.mark.parametrize(
    "toml, message",
    [
        ('[exact]\nclinet_id = "x"\n', "unknown setting.*exact.clinet_id"),
        ('[exact]\ndivisions = ["abc"]\n', "exact.divisions"),
        ('[shops.x]\nkind = "shopify"\n', "must be 'woocommerce' or 'magento'"),
        ('[shops.x]\ntimezone = "Europe/Amsterdm"\n', r"shops.x.timezone: 'Europe/Amsterdm' is not a time zone"),
        ('[nonsense]\na = 1\n', "unknown section"),
        ('[store\n', "not valid TOML"),
    ],
)
def test_bad_settings_are_named(tmp_path, toml, message):
    write(tmp_path / "exactsync.toml", toml)
    with pytest.raises(SettingsError, match=message):
        load_settings(env={}, cwd=tmp_path)


def test_env_variable_that_names_nothing(tmp_path):
    with pytest.raises(SettingsError, match="EXACTSYNC_NOPE"):
        load_settings(env={"EXACTSYNC_NOPE": "1"}, cwd=tmp_path)


def test_secret_never_in_repr_str_or_public_dict(tmp_path):
    value = "super-secret-value-123"
    s = load_settings(env={"EXACTSYNC_EXACT__CLIENT_SECRET": value,
                           "EXACTSYNC_SHOPS__SHOP1__TOKEN": "tok-abcdef-123"}, cwd=tmp_path)
    assert s.exact.client_secret.get() == value
    for text in (repr(s), str(s), repr(s.exact), f"{s.exact.client_secret}", str(s.public_dict())):
        assert value not in text and "tok-abcdef-123" not in text
    assert s.public_dict()["exact"]["client_secret"] == "********"
    assert repr(Secret("abc")) == "Secret('********')"


def test_secret_never_in_a_log_line(tmp_path, caplog):
    import exactsync  # noqa: F401  (importing the package installs the scrubber)

    s = load_settings(env={"EXACTSYNC_EXACT__CLIENT_SECRET": "log-leak-check-987"}, cwd=tmp_path)
    log = logging.getLogger("exactsync.test")
    with caplog.at_level(logging.INFO):
        log.info("client secret is %s", s.exact.client_secret.get())
        log.warning("url https://x/token?refresh_token=abc!def&client_secret=log-leak-check-987")
        try:
            raise ValueError(f"failed with {s.exact.client_secret.get()}")
        except ValueError:
            log.exception("oops")
    text = caplog.text + "".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert "log-leak-check-987" not in text
    assert "abc!def" not in text
    assert "********" in text


def test_a_bad_value_names_its_environment_variable_in_words(tmp_path):
    with pytest.raises(SettingsError) as e:
        load_settings(env={"EXACTSYNC_STORE__LOCK_TIMEOUT": "abc"}, cwd=tmp_path)
    assert str(e.value) == "EXACTSYNC_STORE__LOCK_TIMEOUT (setting store.lock_timeout): 'abc' is not a number"
    with pytest.raises(SettingsError, match=r"^EXACTSYNC_SHOPS__WOO_MAIN__VERIFY_TLS \(setting "
                                            r"shops.woo-main.verify_tls\): 'maybe' is not true or false$"):
        load_settings(env={"EXACTSYNC_SHOPS__WOO_MAIN__VERIFY_TLS": "maybe"}, cwd=tmp_path)
    write(tmp_path / "exactsync.toml", '[exact]\ndivisions = [1, "x"]\n')  # from the file: the setting alone
    with pytest.raises(SettingsError) as e:
        load_settings(env={}, cwd=tmp_path)
    assert str(e.value) == "exact.divisions: 'x' is not a whole number"
    # an override wins over the variable: then the variable is not to blame
    (tmp_path / "exactsync.toml").unlink()
    with pytest.raises(SettingsError) as e:
        load_settings(env={"EXACTSYNC_STORE__LOCK_TIMEOUT": "1"}, cwd=tmp_path, overrides={"store.lock_timeout": "z"})
    assert "EXACTSYNC_" not in str(e.value) and "'z' is not a number" in str(e.value)
