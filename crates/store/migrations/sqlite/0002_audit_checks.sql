-- Rampart storage schema, version 2 (SQLite): the authorization checks of each audit record.
--
-- A JSON array of objects {"action", "resource", "decision"}, one per check the request was
-- decided on, in order. Records written before this migration had none recorded: '[]'.

ALTER TABLE audit_records ADD COLUMN checks TEXT NOT NULL DEFAULT '[]';
