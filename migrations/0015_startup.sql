-- Start-up latency (docs/FLOOR.md "Start-up"), from LiveKit's webhooks as
-- Estrade received them (PostgreSQL's clock, like `created_at` and
-- `started_at`): when a learner's or classroom's first connection was
-- reported, and when the teacher's first published track of a session was.
-- Each is set once and never moved. No check ties them to `created_at` or
-- `started_at`: a webhook that cannot be applied would be retried forever.
alter table participants add column first_connected_at timestamptz;
alter table sessions add column first_track_at timestamptz;
