-- What the webhook worker needs: retry scheduling on the inbox, and a
-- record of what each participant publishes.

-- Why: Postgres, not Redis, guarantees that every stored event is applied.
-- A failed attempt schedules the next one here (exponential backoff); the
-- sweeper re-enqueues rows whose time has come. `enqueued_at` is when the
-- sweeper (or a replay) last queued the row: it keeps the sweeper from
-- queueing a row again while it merely waits in the queue, and stays set
-- once processed, so null there means the API's own push delivered it.
alter table webhook_inbox
    add column next_attempt_at timestamptz not null default now(),
    add column enqueued_at timestamptz;

drop index webhook_inbox_unprocessed;
create index webhook_inbox_pending on webhook_inbox (next_attempt_at) where status = 'pending';
create index webhook_inbox_failed on webhook_inbox (received_at desc) where status = 'failed';

-- Why: the floor is enforced at the SFU, so we must know what each
-- participant actually publishes. One row per LiveKit track, never
-- deleted while the session lives: an unpublish sets `unpublished_at`,
-- and a late `track_published` for that track then changes nothing.
create table participant_tracks (
    track_sid       text primary key check (length(track_sid) between 1 and 128),
    participant_id  uuid not null references participants (id) on delete cascade,
    source          text not null check (source in (
                        'unknown', 'camera', 'microphone', 'screen_share', 'screen_share_audio')),
    published_at    timestamptz,
    unpublished_at  timestamptz,
    -- A learner's microphone published without a grant in Postgres: the
    -- reconciliation job revokes it at the SFU.
    unauthorized    boolean not null default false,
    check (published_at is not null or unpublished_at is not null)
);

create index participant_tracks_participant on participant_tracks (participant_id);
create index participant_tracks_unauthorized on participant_tracks (participant_id)
    where unauthorized and unpublished_at is null;
