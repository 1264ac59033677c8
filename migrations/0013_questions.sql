-- Typed questions (issue 19): a learner who cannot or would rather not
-- speak types a question; it takes a place in the same line as raised
-- hands. The place is a floor_turns row pointing at the question, so the
-- one-open-turn-per-participant index still holds (a learner waits once,
-- with a hand or a question), and where a question stands (waiting,
-- answered, dismissed, withdrawn, closed) is read from that row, never
-- stored twice.
--
-- The text is personal data: the retention job overwrites it with the
-- same placeholder as names. Plain text, one paragraph: no control
-- characters (line breaks included); the API trims it.

create table questions (
    id             uuid primary key default gen_random_uuid(),
    session_id     uuid not null references sessions (id) on delete cascade,
    participant_id uuid not null references participants (id) on delete cascade,
    text           text not null check (
                       char_length(text) between 1 and 500
                       and text !~ '[\x01-\x1f\x7f-\x9f]'),
    asked_at       timestamptz not null default now()
);

create index questions_session on questions (session_id, asked_at);

alter table floor_turns
    add column question_id uuid unique references questions (id) on delete set null,
    add constraint floor_turns_question_is_queued check (question_id is null or raised_at is not null),
    drop constraint floor_turns_end_reason_check,
    add constraint floor_turns_end_reason_check check (end_reason in (
        'lowered', 'released', 'revoked', 'expired', 'left', 'kicked',
        'session_ended', 'mode_closed', 'limit_lowered', 'answered', 'dismissed'));

-- `question` events on the live stream (the API shows each only to staff
-- and to its author; the log is purged with the session's after the
-- retention period, like the floor events that carry names).
alter table session_events
    drop constraint session_events_event_check,
    add constraint session_events_event_check
        check (event in ('floor', 'session', 'presence', 'turn_ending', 'question'));
