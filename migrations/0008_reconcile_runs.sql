-- Reconciliation reports say what was looked at, who asked, and how many
-- LiveKit calls the run cost (it must stay O(rooms), not O(participants)).
alter table reconcile_reports
    add column trigger text not null default 'schedule'
        check (trigger in ('schedule', 'admin', 'cli')),
    add column rooms_checked integer not null default 0,
    add column participants_checked integer not null default 0,
    add column livekit_calls integer not null default 0;
create index reconcile_reports_recent on reconcile_reports (started_at desc);
