-- Webhooks to the LMS (issue 20, docs/OUTBOUND.md): the endpoints admins
-- register, each with its own signing secret, and the outbox: one delivery
-- per endpoint and event, written in the same transaction as the change it
-- tells of, retried until delivered or its retry window is over, with one
-- row per finished attempt.

create table webhook_endpoints (
    id          uuid primary key default gen_random_uuid(),
    url         text not null check (char_length(url) between 1 and 2048),
    events      text[] not null check (
                    cardinality(events) between 1 and 4
                    and events <@ array['session.started', 'session.ended',
                                        'report.ready', 'participant.kicked']),
    -- The HMAC-SHA256 key deliveries are signed with (Standard Webhooks).
    secret      bytea not null check (octet_length(secret) = 32),
    description text not null default '' check (
                    char_length(description) <= 200
                    and description !~ '[\x01-\x1f\x7f-\x9f]'),
    created_at  timestamptz not null default now()
);

create table webhook_deliveries (
    -- Its `webhook-id` is `msg_` and this id: the same on every attempt.
    id              uuid primary key default gen_random_uuid(),
    endpoint_id     uuid not null references webhook_endpoints (id) on delete cascade,
    event           text not null check (
                        event in ('session.started', 'session.ended',
                                  'report.ready', 'participant.kicked')),
    -- The body sent: `{"type", "timestamp", "data"}`; ids and times only.
    payload         jsonb not null,
    status          text not null default 'pending'
                        check (status in ('pending', 'delivered', 'failed')),
    -- Attempts started; one that a killed worker never finished leaves no
    -- row in webhook_attempts.
    attempts        integer not null default 0 check (attempts >= 0),
    -- When the next attempt is due (while pending). A worker taking one
    -- moves it past the attempt's time limit: an attempt that never
    -- finishes is retried then.
    next_attempt_at timestamptz not null default now(),
    -- The retry window runs from here (creation, or a manual retry).
    retry_from      timestamptz not null default now(),
    created_at      timestamptz not null default now(),
    finished_at     timestamptz,
    check ((status = 'pending') = (finished_at is null))
);

create index webhook_deliveries_due on webhook_deliveries (next_attempt_at)
    where status = 'pending';
create index webhook_deliveries_endpoint on webhook_deliveries (endpoint_id, created_at desc);

create table webhook_attempts (
    delivery_id uuid not null references webhook_deliveries (id) on delete cascade,
    attempt     integer not null check (attempt >= 1),
    at          timestamptz not null default now(),
    -- The receiver's HTTP status, when it answered.
    status_code integer check (status_code between 100 and 599),
    -- Why no 2xx came, from a closed set (never the receiver's words).
    error       text check (error in ('http_status', 'refused_destination', 'unresolved',
                                      'connect', 'timeout', 'tls', 'other')),
    duration_ms integer not null check (duration_ms >= 0),
    primary key (delivery_id, attempt),
    check ((error is null) = coalesce(status_code between 200 and 299, false))
);
