-- Workbooks sent to the bot, waiting for the admin's Publish (issue 13).
--
-- form_uploads: an admin sends an XLSForm workbook; the bot answers with a
-- preview and a Publish button. Callback data holds 64 bytes, so the
-- workbook waits here under a random key (the only thing in the button)
-- until it expires (an hour) or is published once: published_at makes a
-- second tap harmless. Only the admin who sent it may publish it. The
-- file name is kept because a workbook without a form_id is named after
-- it. No
-- respondent data here; expired rows are deleted when the next upload is
-- saved.

-- +goose Up
CREATE TABLE form_uploads (
    key           text PRIMARY KEY CHECK (key ~ '^[A-Za-z0-9_-]{16,32}$'),
    staff_id      bigint NOT NULL REFERENCES staff (id),
    file_name     text NOT NULL DEFAULT '' CHECK (length(file_name) <= 255),
    workbook      bytea NOT NULL CHECK (octet_length(workbook) <= 5242880),
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    published_at  timestamptz,
    form          text,
    version       integer
);
CREATE INDEX form_uploads_expiry ON form_uploads (expires_at);

-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'needsbot_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON form_uploads TO needsbot_app;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'form_uploads not granted to needsbot_app: see docs/privacy.en.md, "Database roles"';
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP TABLE form_uploads;
