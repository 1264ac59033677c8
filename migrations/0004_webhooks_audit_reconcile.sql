-- The webhook inbox, the audit log and reconciliation reports.

-- Why: LiveKit delivers webhooks weakly (few retries, none after a 4xx).
-- Each verified event is stored here before we answer 200, keyed by
-- LiveKit's event id so a redelivery is a no-op. The worker marks a row
-- processed in the same transaction that applies it.
create table webhook_inbox (
    event_id     text primary key check (length(event_id) between 1 and 128),
    event_type   text not null,
    room_name    text,
    -- LiveKit's createdAt (one-second resolution).
    event_created_at timestamptz,
    received_at  timestamptz not null default now(),
    status       text not null default 'pending' check (status in ('pending', 'processed', 'failed')),
    attempts     integer not null default 0 check (attempts >= 0),
    last_error   text,
    processed_at timestamptz,
    payload      jsonb not null,
    check ((status = 'processed') = (processed_at is not null))
);

create index webhook_inbox_unprocessed on webhook_inbox (received_at) where status <> 'processed';

-- Why: IT staff must be able to answer "who did what, when" for every
-- decision. Entries are only ever appended; the trigger below refuses
-- updates, and deletes unless the retention job opts in for its own
-- transaction with `set local estrade.audit_purge = 'on'`.
create table audit_log (
    id          bigint generated always as identity primary key,
    at          timestamptz not null default now(),
    actor_kind  text not null check (actor_kind in ('account', 'participant', 'system', 'livekit')),
    actor_id    uuid,
    action      text not null check (action ~ '^[a-z_]+(\.[a-z_]+)*$'),
    session_id  uuid,
    target_id   uuid,
    details     jsonb not null default '{}'::jsonb
);

create index audit_log_at on audit_log (at desc);
create index audit_log_session on audit_log (session_id, at desc) where session_id is not null;
create index audit_log_actor on audit_log (actor_id, at desc) where actor_id is not null;

create function audit_log_append_only() returns trigger
language plpgsql as $$
begin
    if tg_op = 'DELETE' and current_setting('estrade.audit_purge', true) = 'on' then
        return old;
    end if;
    raise exception 'audit_log is append-only' using errcode = 'insufficient_privilege';
end;
$$;

create trigger audit_log_append_only
    before update or delete on audit_log
    for each row execute function audit_log_append_only();

-- Why: each reconciliation run leaves a report IT staff can read, so a
-- repair is never silent.
create table reconcile_reports (
    id          uuid primary key default gen_random_uuid(),
    started_at  timestamptz not null,
    finished_at timestamptz not null,
    outcome     text not null check (outcome in ('ok', 'failed')),
    -- Counts per repair kind, e.g. {"room_vanished": 1, "permission_drift": 3}.
    repairs     jsonb not null default '{}'::jsonb,
    error       text,
    check (finished_at >= started_at)
);

create index reconcile_reports_started_at on reconcile_reports (started_at desc);
