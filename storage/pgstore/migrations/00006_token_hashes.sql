-- Invite and staff-link tokens are secrets: whoever holds one can answer
-- through an invite or become staff. The database keeps only their SHA-256
-- (token_hash), so a dump, a backup or a read-only role cannot use them;
-- the bot hashes the /start payload and looks the hash up. Tokens carry 120
-- or 144 random bits, so an unsalted hash cannot be reversed by guessing.
--
-- responses referred to an invite by its token: they now refer to its
-- numeric id (invite_id), which names the invite without opening it.
--
-- sha256() is built into PostgreSQL 11 and later (no pgcrypto needed).

-- +goose Up
ALTER TABLE responses ADD COLUMN invite_id bigint;
UPDATE responses r SET invite_id = i.id FROM invites i WHERE i.token = r.invite_token;
DROP INDEX IF EXISTS responses_invite;
ALTER TABLE responses DROP COLUMN invite_token;

ALTER TABLE invites ADD COLUMN token_hash bytea;
UPDATE invites SET token_hash = sha256(convert_to(token, 'UTF8'));
ALTER TABLE invites ALTER COLUMN token_hash SET NOT NULL;
ALTER TABLE invites ADD CONSTRAINT invites_token_hash_check CHECK (length(token_hash) = 32);
ALTER TABLE invites DROP CONSTRAINT invites_pkey;
ALTER TABLE invites DROP COLUMN token;
ALTER TABLE invites DROP CONSTRAINT invites_id_key;
ALTER TABLE invites ADD CONSTRAINT invites_pkey PRIMARY KEY (id);
ALTER TABLE invites ADD CONSTRAINT invites_token_hash_key UNIQUE (token_hash);

ALTER TABLE responses ADD CONSTRAINT responses_invite_id_fkey FOREIGN KEY (invite_id) REFERENCES invites (id);
-- /invites counts completed responses per invite.
CREATE INDEX responses_invite ON responses (invite_id) WHERE invite_id IS NOT NULL;

ALTER TABLE staff_invites ADD COLUMN token_hash bytea;
UPDATE staff_invites SET token_hash = sha256(convert_to(token, 'UTF8'));
ALTER TABLE staff_invites ALTER COLUMN token_hash SET NOT NULL;
ALTER TABLE staff_invites ADD CONSTRAINT staff_invites_token_hash_check CHECK (length(token_hash) = 32);
ALTER TABLE staff_invites DROP CONSTRAINT staff_invites_pkey;
ALTER TABLE staff_invites DROP COLUMN token;
ALTER TABLE staff_invites DROP CONSTRAINT staff_invites_id_key;
ALTER TABLE staff_invites ADD CONSTRAINT staff_invites_pkey PRIMARY KEY (id);
ALTER TABLE staff_invites ADD CONSTRAINT staff_invites_token_hash_key UNIQUE (token_hash);

COMMENT ON COLUMN invites.token_hash IS 'SHA-256 of the invite token; the token itself is never stored.';
COMMENT ON COLUMN staff_invites.token_hash IS 'SHA-256 of the staff link token; the token itself is never stored.';
COMMENT ON COLUMN responses.invite_id IS 'The invite the interview was opened with (its id, never its token).';
