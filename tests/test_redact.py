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
    assert "eyJ" not in header and header.startswith(f"Authorization: {MASK}")
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
