-- No query reads the audit log by time alone: the admin list pages by id
-- (the primary key), filtered by session or by actor (each its own index).
-- Every join and every audited change paid for this index's update
-- (docs/PERFORMANCE.md, group commit).
drop index audit_log_at;
