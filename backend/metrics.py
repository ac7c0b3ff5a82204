"""The backend's Prometheus metrics, in a registry of their own per app (two apps in one process,
as the tests run them, do not collide), served at `GET /metrics`."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "voxie_backend_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "voxie_backend_request_seconds",
            "HTTP request latency, by route template.",
            ["route"],
            buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.rooms_created = Counter(
            "voxie_backend_rooms_created",
            "Rooms created with their one dispatch, by kind (test, creation).",
            ["kind"],
            registry=self.registry,
        )
        self.spawns_refused = Counter(
            "voxie_backend_spawns_refused",
            "Room requests refused before LiveKit was asked, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.webhooks = Counter(
            "voxie_backend_webhooks",
            "LiveKit webhooks received, by event (`invalid` for refused signatures).",
            ["event"],
            registry=self.registry,
        )
        self.unreadable_rows = Counter(
            "voxie_backend_unreadable_rows",
            "Stored rows left out of a list or census because they fail their contract "
            "(each is logged with its id), by table.",
            ["table"],
            registry=self.registry,
        )
        self.reconciler_passes = Counter(
            "voxie_backend_reconciler_passes",
            "Reconciler passes, by outcome (done, not_leader, failed).",
            ["outcome"],
            registry=self.registry,
        )
        self.reconciler_actions = Counter(
            "voxie_backend_reconciler_actions",
            "What the reconciler did, by action.",
            ["action"],
            registry=self.registry,
        )
        self.reconciler_leader = Gauge(
            "voxie_backend_reconciler_leader",
            "1 while this replica holds the reconciler lease.",
            registry=self.registry,
        )
        self.event_deliveries = Counter(
            "voxie_backend_event_deliveries",
            "Event webhook delivery attempts, by outcome (delivered, retry, failed).",
            ["outcome"],
            registry=self.registry,
        )
        self.event_sender_leader = Gauge(
            "voxie_backend_event_sender_leader",
            "1 while this replica holds the event webhook sender's lease.",
            registry=self.registry,
        )
        self.platform_rooms = Gauge(
            "voxie_backend_platform_rooms",
            "Platform rooms seen by the last reconciler pass, by kind.",
            ["kind"],
            registry=self.registry,
        )
