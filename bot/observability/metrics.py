"""Prometheus metrics of one bot process, in their own registry (several apps per test run).

Events are counted where they happen (the pipeline's decision hook, the update processor's
latency); figures that are state — tickets by state, overdue tickets, the outbox backlog,
study sends — are read from the database when Prometheus scrapes, so they are right for the
whole deployment, whichever process wrote the rows, and survive restarts.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import and_, func, or_, select

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Update handling: a reply is expected in well under a second; the tail shows rate-limit waits.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """What the bot counts, and how to render it for /metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.messages = Counter("driverhome_messages", "Messages handled by the pipeline, by decision "
                                "(answer, suggest, silent, chitchat, ticket, offer, hint, not_sure, empty, complaint)",
                                ["decision"], registry=self.registry)
        self.handler_seconds = Histogram("driverhome_handler_seconds", "Time from an update's arrival to its "
                                         "handlers being done, by update kind", ["kind"],
                                         buckets=LATENCY_BUCKETS, registry=self.registry)
        self.webhook_refused = Counter("driverhome_webhook_refused", "Webhook requests refused (missing or "
                                       "wrong secret token)", registry=self.registry)

    def decided(self, decision: str) -> None:
        """The pipeline's hook: one message got this decision."""
        self.messages.labels(decision).inc()

    def watch(self, app) -> "Metrics":
        """Hook into a built App: the pipeline's decisions, NLU fallbacks, database figures."""
        app.pipeline.on_decision = self.decided
        if getattr(app.pipeline, "nlu", None) is not None:
            self.registry.register(NluCollector(app.pipeline.nlu))
        if app.db is not None:
            self.registry.register(DatabaseCollector(app.db))
        return self

    def render(self) -> bytes:
        """The Prometheus text format (runs the database queries: call it off the event loop)."""
        return generate_latest(self.registry)


class NluCollector(Collector):
    """Messages the embedded model answered because Rasa failed, timed out or its breaker was open."""

    def __init__(self, nlu) -> None:
        self.nlu = nlu

    def collect(self):
        c = CounterMetricFamily("driverhome_nlu_fallbacks", "Messages classified by the embedded model "
                                "because the Rasa server failed or timed out (backend auto)")
        c.add_metric([], float(self.nlu.fallbacks))
        yield c
        rasa = getattr(self.nlu, "rasa", None)
        if rasa is not None:
            g = GaugeMetricFamily("driverhome_nlu_breaker_open", "1 while the circuit breaker keeps "
                                  "messages away from Rasa")
            g.add_metric([], 1.0 if rasa.breaker.state == "open" else 0.0)
            yield g


class DatabaseCollector(Collector):
    """State-like figures, counted in the database at scrape time."""

    def __init__(self, db) -> None:
        self.db = db

    def collect(self):
        up = GaugeMetricFamily("driverhome_database_up", "1 when the scrape could read the database")
        try:
            families = list(self._families(datetime.now(timezone.utc)))
        except Exception as exc:  # a scrape must still answer (and say the database is not readable)
            log.warning("metrics: database not readable: %s", type(exc).__name__)
            up.add_metric([], 0.0)
            yield up
            return
        up.add_metric([], 1.0)
        yield up
        yield from families

    def _families(self, now: datetime):
        from ..outbox.models import FAILED as OUTBOX_FAILED, PENDING as OUTBOX_PENDING, OutboxRow
        from ..study.models import StudySendRow
        from ..tickets.models import OPEN, STATES, Ticket

        with self.db.session() as s:
            by_state = dict(s.execute(select(Ticket.state, func.count()).group_by(Ticket.state)).all())
            overdue = s.scalar(select(func.count()).select_from(Ticket).where(
                Ticket.state.in_(OPEN),
                or_(and_(Ticket.first_response_at.is_(None), Ticket.accept_due < now),
                    and_(Ticket.first_response_at.is_not(None), Ticket.resolve_due < now))))
            outbox = dict(s.execute(select(OutboxRow.state, func.count())
                                    .where(OutboxRow.state.in_((OUTBOX_PENDING, OUTBOX_FAILED)))
                                    .group_by(OutboxRow.state)).all())
            oldest = s.scalar(select(func.min(OutboxRow.created_at)).where(OutboxRow.state == OUTBOX_PENDING))
            study = dict(s.execute(select(StudySendRow.state, func.count()).group_by(StudySendRow.state)).all())

        tickets = GaugeMetricFamily("driverhome_tickets", "Tickets by state", labels=["state"])
        for state in dict.fromkeys(STATES + tuple(by_state)):
            tickets.add_metric([state], float(by_state.get(state, 0)))
        yield tickets
        g = GaugeMetricFamily("driverhome_tickets_overdue", "Open tickets past their current deadline "
                              "(first response, or resolution once accepted)")
        g.add_metric([], float(overdue or 0))
        yield g
        g = GaugeMetricFamily("driverhome_outbox_backlog", "Notifications waiting to be sent (pending rows)")
        g.add_metric([], float(outbox.get(OUTBOX_PENDING, 0)))
        yield g
        g = GaugeMetricFamily("driverhome_outbox_failed", "Notifications that failed for good (failed rows)")
        g.add_metric([], float(outbox.get(OUTBOX_FAILED, 0)))
        yield g
        g = GaugeMetricFamily("driverhome_outbox_oldest_pending_seconds", "Age of the oldest pending "
                              "notification (0 when none)")
        g.add_metric([], max((now - _aware(oldest)).total_seconds(), 0.0) if oldest is not None else 0.0)
        yield g
        sends = GaugeMetricFamily("driverhome_study_sends", "Daily study sends by state (one row per group "
                                  "and day: pending, sending, sent, failed, unknown)", labels=["state"])
        for state in dict.fromkeys(("pending", "sending", "sent", "failed", "unknown") + tuple(study)):
            sends.add_metric([state], float(study.get(state, 0)))
        yield sends


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
