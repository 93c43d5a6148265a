-- The reminder funnel of /results (issue 16): per completed or abandoned
-- interview, whether its one reminder was sent and whether the respondent
-- came back after it. Two flags and nothing else: no link to the person,
-- no time of the reminder.

-- +goose Up
ALTER TABLE responses ADD COLUMN reminded boolean NOT NULL DEFAULT false,
                      ADD COLUMN resumed  boolean NOT NULL DEFAULT false;
ALTER TABLE abandoned ADD COLUMN reminded boolean NOT NULL DEFAULT false,
                      ADD COLUMN resumed  boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE abandoned DROP COLUMN resumed, DROP COLUMN reminded;
ALTER TABLE responses DROP COLUMN resumed, DROP COLUMN reminded;
