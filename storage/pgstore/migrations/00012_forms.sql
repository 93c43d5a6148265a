-- Questionnaires published without a release (issue 13).
--
-- published_forms: one row per published version of a questionnaire: its
-- definition in the row model's YAML (what `needsbot form import` writes),
-- its message files (language code -> go-i18n TOML), the languages it is
-- published for (complete ones only), who published it (a staff member's
-- id, or NULL from the shell) and when; retired_at ends it for new
-- interviews (an interview keeps the version it started with: the
-- definition stays). No respondent data here.

-- +goose Up
CREATE TABLE published_forms (
    form          text NOT NULL CHECK (form ~ '^[A-Za-z_][A-Za-z0-9_]*$'),
    version       integer NOT NULL CHECK (version > 0),
    definition    text NOT NULL,
    messages      jsonb NOT NULL DEFAULT '{}',
    languages     text[] NOT NULL CHECK (cardinality(languages) > 0),
    published_by  bigint REFERENCES staff (id),
    published_at  timestamptz NOT NULL DEFAULT now(),
    retired_at    timestamptz,
    PRIMARY KEY (form, version)
);

-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'needsbot_app') THEN
        GRANT SELECT, INSERT, UPDATE ON published_forms TO needsbot_app;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'published_forms not granted to needsbot_app: see docs/privacy.en.md, "Database roles"';
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP TABLE published_forms;
