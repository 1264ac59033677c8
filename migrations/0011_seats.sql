-- Who holds one of a session's seats (its `max_learners`).
--
-- Why: anyone with the code can join through the API and never connect
-- to LiveKit. Such a participant held a seat (and a place in line, or a
-- speaker's slot) until the session ended, so a few joins filled a class.
-- A learner or classroom now holds a seat while LiveKit has it, or while
-- it is expected there: joined through the API less than `arrival` ago
-- and not seen yet, or seen leaving less than `departure` ago (a dropped
-- network or a reload). A kicked participant holds none. The seat count
-- of a join, the webhook's check of a late arrival and the floor timers
-- that release a hand all ask this one function.
create function holds_seat(
    presence   text,
    kicked_at  timestamptz,
    created_at timestamptz,
    left_at    timestamptz,
    arrival    interval,
    departure  interval
) returns boolean
language sql stable parallel safe
as $$
    select kicked_at is null and case presence
        when 'present' then true
        when 'invited' then created_at > now() - arrival
        when 'left' then coalesce(left_at > now() - departure, false)
        else false
    end
$$;
