-- Why: the worker applies an event either from the Redis queue (the fast
-- path) or straight from this inbox when the queue cannot deliver it (the
-- consumer is failing, Redis is unreachable or lost its jobs). Operators
-- and tests must be able to tell which path carried each event. Null for
-- rows processed before this column existed.
alter table webhook_inbox
    add column applied_via text check (applied_via in ('queue', 'inbox')),
    add check (applied_via is null or status = 'processed');

-- Why: the inbox path applies pending events oldest first (LiveKit's
-- createdAt, then arrival), in order per room, without sorting the whole
-- backlog on every pass.
create index webhook_inbox_pending_in_order
    on webhook_inbox (event_created_at, received_at, event_id) where status = 'pending';
