"""loki.yml and promtail.yml as the roles render them.

The roles' own variables are rendered by ansible-playbook on localhost, then
checked against Loki's and Promtail's configuration references
(https://grafana.com/docs/loki/latest/configure/ and
https://grafana.com/docs/loki/latest/send-data/promtail/configuration/).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import render_role

# Keys of each block, from Loki's configuration reference.
LOKI_REFERENCE = {
    "server": {"http_listen_address", "http_listen_port", "grpc_listen_address", "grpc_listen_port", "log_level"},
    "common": {"instance_addr", "path_prefix", "replication_factor", "ring", "storage"},
    "storage_config": {"tsdb_shipper"},
    "compactor": {"working_directory", "compaction_interval", "retention_enabled", "retention_delete_delay",
                  "delete_request_store"},
    "limits_config": {"retention_period", "ingestion_rate_mb", "ingestion_burst_size_mb", "per_stream_rate_limit",
                      "max_query_series", "max_entries_limit_per_query", "max_query_lookback", "reject_old_samples",
                      "reject_old_samples_max_age", "allow_structured_metadata", "discover_service_name"},
    "analytics": {"reporting_enabled"},
}
LOKI_TOP_LEVEL = set(LOKI_REFERENCE) | {"auth_enabled", "schema_config"}
SCHEMA_PERIOD = {"from", "store", "object_store", "schema", "index"}
S3 = {"endpoint", "bucketnames", "region", "access_key_id", "secret_access_key", "s3forcepathstyle", "insecure"}
PROMTAIL_TOP_LEVEL = {"server", "positions", "clients", "scrape_configs"}
PROMTAIL_SERVER = {"http_listen_address", "http_listen_port", "grpc_listen_port", "log_level", "enable_runtime_reload"}


def render(role: str, variable: str, tmp_path: Path, extra_vars: dict | None = None, groups: dict | None = None):
    """Render one of the role's variables with its defaults and vars, as ansible-playbook would."""
    rc, output, value = render_role(role, variable, tmp_path, extra_vars, groups)
    assert rc == 0, output
    return value


@pytest.fixture(scope="module")
def loki_default(tmp_path_factory):
    return render("loki", "__loki_config", tmp_path_factory.mktemp("loki"))


def test_loki_keys_are_in_the_configuration_reference(loki_default):
    assert set(loki_default) == LOKI_TOP_LEVEL
    for block, keys in LOKI_REFERENCE.items():
        assert set(loki_default[block]) <= keys, block
    for period in loki_default["schema_config"]["configs"]:
        assert set(period) == SCHEMA_PERIOD


def test_loki_runs_single_binary_on_tsdb_v13_and_the_filesystem(loki_default):
    assert loki_default["auth_enabled"] is False
    assert loki_default["common"]["ring"] == {"kvstore": {"store": "inmemory"}}
    assert loki_default["common"]["replication_factor"] == 1
    (period,) = loki_default["schema_config"]["configs"]
    assert (period["store"], period["schema"], period["object_store"]) == ("tsdb", "v13", "filesystem")
    assert period["index"] == {"prefix": "index_", "period": "24h"}
    assert loki_default["common"]["storage"] == {
        "filesystem": {"chunks_directory": "/var/lib/loki/chunks", "rules_directory": "/var/lib/loki/rules"}}


def test_loki_listens_on_loopback_by_default(loki_default):
    assert loki_default["server"]["http_listen_address"] == "127.0.0.1"
    assert loki_default["server"]["http_listen_port"] == 3100
    assert loki_default["server"]["grpc_listen_address"] == "127.0.0.1"


def test_loki_binds_where_it_is_told(tmp_path):
    config = render("loki", "__loki_config", tmp_path, {"loki_listen_address": "[fd00::7]:3100", "loki_grpc_listen_address": "10.0.0.9:9096"})
    assert config["server"]["http_listen_address"] == "fd00::7"
    assert config["server"]["grpc_listen_address"] == "10.0.0.9"


def test_the_compactor_enforces_thirty_days_by_default(loki_default):
    assert loki_default["compactor"]["retention_enabled"] is True
    assert loki_default["compactor"]["delete_request_store"] == "filesystem"
    assert loki_default["limits_config"]["retention_period"] == "720h"
    assert loki_default["limits_config"]["allow_structured_metadata"] is True


def test_staging_keeps_seven_days_and_zero_keeps_forever(tmp_path):
    staging = render("loki", "__loki_config", tmp_path, {"loki_retention_period": "168h"})
    assert staging["limits_config"]["retention_period"] == "168h"
    assert staging["compactor"]["retention_enabled"] is True
    forever = render("loki", "__loki_config", tmp_path, {"loki_retention_period": "0s"})
    assert forever["compactor"]["retention_enabled"] is False


def test_s3_storage_keeps_the_secret_out_of_the_file(tmp_path):
    extra = {"loki_storage": "s3", "loki_s3_endpoint": "minio.internal:9000", "loki_s3_bucket": "logs",
             "loki_s3_access_key_id": "loki", "loki_s3_secret_access_key": "s3cr3t-from-vault"}
    config = render("loki", "__loki_config", tmp_path, extra)
    assert set(config["common"]["storage"]) == {"s3"}
    assert set(config["common"]["storage"]["s3"]) == S3
    assert config["common"]["storage"]["s3"]["secret_access_key"] == "${LOKI_S3_SECRET_ACCESS_KEY}"
    assert "s3cr3t-from-vault" not in json.dumps(config)
    assert config["schema_config"]["configs"][0]["object_store"] == "s3"
    assert config["compactor"]["delete_request_store"] == "s3"
    unit = render("loki", "__loki_service", tmp_path, {**extra, "__loki_go_arch": "amd64"})["unit"]
    assert unit["secret_environment"] == {"LOKI_S3_SECRET_ACCESS_KEY": "s3cr3t-from-vault"}
    assert "-config.expand-env=true" in unit["args"]


def test_limits_are_variables(tmp_path):
    config = render("loki", "__loki_config", tmp_path, {"loki_ingestion_rate_mb": 16, "loki_limits_extra": {"max_streams_per_user": 10000}})
    assert config["limits_config"]["ingestion_rate_mb"] == 16
    assert config["limits_config"]["max_streams_per_user"] == 10000


def test_promtail_pushes_to_every_loki_and_reloads_at_runtime(tmp_path):
    config = render("promtail", "__promtail_config", tmp_path,
                    {"loki_listen_address": "10.0.0.9:3100", "promtail_environment": "staging"},
                    groups={"loki": ["localhost"]})
    assert set(config) == PROMTAIL_TOP_LEVEL
    assert set(config["server"]) <= PROMTAIL_SERVER
    assert config["server"]["enable_runtime_reload"] is True
    assert config["server"]["http_listen_address"] == "0.0.0.0"
    assert config["clients"] == [{"url": "http://10.0.0.9:3100/loki/api/v1/push"}]
    assert config["positions"] == {"filename": "/var/lib/promtail/positions.yml"}
    assert len(config["scrape_configs"]) == 8
    labels = config["scrape_configs"][0]["static_configs"][0]["labels"]
    assert (labels["host"], labels["environment"]) == ("localhost", "staging")
