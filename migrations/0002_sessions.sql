-- Teaching sessions and the people in them.
--
-- Why: a session is one live class. Postgres is the truth for its status,
-- its join code and its floor settings; the LiveKit room is derived from it.

create table sessions (
    id                    uuid primary key default gen_random_uuid(),
    teacher_id            uuid not null references accounts (id),
    title                 text not null check (length(title) between 1 and 200),
    -- LiveKit room name; derived from the id at creation, never reused.
    room_name             text not null unique,
    join_code             text not null check (join_code ~ '^[0-9]{6}$'),
    status                text not null default 'scheduled'
                          check (status in ('scheduled', 'live', 'ended')),
    -- A locked session refuses new joins; people already in it stay.
    locked                boolean not null default false,
    max_learners          integer not null default 60 check (max_learners between 1 and 1000),
    floor_mode            text not null default 'moderated'
                          check (floor_mode in ('moderated', 'open', 'closed')),
    max_speakers          integer not null default 1 check (max_speakers between 1 and 16),
    speaking_time_limit_s integer check (speaking_time_limit_s between 5 and 3600),
    -- Bumped by every floor command under the session's row lock. Readers
    -- (SSE, reconciliation) compare it to know whether what they saw is
    -- still current.
    floor_version         bigint not null default 0,
    created_at            timestamptz not null default now(),
    started_at            timestamptz,
    ended_at              timestamptz,
    end_reason            text,
    check (status <> 'live' or started_at is not null),
    check ((status = 'ended') = (ended_at is not null))
);

-- A join code is unique among sessions that are not ended, so a code read
-- aloud always leads to exactly one class, and a live session's code is
-- never handed to another session.
create unique index sessions_join_code_not_ended on sessions (join_code) where status <> 'ended';
create index sessions_teacher_id on sessions (teacher_id, created_at desc);
create index sessions_live on sessions (status) where status = 'live';

create table participants (
    id           uuid primary key default gen_random_uuid(),
    session_id   uuid not null references sessions (id) on delete cascade,
    kind         text not null check (kind in ('teacher', 'learner', 'classroom', 'observer')),
    -- LiveKit identity, assigned by us ("t-…", "l-…", "c-…", "o-…"); a
    -- client never chooses it.
    identity     text not null unique check (identity ~ '^[tlco]-[A-Za-z0-9_-]{6,64}$'),
    -- Learner data is minimal: a display name, erased by the retention job.
    display_name text not null check (length(display_name) between 1 and 64),
    -- A classroom participant stands for a room full of people.
    headcount    integer check (headcount between 1 and 500),
    presence     text not null default 'invited' check (presence in ('invited', 'present', 'left')),
    -- The LiveKit connection we last saw (sid + joinedAtMs) guards against
    -- late webhooks for an older connection changing a newer one.
    livekit_sid  text,
    joined_at_ms bigint,
    joined_at    timestamptz,
    left_at      timestamptz,
    -- A kicked participant's tokens are refused and it cannot rejoin.
    kicked_at    timestamptz,
    created_at   timestamptz not null default now(),
    check (headcount is null or kind = 'classroom')
);

create index participants_session_id on participants (session_id, created_at);
