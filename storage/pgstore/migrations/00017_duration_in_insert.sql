-- The response's duration is computed in the insert (issue 19, Postgres
-- CPU per completed interview). SaveResponse sets duration_s from the same
-- expression the trigger of 00005 uses; the trigger stays for writers that
-- do not (a replica of the release before during a rolling deploy, COPY
-- bulk loads), but now runs only when duration_s is NULL: a WHEN condition
-- is checked without calling the PL/pgSQL function, which cost every
-- insert its call.

-- +goose Up
DROP TRIGGER responses_duration ON responses;
CREATE TRIGGER responses_duration BEFORE INSERT ON responses
    FOR EACH ROW WHEN (NEW.duration_s IS NULL) EXECUTE FUNCTION responses_duration();

-- +goose Down
DROP TRIGGER responses_duration ON responses;
CREATE TRIGGER responses_duration BEFORE INSERT ON responses
    FOR EACH ROW EXECUTE FUNCTION responses_duration();
