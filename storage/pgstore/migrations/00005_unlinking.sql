-- Unlinking that holds (issue 11, finding 1). A response's id is random,
-- chosen by the bot; redeliveries of the same completion collapse through
-- a separate idempotency key (idem, derived from the keyed pseudonym, the
-- form and the start) that retention destroys. At retention the response
-- also loses its invite and operator, and its start and completion are
-- coarsened to the day (Italian time); the duration stays.

-- +goose Up

-- duration_s was computed from the timestamps; it becomes a plain column,
-- set on insert by a trigger (so every writer gets it), so that coarsening
-- the timestamps keeps it.
ALTER TABLE responses ALTER COLUMN duration_s DROP EXPRESSION;

-- +goose StatementBegin
CREATE FUNCTION responses_duration() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.duration_s := extract(epoch FROM NEW.completed_at - NEW.started_at)::integer;
    RETURN NEW;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER responses_duration BEFORE INSERT ON responses
    FOR EACH ROW EXECUTE FUNCTION responses_duration();

ALTER TABLE responses
    ADD COLUMN idem text UNIQUE CHECK (length(idem) BETWEEN 1 AND 200),
    ADD COLUMN unlinked boolean NOT NULL DEFAULT false;

COMMENT ON COLUMN responses.idem IS
    'idempotency key of the completion (hash of the keyed pseudonym, form, start); NULL after retention';
COMMENT ON COLUMN responses.unlinked IS
    'retention done: no pseudonym, idempotency key, invite or operator; timestamps coarsened to the day';

-- Ids may change once (below): answers follow.
ALTER TABLE answer_choices DROP CONSTRAINT answer_choices_response_id_question_fkey;
ALTER TABLE answers DROP CONSTRAINT answers_response_id_fkey;
ALTER TABLE answers ADD CONSTRAINT answers_response_id_fkey
    FOREIGN KEY (response_id) REFERENCES responses (id) ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE answer_choices ADD CONSTRAINT answer_choices_response_id_question_fkey
    FOREIGN KEY (response_id, question) REFERENCES answers (response_id, question) ON DELETE CASCADE ON UPDATE CASCADE;

-- Ids written before were a hash of the pseudonym: every row gets a random
-- id. A row still linked keeps its old id as idempotency key (an outbox
-- entry written before this migration carries it); a row already
-- anonymised keeps nothing, and the next retention run coarsens it.
UPDATE responses
SET idem = CASE WHEN respondent IS NOT NULL THEN id END,
    id = replace(gen_random_uuid()::text, '-', '');

-- +goose Down
DROP TRIGGER responses_duration ON responses;
DROP FUNCTION responses_duration();
ALTER TABLE responses DROP COLUMN unlinked, DROP COLUMN idem;
