-- Live updates, turn warnings and durable LiveKit retries.
--
-- Why an event log in Postgres: every change a client must see (floor,
-- session, presence) is appended in the same transaction as the change, so
-- an event exists exactly when its change committed. Redis pub/sub only
-- says "session X has news"; each API replica then reads the log. A lost
-- notice delays an event (the replicas also poll), never loses it, and a
-- client that reconnects with `Last-Event-ID` gets exactly what it missed.
--
-- Ordering: `seq` comes from `sessions.event_seq`, bumped by an update of
-- the session's row. Every writer holds that row lock until it commits, so
-- a session's events commit in `seq` order and a reader that has seen `n`
-- never later finds an event below `n` appear.

alter table sessions add column event_seq bigint not null default 0;

create table session_events (
    session_id uuid not null references sessions (id) on delete cascade,
    seq        bigint not null check (seq > 0),
    -- The SSE event name.
    event      text not null check (event in ('floor', 'session', 'presence', 'turn_ending')),
    data       jsonb not null,
    created_at timestamptz not null default now(),
    primary key (session_id, seq)
);

-- A speaking turn with a limit gets one warning 10 s before its end; the
-- stamp makes the warning happen once across workers and restarts.
alter table floor_turns add column warned_at timestamptz;
create index floor_turns_warning on floor_turns (expires_at)
    where state = 'speaking' and expires_at is not null and warned_at is null;

-- LiveKit calls that failed after a floor decision, retried by the worker
-- until LiveKit matches the decision. One row per session; the
-- participants to bring in line accumulate. `generation` changes on every
-- new failure, so a retry that succeeded only deletes the row if nothing
-- failed meanwhile.
create table floor_repairs (
    session_id      uuid primary key references sessions (id) on delete cascade,
    participants    uuid[] not null,
    mirrored        uuid[] not null,
    generation      bigint not null default 1,
    attempts        integer not null default 0,
    next_attempt_at timestamptz not null default now(),
    last_error      text,
    created_at      timestamptz not null default now()
);
create index floor_repairs_due on floor_repairs (next_attempt_at);
