-- Accounts and their API keys.
--
-- Why: IT staff (role admin) and teachers (role teacher) authenticate with
-- long random API keys. Learners never have an account: they join with a
-- code and receive a short-lived participant token instead.
--
-- Roles and statuses are text with check constraints rather than Postgres
-- enums: adding a value later is a one-line constraint swap, and sqlx maps
-- text without type overrides.

create table accounts (
    id          uuid primary key default gen_random_uuid(),
    name        text not null check (length(name) between 1 and 128),
    role        text not null check (role in ('admin', 'teacher')),
    created_at  timestamptz not null default now(),
    -- Disabling an account stops all its keys at once (checked on every
    -- request); the row stays so sessions and audit entries keep their owner.
    disabled_at timestamptz
);

create table api_keys (
    id           uuid primary key default gen_random_uuid(),
    account_id   uuid not null references accounts (id) on delete cascade,
    -- The first characters of the key ("estrade_ab12"), kept in clear so an
    -- admin can tell keys apart without ever seeing one again.
    prefix       text not null,
    -- SHA-256 of the whole key. A key carries 256 bits of randomness, so a
    -- fast hash is enough: there is nothing to brute-force, and lookups by
    -- hash stay a single index probe.
    key_hash     bytea not null unique check (length(key_hash) = 32),
    created_at   timestamptz not null default now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);

create index api_keys_account_id on api_keys (account_id);
