"""exactsync.redact: credentials masked by value and by name; ordinary data left readable."""

import logging

from exactsync.redact import MASK, redact, redact_url, register_secret


def test_registered_secret_is_masked_wherever_it_appears():
    register_secret("s3cr3t-value-for-test")
    assert redact("boom: s3cr3t-value-for-test in a message") == f"boom: {MASK} in a message"
    register_secret("abc")  # too short to register: ordinary words must survive
    assert redact("abc def") == "abc def"


def test_credential_parameters_are_masked_in_urls_forms_and_json():
    assert redact("POST /api/oauth2/token?code=abc123&state=x") == f"POST /api/oauth2/token?code={MASK}&state=x"
    assert redact("grant_type=refresh_token&refresh_token=r1&client_secret=zz") == (
        f"grant_type=refresh_token&refresh_token={MASK}&client_secret={MASK}")
    assert redact('{"access_token": "eyJ.a.b", "token": "t", "Secret": "s"}') == (
        f'{{"access_token": "{MASK}", "token": "{MASK}", "Secret": "{MASK}"}}')
    header = redact("Authorization: Bearer eyJhbGciOi.x.y")
    assert header == f"Authorization: Bearer {MASK}"  # the scheme word stays, the token goes
    assert "ck_live" not in redact_url("https://shop/wp-json/wc/v3/orders?consumer_key=ck_live&page=2")
    assert "user:pw@" not in redact_url("https://user:pw@shop.example/rest/V1/orders")


def test_codes_in_json_bodies_stay_readable():
    # "Code" is a GL account / journal / VAT code in Exact's JSON, not an OAuth code: keep it.
    body = '{"Code": "8000", "error": {"code": "", "message": {"value": "Invalid token"}}, "VATCode": "2"}'
    assert redact(body) == body
    assert redact("the token expired; journal code: 70") == "the token expired; journal code: 70"


def test_log_records_are_scrubbed(caplog):
    from exactsync.redact import install_log_filter

    install_log_filter()
    register_secret("refresh-token-value-xyz")
    with caplog.at_level(logging.INFO):
        logging.getLogger("exactsync.test").info("refreshing with %s", "refresh-token-value-xyz")
    assert "refresh-token-value-xyz" not in caplog.text and MASK in caplog.text


def test_prose_after_a_scheme_or_a_credential_name_stays_readable():
    # exactsync's own hints and the APIs' error texts name the schemes and settings in prose
    hint = "enable 'Allow OAuth Access Tokens to be used as standalone Bearer Tokens' (Stores > Configuration)"
    assert redact(hint) == hint
    assert redact("Missing OAuth parameter oauth_consumer_key") == "Missing OAuth parameter oauth_consumer_key"
    missing = "missing setting(s) exact.client_secret: register the app in Exact's App Center"
    assert redact(missing) == missing
    # values that look like credentials are masked all the same, quoted ones (JSON, a repr) always
    assert redact("Authorization: Bearer abcDEF123") == f"Authorization: Bearer {MASK}"
    assert redact("Authorization: Basic dXNlcjpwYXNz") == f"Authorization: Basic {MASK}"
    assert redact('OAuth oauth_consumer_key="ck_1", oauth_signature="x"') == f'OAuth {MASK} oauth_signature="{MASK}"'
    assert redact("client_secret: s3cr3t-value") == f"client_secret: {MASK}"
    assert redact('{"token": "plain"}') == f'{{"token": "{MASK}"}}'
    assert redact("{'consumer_secret': 'plain'}") == f"{{'consumer_secret': '{MASK}'}}"
    assert redact("token=plain") == f"token={MASK}"
