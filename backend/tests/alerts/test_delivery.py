"""Webhook safety and signatures: private, loopback and link-local addresses are refused (also
when a name resolves to one, and a redirect is never followed) unless
SPENDLENS_WEBHOOKS_ALLOW_PRIVATE is set; the signature is HMAC-SHA256 over timestamp + "." + body
and a receiver can refuse replays."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest
from sqlalchemy import select

from spendlens.alerts.delivery import (
    RefusedAddress,
    check_destination,
    deliver_due,
    sign,
    verify,
)
from spendlens.alerts.service import evaluate
from spendlens.alerts.signals import CustomerSignals
from spendlens.config import get_settings
from spendlens.models import AlertDelivery
from tests.alerts.conftest import NOW, make_rule

REFUSED = [
    "http://127.0.0.1:8080/hook",
    "http://127.8.9.10/hook",
    "http://10.0.0.7/hook",
    "http://172.16.4.2/hook",
    "http://192.168.1.1/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://[::1]:8080/hook",
    "http://[fe80::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://0.0.0.0/hook",
    "http://localhost:8080/hook",
]


class TestAddresses:
    @pytest.mark.parametrize("url", REFUSED)
    def test_private_loopback_and_link_local_addresses_are_refused(self, url):
        with pytest.raises(RefusedAddress, match="SPENDLENS_WEBHOOKS_ALLOW_PRIVATE"):
            check_destination(url, get_settings())

    @pytest.mark.parametrize("url", REFUSED)
    def test_the_setting_allows_them(self, url):
        allowing = get_settings().model_copy(update={"webhooks_allow_private": True})
        check_destination(url, allowing)  # no error

    def test_a_public_address_is_allowed(self):
        check_destination("https://93.184.215.14/hook", get_settings())

    def test_a_refused_delivery_fails_at_once_and_is_not_retried(
        self, session, shop, customer, receiver, delivery_settings, as_app
    ):
        rule = make_rule(session, shop, delivery_settings, webhooks=[{"url": receiver.url()}])
        receiver.secrets["/hook"] = rule.webhooks[0].secret
        strict = delivery_settings.model_copy(update={"webhooks_allow_private": False})
        signals = [CustomerSignals(customer.id, health_score=1, previous_health_score=90)]
        with as_app(shop.org.id) as conn:
            evaluate(conn, shop.org.id, signals, NOW)
            assert deliver_due(conn, shop.org.id, NOW, strict) == 1
            assert deliver_due(conn, shop.org.id, NOW.replace(year=2027), strict) == 0
        record = session.execute(
            select(AlertDelivery).where(AlertDelivery.org_id == shop.org.id)
        ).scalar_one()
        session.refresh(record)
        assert (record.state, record.attempts, record.next_attempt_at) == ("failed", 1, None)
        assert "127.0.0.1" in record.last_error and "private" in record.last_error
        assert receiver.received == []  # nothing reached the address

    def test_a_redirect_is_not_followed(
        self, session, shop, customer, delivery_settings, as_app, redirecting_receiver
    ):
        make_rule(session, shop, delivery_settings, webhooks=[{"url": redirecting_receiver.url}])
        signals = [CustomerSignals(customer.id, health_score=1, previous_health_score=90)]
        with as_app(shop.org.id) as conn:
            evaluate(conn, shop.org.id, signals, NOW)
            deliver_due(conn, shop.org.id, NOW, delivery_settings)
        record = session.execute(
            select(AlertDelivery).where(AlertDelivery.org_id == shop.org.id)
        ).scalar_one()
        session.refresh(record)
        assert (record.state, record.last_status) == ("failed", 302)
        assert "not followed" in record.last_error
        assert redirecting_receiver.hits == 1

    def test_email_without_smtp_configured_fails_with_the_reason(
        self, session, shop, customer, as_app
    ):
        make_rule(session, shop, emails=["team@shop.example"])
        unconfigured = get_settings().model_copy(update={"smtp_host": None})
        signals = [CustomerSignals(customer.id, health_score=1, previous_health_score=90)]
        with as_app(shop.org.id) as conn:
            evaluate(conn, shop.org.id, signals, NOW)
            deliver_due(conn, shop.org.id, NOW, unconfigured)
        record = session.execute(
            select(AlertDelivery).where(AlertDelivery.org_id == shop.org.id)
        ).scalar_one()
        session.refresh(record)
        assert record.state == "failed" and "SPENDLENS_SMTP_HOST" in record.last_error


class TestSignatures:
    def test_the_signature_is_hmac_sha256_over_timestamp_dot_body(self):
        body = b'{"type":"alert.raised"}'
        expected = hmac.new(b"secret-0123456789", b"1700000000." + body, hashlib.sha256)
        assert sign("secret-0123456789", "1700000000", body) == f"v1={expected.hexdigest()}"

    def test_a_receiver_accepts_a_fresh_signature_and_refuses_tampering_and_replays(self):
        secret, body = "whsec_test-secret-value", b'{"alert":{"id":1}}'
        now = str(int(time.time()))
        signature = sign(secret, now, body)
        assert verify(secret, now, body, signature)
        assert not verify(secret, now, body + b" ", signature)
        assert not verify("whsec_another-secret-value", now, body, signature)
        old = str(int(time.time()) - 600)
        assert not verify(secret, old, body, sign(secret, old, body))  # a replay
        assert not verify(secret, "yesterday", body, signature)
