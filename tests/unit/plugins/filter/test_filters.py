"""The filter plugins expose their logic under the documented names."""

from __future__ import annotations

from ansible_collections.dataaggregator.infrastructure.plugins.filter import (
    alert_routes,
    bcrypt_users,
    grafana_dashboard,
    grafana_datasources,
    listen_endpoint,
)


def test_bcrypt_users_filter_is_registered():
    filters = bcrypt_users.FilterModule().filters()
    hashed = filters["bcrypt_users"]({"prometheus": "pw"}, "seed")
    assert hashed["prometheus"].startswith("$2b$12$")


def test_listen_endpoint_filter_is_registered():
    filters = listen_endpoint.FilterModule().filters()
    assert filters["listen_endpoint"](":9100") == {"host": "127.0.0.1", "port": 9100}


def test_alert_routes_filter_is_registered():
    filters = alert_routes.FilterModule().filters()
    policy = {
        "severities": [{"name": "critical", "channels": ["email"]}],
        "teams": [{"name": "database", "email_to": ["dba@example.org"]}],
        "default": {"channels": ["email"], "email_to": ["ops@example.org"]},
    }
    assert [r["name"] for r in filters["alert_routes"](policy)["receivers"]] == ["default", "database-critical", "default-critical", "watchdog"]


def test_grafana_dashboard_filter_takes_one_spec_or_a_list():
    build = grafana_dashboard.FilterModule().filters()["grafana_dashboard"]
    spec = {"uid": "one", "title": "One", "rows": [{"title": "R", "panels": [{"title": "Up", "queries": ["up"]}]}]}
    assert build(spec)["uid"] == "one"
    assert [d["uid"] for d in build([spec, dict(spec, uid="two")])] == ["one", "two"]


def test_grafana_datasources_filter_is_registered():
    build = grafana_datasources.FilterModule().filters()["grafana_datasources"]
    document = build({"mon1": {}}, {"all": ["mon1"], "prometheus": ["mon1"]}, {})
    assert [d["uid"] for d in document["datasources"]] == ["da-prometheus"]
