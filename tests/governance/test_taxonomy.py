"""The taxonomy is public data: listed, and each entry readable by its code."""

from __future__ import annotations

import pytest

API = "/api/v1"


@pytest.mark.parametrize("kind, code, field, value", [
    ("products", "dynamic", "operator_kind", "dso"),
    ("products", "quick_reserve", "direction", "both"),
    ("technologies", "battery", "stores_energy", True),
    ("zones", "GB", "kind", "gb"),
])
def test_each_entry_by_its_code(client, kind, code, field, value):
    listed = {e["code"]: e for e in client.get(f"{API}/{kind}").json()}
    r = client.get(f"{API}/{kind}/{code}")
    assert r.status_code == 200 and r.json() == listed[code]
    assert r.json()[field] == value


@pytest.mark.parametrize("kind", ["products", "technologies", "zones"])
def test_an_unknown_code_is_a_404_and_a_bad_one_a_422(client, kind):
    r = client.get(f"{API}/{kind}/no_such_code")
    assert r.status_code == 404 and "no_such_code" in r.json()["detail"]
    r = client.get(f"{API}/{kind}/bad%20code")
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/path/code"


def test_a_new_zone_is_readable_by_its_code(client, make_party):
    admin = make_party("admin")
    body = {"code": "CMZ_NEW", "name": "New zone", "kind": "cmz", "dso": "UKPN"}
    assert client.put(f"{API}/zones/CMZ_NEW", json=body, headers=admin.h).status_code == 200
    got = client.get(f"{API}/zones/CMZ_NEW").json()
    assert (got["name"], got["kind"], got["dso"]) == ("New zone", "cmz", "UKPN")
