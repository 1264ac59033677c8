-- Why: LiveKit may close a session's room and a later start re-creates it
-- under the same name. Its `room_finished` webhook can arrive late; the
-- room's sid tells which instance it was about, so a stale one does not end
-- the session running in the new room.
alter table sessions add column room_sid text;
