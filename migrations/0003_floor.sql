-- Voice floor control: hands raised and turns to speak, with history.
--
-- Why one table: a "turn" is the life of one raised hand (or one direct
-- grant): queued -> speaking -> done. Keeping both phases in one row lets a
-- single partial unique index guarantee that nobody is both queued and
-- speaking, and that a participant has at most one open hand. Rows are never
-- deleted while the session exists, so the table is the floor's history.
-- The speaker limit depends on the session's settings and is enforced by the
-- floor commands under the session's row lock (select ... for update).

create table floor_turns (
    id          uuid primary key default gen_random_uuid(),
    session_id  uuid not null references sessions (id) on delete cascade,
    participant_id uuid not null references participants (id) on delete cascade,
    state       text not null check (state in ('queued', 'speaking', 'done')),
    -- Server time the hand went up; null when the teacher granted directly.
    raised_at   timestamptz,
    granted_at  timestamptz,
    -- When a speaking-time limit applies, the moment the floor expires.
    expires_at  timestamptz,
    granted_by  uuid references accounts (id),
    ended_at    timestamptz,
    end_reason  text check (end_reason in (
                    'lowered', 'released', 'revoked', 'expired', 'left',
                    'kicked', 'session_ended', 'mode_closed', 'limit_lowered')),
    check (state <> 'queued' or (raised_at is not null and granted_at is null and ended_at is null)),
    check (state <> 'speaking' or (granted_at is not null and ended_at is null)),
    check (state <> 'done' or (ended_at is not null and end_reason is not null)),
    check (expires_at is null or granted_at is not null)
);

create unique index floor_turns_one_open_per_participant
    on floor_turns (participant_id) where state <> 'done';
create index floor_turns_session_open on floor_turns (session_id, state) where state <> 'done';
create index floor_turns_expiry on floor_turns (expires_at) where state = 'speaking' and expires_at is not null;
