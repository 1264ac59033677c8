-- Sign-ins to the teacher console.
--
-- Why: the console runs in a browser, and an API key kept in a browser
-- could be read by any script on the page. The key is typed once and
-- exchanged for a random session token that lives only in an HttpOnly
-- cookie; only its SHA-256 is stored here. A sign-in is tied to the key
-- it was made with: revoking the key or disabling the account ends it on
-- the next request, as it stops the key itself. Sign-out sets ended_at.
create table console_sessions (
    id          uuid primary key default gen_random_uuid(),
    token_hash  bytea not null unique check (length(token_hash) = 32),
    account_id  uuid not null references accounts (id) on delete cascade,
    key_id      uuid not null references api_keys (id) on delete cascade,
    created_at  timestamptz not null default now(),
    expires_at  timestamptz not null,
    ended_at    timestamptz,
    check (expires_at > created_at)
);

create index console_sessions_expires_at on console_sessions (expires_at);
