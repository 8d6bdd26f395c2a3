"""Sending alerts: signed webhooks (refusing private addresses), email over SMTP, and the sweep
that sends due deliveries and schedules retries with exponential backoff.

A webhook request carries the JSON body and
`X-Spendlens-Timestamp: <unix seconds>` and `X-Spendlens-Signature: v1=<hex>`, the hex being
HMAC-SHA256 with the destination's secret over `<timestamp>.<body>` (README: "Alerts").
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import smtplib
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import Connection, Row

from spendlens.alerts import repository
from spendlens.alerts.definitions import MAX_ATTEMPTS, retry_delay
from spendlens.config import Settings

logger = logging.getLogger("spendlens.alerts")

SIGNATURE_VERSION = "v1"
USER_AGENT = "Spendlens-Webhooks/1"
MAX_ERROR_LENGTH = 500


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value: `v1=` + hex HMAC-SHA256(secret, timestamp + "." + body)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={mac.hexdigest()}"


def verify(
    secret: str, timestamp: str, body: bytes, signature: str, *, tolerance_seconds: int = 300
) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent (a replayed
    request, older than `tolerance_seconds`, is refused)."""
    try:
        age = abs(time.time() - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance_seconds and hmac.compare_digest(
        sign(secret, timestamp, body), signature
    )


# --- which addresses a webhook may reach ---------------------------------------------------------


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def refused_literal_address(url: str, settings: Settings) -> str | None:
    """Why a webhook URL whose host is an IP address may not be used (None: it may). Host names
    are resolved and checked when sending."""
    if settings.webhooks_allow_private:
        return None
    host = urlsplit(url).hostname or ""
    try:
        public = _public(host)
    except ValueError:
        if host.lower() == "localhost" or host.lower().endswith(".localhost"):
            return f"{host} is a loopback host; set SPENDLENS_WEBHOOKS_ALLOW_PRIVATE to allow it"
        return None
    if public:
        return None
    return (
        f"{host} is a private, loopback or link-local address; set "
        "SPENDLENS_WEBHOOKS_ALLOW_PRIVATE to allow it"
    )


class RefusedAddress(Exception):
    """The webhook's host resolves to an address it may not reach."""


def check_destination(url: str, settings: Settings) -> None:
    """Resolve the URL's host and refuse it when any of its addresses is private, loopback,
    link-local or otherwise not public (unless SPENDLENS_WEBHOOKS_ALLOW_PRIVATE)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RefusedAddress(f"not an http(s) URL: {url}")
    if settings.webhooks_allow_private:
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise RefusedAddress(f"cannot resolve {parts.hostname}: {exc}") from None
    for info in infos:
        address = str(info[4][0])
        if not _public(address):
            raise RefusedAddress(
                f"{parts.hostname} resolves to {address}, a private, loopback or link-local "
                "address (set SPENDLENS_WEBHOOKS_ALLOW_PRIVATE to allow it)"
            )


# --- one attempt --------------------------------------------------------------------------------


@dataclass
class Attempt:
    """The outcome of one attempt: `ok`, or an error; `final` errors are not retried."""

    ok: bool
    status: int | None = None
    error: str | None = None
    final: bool = False


def send_webhook(
    url: str, secret: str, body: bytes, delivery_id: int, event: str, settings: Settings
) -> Attempt:
    try:
        check_destination(url, settings)
    except RefusedAddress as exc:
        return Attempt(False, error=str(exc), final=True)
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Spendlens-Event": event,
        "X-Spendlens-Delivery": str(delivery_id),
        "X-Spendlens-Timestamp": timestamp,
        "X-Spendlens-Signature": sign(secret, timestamp, body),
    }
    try:
        # No proxies from the environment, no redirects: the address checked is the one reached.
        with httpx.Client(
            timeout=settings.webhook_timeout_seconds, follow_redirects=False, trust_env=False
        ) as client:
            response = client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return Attempt(False, error=f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH])
    if 200 <= response.status_code < 300:
        return Attempt(True, status=response.status_code)
    if response.is_redirect:
        location = response.headers.get("location", "")
        return Attempt(
            False,
            status=response.status_code,
            error=f"redirect to {location} not followed: point the rule at the final URL"[
                :MAX_ERROR_LENGTH
            ],
            final=True,
        )
    return Attempt(
        False,
        status=response.status_code,
        error=f"HTTP {response.status_code}: {response.text[:200]}",
    )


def send_email(to: str, subject: str, text: str, settings: Settings) -> Attempt:
    if not settings.smtp_host:
        return Attempt(False, error="SMTP is not configured (SPENDLENS_SMTP_HOST)", final=True)
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    message.set_content(text)
    try:
        if settings.smtp_port == 465:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.smtp_host,
                settings.smtp_port,
                timeout=settings.smtp_timeout_seconds,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(
                settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds
            )
        with smtp:
            if settings.smtp_starttls and settings.smtp_port != 465:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password or "")
            smtp.send_message(message)
    except smtplib.SMTPResponseException as exc:
        detail = (
            exc.smtp_error.decode(errors="replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        return Attempt(
            False, status=exc.smtp_code, error=f"SMTP {exc.smtp_code}: {detail}"[:MAX_ERROR_LENGTH]
        )
    except (smtplib.SMTPException, OSError) as exc:
        return Attempt(False, error=f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH])
    return Attempt(True, status=250)


# --- what is sent -------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def payload(alert: Row, org_id: int, delivery: Row) -> dict[str, Any]:
    return {
        "type": "alert.escalated" if delivery.purpose == "escalation" else "alert.raised",
        "delivery_id": delivery.id,
        "organization_id": org_id,
        "alert": {
            "id": alert.id,
            "rule_id": alert.rule_id,
            "rule_name": alert.rule_name,
            "kind": alert.kind,
            "severity": alert.severity,
            "state": alert.state,
            "message": alert.message,
            "details": alert.details,
            "raised_at": _iso(alert.raised_at),
            "customer": {
                "id": alert.customer_id,
                "external_id": alert.customer_external_id,
                "name": alert.customer_name,
            },
        },
    }


def email_text(alert: Row, purpose: str) -> tuple[str, str]:
    prefix = "ESCALATED, not acknowledged: " if purpose == "escalation" else ""
    subject = (f"[Spendlens {alert.severity}] {prefix}{alert.customer_name}: {alert.message}")[:250]
    details = "\n".join(f"  {k}: {v}" for k, v in sorted(alert.details.items()))
    body = (
        f"{prefix}{alert.message}\n\n"
        f"Customer: {alert.customer_name} (id {alert.customer_id}"
        f"{', external id ' + alert.customer_external_id if alert.customer_external_id else ''})\n"
        f"Rule: {alert.rule_name} ({alert.kind}, {alert.severity})\n"
        f"Raised at: {_iso(alert.raised_at)}\n"
        f"Alert id: {alert.id}\n\nDetails:\n{details}\n"
    )
    return subject, body


def attempt_delivery(conn: Connection, org_id: int, delivery: Row, settings: Settings) -> Attempt:
    alert = repository.alert_payload_row(conn, org_id, delivery.alert_id)
    if delivery.channel == "webhook":
        if delivery.destination_found is None or delivery.secret is None:
            return Attempt(False, error="the webhook was removed from the rule", final=True)
        body = json.dumps(payload(alert, org_id, delivery), separators=(",", ":")).encode()
        event = "alert.escalated" if delivery.purpose == "escalation" else "alert.raised"
        return send_webhook(delivery.target, delivery.secret, body, delivery.id, event, settings)
    if delivery.purpose == "alert" and delivery.destination_found is None:
        return Attempt(False, error="the email address was removed from the rule", final=True)
    subject, text = email_text(alert, delivery.purpose)
    return send_email(delivery.target, subject, text, settings)


def deliver_due(
    conn: Connection, org_id: int, now: datetime, settings: Settings, *, limit: int = 20
) -> int:
    """Attempt up to `limit` pending deliveries due by `now`, in `conn`'s transaction (they stay
    locked until it ends, so two sweeps never send one twice), recording each outcome: delivered,
    a retry after the backoff, or failed. Returns how many were attempted."""
    due = repository.claim_due_deliveries(conn, org_id, now, limit)
    for delivery in due:
        outcome = attempt_delivery(conn, org_id, delivery, settings)
        attempts = delivery.attempts + 1
        if outcome.ok:
            state, next_at = "delivered", None
        elif outcome.final or attempts >= MAX_ATTEMPTS:
            state, next_at = "failed", None
        else:
            state, next_at = "pending", now + retry_delay(attempts)
        if not outcome.ok:
            logger.warning(
                "alert delivery %s (%s) attempt %s failed: %s",
                delivery.id,
                delivery.channel,
                attempts,
                outcome.error,
            )
        repository.record_attempt(
            conn,
            org_id,
            delivery.id,
            state=state,
            status=outcome.status,
            error=outcome.error,
            at=now,
            next_attempt_at=next_at,
        )
    return len(due)
