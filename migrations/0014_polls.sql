-- Quick polls (issue 19): the teacher opens a poll (a question and 2–6
-- choices), learners and classrooms answer once each and may change their
-- answer until it closes, the teacher closes it and may show the results
-- to everyone. One open poll per session at a time. Answers are anonymous
-- to other learners: only counts ever leave the API, for everyone but
-- the answer's own author.

create table polls (
    id            uuid primary key default gen_random_uuid(),
    session_id    uuid not null references sessions (id) on delete cascade,
    question      text not null check (
                      char_length(question) between 1 and 200
                      and question !~ '[\x01-\x1f\x7f-\x9f]'),
    choices       text[] not null check (
                      cardinality(choices) between 2 and 6
                      and array_position(choices, null) is null),
    opened_by     uuid not null references accounts (id),
    opened_at     timestamptz not null default now(),
    closed_at     timestamptz,
    -- The teacher showed the results to everyone (only once closed).
    results_shown boolean not null default false,
    check (not results_shown or closed_at is not null)
);

create unique index polls_one_open_per_session on polls (session_id) where closed_at is null;
create index polls_session on polls (session_id, opened_at);

create table poll_answers (
    poll_id        uuid not null references polls (id) on delete cascade,
    participant_id uuid not null references participants (id) on delete cascade,
    -- Index into the poll's choices, from 0.
    choice         smallint not null check (choice between 0 and 5),
    answered_at    timestamptz not null default now(),
    primary key (poll_id, participant_id)
);

alter table session_events
    drop constraint session_events_event_check,
    add constraint session_events_event_check
        check (event in ('floor', 'session', 'presence', 'turn_ending', 'question', 'poll'));
