"""Magento sandbox over real HTTP: routes, auth, searchCriteria, paging quirks, data shapes."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import httpx2
import pytest

from exactsync.clock import FakeClock
from exactsync.sandbox.magento import create_app
from exactsync.sandbox.server import load_scenario_apps, serve

DATA = Path(__file__).parent / "data" / "magento_small.json"
TOKEN = "itok-small-1"


def scenario(**store):
    sc = json.loads(DATA.read_text())
    sc["store"].update(store)
    return sc


@pytest.fixture(scope="module")
def server():
    clock = FakeClock(1_790_000_000)
    app = create_app(scenario(), clock=clock)
    srv = serve(app)
    yield app, srv
    srv.stop()


@pytest.fixture
def client(server):
    app, srv = server
    with httpx2.Client(base_url=srv.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10) as c:
        yield c


def get(client, path, params=None, **kw):
    r = client.get(path, params=params, **kw)
    return r, json.loads(r.content, parse_float=Decimal)


def sc_params(*groups, sort=(), page_size=None, page=None):
    p = {}
    for gi, g in enumerate(groups):
        for fi, (field, value, cond) in enumerate(g):
            base = f"searchCriteria[filter_groups][{gi}][filters][{fi}]"
            p[f"{base}[field]"] = field
            p[f"{base}[value]"] = value
            p[f"{base}[condition_type]"] = cond
    for si, (field, direction) in enumerate(sort):
        p[f"searchCriteria[sortOrders][{si}][field]"] = field
        p[f"searchCriteria[sortOrders][{si}][direction]"] = direction
    if page_size is not None:
        p["searchCriteria[pageSize]"] = page_size
    if page is not None:
        p["searchCriteria[currentPage]"] = page
    return p


def test_unknown_route_and_singular_creditmemo(client):
    r, body = get(client, "/rest/V1/nothing")
    assert r.status_code == 404 and body == {"message": "Request does not match any route."}
    r, body = get(client, "/rest/V1/creditmemos/1")  # plural + id is not a route
    assert r.status_code == 404 and body["message"] == "Request does not match any route."
    r, body = get(client, "/rest/V1/creditmemo/1")
    assert r.status_code == 200 and body["entity_id"] == 1 and body["order_id"] == 2
    r, body = get(client, "/rest/V1/orders/999")
    assert r.status_code == 404
    assert body["message"] == "The entity that was requested doesn't exist. Verify the entity and try again."


def test_auth_401_body(server):
    app, srv = server
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        r = httpx2.get(srv.url + "/rest/V1/orders/1", headers=headers)
        assert r.status_code == 401
        assert r.json() == {
            "message": "The consumer isn't authorized to access %resources.",
            "parameters": {"resources": "Magento_Sales::sales"},
        }
    # a token limited to tax resources can read tax rates, not orders
    h = {"Authorization": "Bearer itok-tax-only"}
    assert httpx2.get(srv.url + "/rest/V1/orders/1", headers=h).status_code == 401
    r = httpx2.get(srv.url + "/rest/V1/taxRates/search?searchCriteria=", headers=h)
    assert r.status_code == 200 and r.json()["total_count"] == 6


def test_admin_token_flow(server):
    app, srv = server
    r = httpx2.post(srv.url + "/rest/V1/integration/admin/token", json={"username": "admin", "password": "nope"})
    assert r.status_code == 401 and r.json()["message"].startswith("The account sign-in was incorrect")
    r = httpx2.post(srv.url + "/rest/V1/integration/admin/token", json={"username": "secure", "password": "pw"})
    assert r.status_code == 401 and r.json()["parameters"] == {"active_providers": ["google"]}
    r = httpx2.post(srv.url + "/rest/V1/integration/admin/token", json={"username": "admin", "password": "admin123!"})
    token = r.json()
    assert r.status_code == 200 and isinstance(token, str)
    ok = httpx2.get(srv.url + "/rest/V1/orders/1", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    app.clock.advance(4 * 3600 + 1)  # admin tokens expire after 4 h
    assert httpx2.get(srv.url + "/rest/V1/orders/1", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_missing_search_criteria_is_400(client):
    r, body = get(client, "/rest/V1/orders")
    assert r.status_code == 400
    assert body == {"message": "%fieldName is a required field.", "parameters": {"fieldName": "searchCriteria"}}
    r, body = get(client, "/rest/V1/orders?searchCriteria=")
    assert r.status_code == 200 and body["total_count"] == 9 and len(body["items"]) == 9


def test_store_codes(client):
    r, body = get(client, "/rest/nl/V1/orders", sc_params(page_size=100))
    assert r.status_code == 200 and body["total_count"] == 9  # store code ignored for sales lists
    r, body = get(client, "/rest/xx/V1/orders", sc_params(page_size=100))
    assert r.status_code == 404 and "store" in body["message"]
    r, body = get(client, "/rest/V1/orders", sc_params([("store_id", "1,2", "in")]))
    assert body["total_count"] == 9
    r, body = get(client, "/rest/V1/orders", sc_params([("store_id", "2", "eq")]))
    assert body["total_count"] == 0


def test_or_within_group_and_across_groups(client):
    # (state = new OR state = closed) AND created_at >= 2025-03-05
    p = sc_params(
        [("state", "new", "eq"), ("state", "closed", "eq")],
        [("created_at", "2025-03-05 00:00:00", "gteq")],
        sort=[("entity_id", "ASC")],
    )
    _, body = get(client, "/rest/V1/orders", p)
    assert [o["entity_id"] for o in body["items"]] == [5, 9]
    # both in one group would OR them
    p = sc_params([("state", "new", "eq"), ("created_at", "2025-03-08 00:00:00", "gteq")], sort=[("entity_id", "ASC")])
    _, body = get(client, "/rest/V1/orders", p)
    assert [o["entity_id"] for o in body["items"]] == [8, 9]


@pytest.mark.parametrize(
    "cond,value,expected",
    [
        ("eq", "3", [3]),
        ("neq", "3", [1, 2, 4, 5, 6, 7, 8, 9]),
        ("gt", "7", [8, 9]),
        ("gteq", "7", [7, 8, 9]),
        ("lt", "3", [1, 2]),
        ("lteq", "3", [1, 2, 3]),
        ("in", "2,4,99", [2, 4]),
        ("nin", "1,2,3,4,5,6,7", [8, 9]),
        ("from", "8", [8, 9]),
        ("to", "2", [1, 2]),
    ],
)
def test_condition_types_on_entity_id(client, cond, value, expected):
    _, body = get(client, "/rest/V1/orders", sc_params([("entity_id", value, cond)], sort=[("entity_id", "ASC")]))
    assert [o["entity_id"] for o in body["items"]] == expected


def test_like_null_notnull(client):
    _, body = get(client, "/rest/V1/orders", sc_params([("customer_email", "%@example.nl", "like")], sort=[("entity_id", "ASC")]))
    assert [o["entity_id"] for o in body["items"]] == [1, 5, 7, 9]
    _, body = get(client, "/rest/V1/orders", sc_params([("customer_id", "", "null")]))
    assert body["total_count"] == 7
    _, body = get(client, "/rest/V1/orders", sc_params([("customer_id", "", "notnull")]))
    assert body["total_count"] == 2
    _, body = get(client, "/rest/V1/orders", sc_params([("total_refunded", "", "notnull")]))
    assert sorted(o["entity_id"] for o in body["items"]) == [2, 5]


def test_camel_case_aliases_and_echo(client):
    p = {
        "searchCriteria[filterGroups][0][filters][0][field]": "entity_id",
        "searchCriteria[filterGroups][0][filters][0][value]": "5",
        "searchCriteria[filterGroups][0][filters][0][conditionType]": "lt",
        "searchCriteria[sort_orders][0][field]": "entity_id",
        "searchCriteria[page_size]": "2",
        "searchCriteria[current_page]": "2",
    }
    _, body = get(client, "/rest/V1/orders", p)
    assert [o["entity_id"] for o in body["items"]] == [2, 1]  # DESC is the default direction
    assert body["total_count"] == 4
    assert body["search_criteria"] == {
        "filter_groups": [{"filters": [{"field": "entity_id", "value": "5", "condition_type": "lt"}]}],
        "sort_orders": [{"field": "entity_id", "direction": "DESC"}],
        "page_size": 2,
        "current_page": 2,
    }


def test_overflow_returns_last_page_again(client):
    p = sc_params(sort=[("entity_id", "ASC")], page_size=4, page=3)
    _, last = get(client, "/rest/V1/orders", p)
    assert [o["entity_id"] for o in last["items"]] == [9]
    for page in (4, 50):
        _, body = get(client, "/rest/V1/orders", sc_params(sort=[("entity_id", "ASC")], page_size=4, page=page))
        assert [o["entity_id"] for o in body["items"]] == [9] and body["total_count"] == 9
        assert body["search_criteria"]["current_page"] == page
    for page in (0, -3):
        _, body = get(client, "/rest/V1/orders", sc_params(sort=[("entity_id", "ASC")], page_size=4, page=page))
        assert [o["entity_id"] for o in body["items"]] == [1, 2, 3, 4]


def test_overflow_empty_mode_and_input_limits():
    app = create_app(scenario(overflow="empty", input_limits=True))
    with httpx2.Client(transport=app.transport(), base_url="http://m", headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        body = c.get("/rest/V1/orders", params=sc_params(page_size=4, page=9)).json()
        assert body["items"] == [] and body["total_count"] == 9
        r = c.get("/rest/V1/orders", params=sc_params(page_size=301))
        assert r.status_code == 400 and r.json()["parameters"] == {"max": 300}
    app = create_app(scenario(input_limits=True, default_page_size=4))
    with httpx2.Client(transport=app.transport(), base_url="http://m", headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        body = c.get("/rest/V1/orders?searchCriteria=").json()
        assert len(body["items"]) == 4 and body["total_count"] == 9


def test_fields_projection(client):
    # without sortOrders the collection comes in table order (entity_id)
    _, body = get(client, "/rest/V1/invoices", {**sc_params(page_size=2), "fields": "items[entity_id,increment_id],total_count"})
    assert body == {"items": [{"entity_id": 1, "increment_id": "000000001"}, {"entity_id": 2, "increment_id": "000000002"}], "total_count": 9}


def test_order_shapes(client):
    _, o = get(client, "/rest/V1/orders/2")
    assert o["increment_id"] == "000000002" and o["created_at"] == "2025-03-02 10:00:00"
    assert o["customer_is_guest"] == 1 and o["customer_id"] is None
    assert "shipping_address" not in o
    ship = o["extension_attributes"]["shipping_assignments"][0]["shipping"]["address"]
    assert ship["country_id"] == "DE" and ship["address_type"] == "shipping"
    parent, child, socks = o["items"]
    assert parent["product_type"] == "configurable" and child["parent_item_id"] == parent["item_id"]
    assert parent["sku"] == child["sku"] == "TEE-M-BLUE"
    assert parent["row_total"] == Decimal("30") and child["row_total"] == 0 and child["price"] == 0
    assert o["grand_total"] == Decimal("30") + 6 + Decimal("4.95") + Decimal("5.70") + Decimal("1.14") + Decimal("0.94")  # 19 %, rounded per row
    assert o["extension_attributes"]["applied_taxes"][0]["code"] == "DE-19"
    kinds = [t["type"] for t in o["extension_attributes"]["item_applied_taxes"]]
    assert kinds == ["product", "product", "shipping"]
    # a partial credit memo leaves the state, the full refund of order 5 closes it
    assert o["state"] == "processing" and o["updated_at"] == "2025-03-10 12:00:00"
    _, o5 = get(client, "/rest/V1/orders/5")
    assert o5["state"] == "closed" and o5["total_refunded"] == o5["grand_total"]
    bundle, mug, coffee = o5["items"]
    assert bundle["product_type"] == "bundle" and bundle["row_total"] == 0
    assert mug["row_total"] == 10 and coffee["row_total"] == 15 and coffee["qty_ordered"] == 2


def test_discount_and_incl_tax_shapes(client):
    _, o = get(client, "/rest/V1/orders/6")
    assert o["discount_amount"] == -15 and o["items"][0]["discount_amount"] == 15
    assert o["discount_tax_compensation_amount"] == Decimal("2.5")
    assert o["items"][0]["price"] == Decimal("41.6583")  # 4 decimals
    total = o["subtotal"] + o["shipping_amount"] + o["discount_amount"] + o["tax_amount"] + o["discount_tax_compensation_amount"]
    assert total == o["grand_total"] == Decimal("140.97")
    _, b = get(client, "/rest/V1/orders/3")
    assert b["billing_address"]["vat_id"] == "BE0123456789" and b["billing_address"]["vat_is_valid"] == 1
    assert b["tax_amount"] == 0 and b["extension_attributes"]["applied_taxes"] == []


def test_currency_twins(client):
    _, o = get(client, "/rest/V1/orders/7")
    assert o["order_currency_code"] == "USD" and o["base_currency_code"] == "EUR"
    assert o["base_to_order_rate"] == Decimal("1.085")
    assert o["base_subtotal"] == Decimal("99.99") and o["subtotal"] == Decimal("108.49")


def test_invoice_and_creditmemo_shapes(client):
    _, body = get(client, "/rest/V1/invoices", sc_params([("order_id", "2", "eq")]))
    (inv,) = body["items"]
    assert inv["state"] == 2 and len(inv["items"]) == 3
    by_item = {i["order_item_id"]: i for i in inv["items"]}
    _, o = get(client, "/rest/V1/orders/2")
    assert by_item[o["items"][1]["item_id"]]["row_total"] == 0  # configurable child
    _, body = get(client, "/rest/V1/creditmemos", sc_params([("order_id", "2", "eq")]))
    (cm,) = body["items"]
    assert cm["state"] == 2 and cm["adjustment_negative"] == 2 and cm["adjustment_positive"] == 0
    assert cm["grand_total"] == Decimal("15") + Decimal("2.85") - 2
    assert cm["subtotal"] > 0 and cm["tax_amount"] > 0


def test_add_creditmemo_bumps_updated_at_and_closes():
    clock = FakeClock(1_800_000_000)
    app = create_app(scenario(), clock=clock)
    before = app.orders[1]["updated_at"]
    cm = app.add_creditmemo(1)
    assert cm["created_at"] == cm["updated_at"] > before
    assert app.orders[1]["updated_at"] == cm["created_at"] and app.orders[1]["state"] == "closed"
    assert cm["grand_total"] == to_number(app.orders[1]["grand_total"])


def to_number(d):
    return int(d) if d == d.to_integral_value() else float(d)


def test_fault_injection():
    app = create_app({**scenario(), "faults": {"error_rate": 0.5, "seed": 7}})
    with httpx2.Client(transport=app.transport(), base_url="http://m", headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        codes = [c.get("/rest/V1/orders/1").status_code for _ in range(40)]
    assert set(codes) == {200, 500} and 8 < codes.count(500) < 32
    app = create_app(scenario())
    app.fail_next(1, 503)
    with httpx2.Client(transport=app.transport(), base_url="http://m", headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        r = c.get("/rest/V1/orders/1")
        assert r.status_code == 503 and r.headers["content-type"].startswith("text/html")
        assert c.get("/rest/V1/orders/1").status_code == 200


def test_load_scenario_dir(tmp_path):
    (tmp_path / "magento.json").write_text(DATA.read_text())
    apps = load_scenario_apps(tmp_path)
    assert len(apps["magento"].orders) == 9


def test_a_damaged_scenario_file_is_a_clear_error_naming_file_and_order(tmp_path):
    """A hand-edited scenario (an amount that is not one, broken JSON) stops `sandbox serve` and
    `demo run` with the file and the order named, exit 5, no traceback; a missing directory is
    still a FileNotFoundError for callers that expect one."""
    import json

    from click.testing import CliRunner

    from exactsync.cli.main import cli, load_commands
    from exactsync.sandbox.server import ScenarioError

    load_commands()
    data = json.loads(DATA.read_text())
    data["orders"][0]["items"][0]["price"] = "abc"
    (tmp_path / "magento.json").write_text(json.dumps(data))
    with pytest.raises(ScenarioError, match=r"magento\.json cannot be served: magento scenario: order .*'abc' is not an amount"):
        load_scenario_apps(tmp_path)
    r = CliRunner().invoke(cli, ["sandbox", "serve", "--scenario", str(tmp_path)])
    assert r.exit_code == 5 and "Error: scenario file" in r.output and "Traceback" not in r.output
    (tmp_path / "magento.json").write_text("{not json")
    with pytest.raises(ScenarioError, match="cannot be served"):
        load_scenario_apps(tmp_path)
    with pytest.raises(FileNotFoundError):
        load_scenario_apps(tmp_path / "nowhere")


def test_an_error_after_a_progress_bar_starts_on_its_own_line(tmp_path):
    from click.testing import CliRunner

    from exactsync.cli.main import cli, load_commands
    from exactsync.demo import generate_demo

    load_commands()
    generate_demo(tmp_path, orders=100, seed=3)
    (tmp_path / "magento.json").write_text("{not json")
    r = CliRunner().invoke(cli, ["demo", "run", "--dir", str(tmp_path), "--no-serve"])
    assert r.exit_code == 5
    assert "starting sandboxes" in r.output and "\nError: scenario file" in r.output
