"""The local nginx ingress and the model's own guard refuse the same bodies: one limit, with or without a
Content-Length, answered 413 with the same JSON shape; anything within the limit reaches the model."""

from __future__ import annotations

import json

import pytest

from serving.request_guard import MAX_PAYLOAD_BYTES
from stacks.seldon import local_process
from stacks.seldon.local_ingress import NginxIngress, find_nginx, route_path
from tests.serving.conftest import post, post_chunked

pytestmark = pytest.mark.integration

ROW = [42, 50000.0, 12, 100.0, "admin", "north"]
PAYLOAD = json.dumps({"data": {"names": ["age", "income", "tenure_months", "balance", "job", "region"],
                               "ndarray": [ROW]}}).encode()


@pytest.fixture(scope="module")
def through_nginx(models, microservice_factory, tmp_path_factory):
    """(URL of the predictions route through nginx, URL straight to the daemon)."""
    try:
        find_nginx()
    except RuntimeError as exc:
        pytest.skip(str(exc))
    ingress = NginxIngress(tmp_path_factory.mktemp("ingress"))
    rest, metrics = ingress.socket_paths("limits-1")
    ms = microservice_factory(models["logreg_int"][0], unix_socket=rest, metrics_unix_socket=metrics)
    ingress.route("limits", rest, metrics)
    port = local_process.pick_ports(1, (24000, 24999), ())[0]
    pid = ingress.ensure_running(port, None)
    try:
        yield f"{ingress.base_url(port)}{route_path('limits')}/api/v1.0/predictions", ms.url + "/api/v1.0/predictions"
    finally:
        ingress.stop(pid)
        ingress.unroute("limits")
        ingress.remove_socket_dir_if_empty()


def test_a_body_at_the_limit_reaches_the_model_through_nginx(through_nginx):
    via_nginx, _ = through_nginx
    padded = PAYLOAD + b" " * (MAX_PAYLOAD_BYTES - len(PAYLOAD))
    status, body = post(via_nginx, None, raw=padded)
    assert status == 200, body
    status, body = post_chunked(via_nginx, [PAYLOAD[:7], PAYLOAD[7:]])
    assert status == 200, body


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_one_byte_over_the_limit_is_413_at_both_layers(through_nginx, chunked):
    over = b" " * (MAX_PAYLOAD_BYTES + 1)
    for url in through_nginx:
        if chunked:
            status, body = post_chunked(url, [over[: 1 << 20]] * 16 + [over[16 << 20:]])
        else:
            status, body = post(url, None, raw=over)
        assert status == 413, (url, body)
        assert f"the limit is {MAX_PAYLOAD_BYTES} bytes" in body["status"]["info"]
        assert body["status"]["reason"] == "MICROSERVICE_BAD_DATA"
