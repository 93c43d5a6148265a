-- The results rollup is kept by a job instead of triggers on the hot path
-- (issue 19). The statement triggers of 00004 on answers and
-- answer_choices grouped and upserted ~150 rollup rows inside every
-- SaveResponse: most of Postgres's CPU per completed interview. Now
-- SaveResponse only notes the response in results_rollup_pending (one
-- short row, in the same statement), and (*DB).CatchUpRollups adds the
-- counts of what is pending, many responses per statement: every minute
-- from the maintenance loop (one replica at a time: an advisory lock), and
-- before /results reads the rollup, so that it is exact whenever it is
-- read. The rollup stays exact: a pending row is added exactly once (the
-- job deletes it in the transaction that adds its counts), and erasure or
-- a change of scope subtracts only what was added.

-- +goose Up

CREATE TABLE results_rollup_pending (
    response_id text COLLATE "C" PRIMARY KEY
);

DROP TRIGGER results_rollup_choices ON answer_choices;
DROP TRIGGER results_rollup_answers ON answers;
DROP FUNCTION results_rollup_on_choices();
DROP FUNCTION results_rollup_on_answers();

-- Adds the counts of up to lim pending responses and forgets them;
-- returns how many it took. Rows another transaction is taking are
-- skipped, so concurrent callers never add a response twice.
-- +goose StatementBegin
CREATE FUNCTION results_rollup_catch_up(lim integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    ids text[];
    rids text[];
    qs text[];
    cs text[];
BEGIN
    WITH p AS (
        DELETE FROM results_rollup_pending x
        WHERE x.response_id IN (SELECT y.response_id FROM results_rollup_pending y LIMIT lim FOR UPDATE SKIP LOCKED)
        RETURNING x.response_id
    )
    SELECT array_agg(p.response_id) INTO ids FROM p;
    IF ids IS NULL THEN
        RETURN 0;
    END IF;
    SELECT array_agg(c.response_id), array_agg(c.question), array_agg(c.choice) INTO rids, qs, cs
    FROM answer_choices c WHERE c.response_id = ANY (ids);
    PERFORM results_rollup_apply(rids, qs, cs, 1);
    SELECT array_agg(a.response_id), array_agg(a.question) INTO rids, qs
    FROM answers a WHERE a.response_id = ANY (ids);
    PERFORM results_rollup_apply(rids, qs, NULL, 1);
    RETURN cardinality(ids);
END
$$;
-- +goose StatementEnd

-- A deleted response (erasure) or one whose scope changes: its counts are
-- subtracted only if the job added them. A pending response has none in
-- the rollup: deleting it drops its pending row; changing it changes
-- nothing (the job will count it as it is then). The pending row is taken
-- with a lock, so a job adding it right now finishes first.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION results_rollup_before() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM 1 FROM results_rollup_pending WHERE response_id = OLD.id FOR UPDATE;
        IF FOUND THEN
            DELETE FROM results_rollup_pending WHERE response_id = OLD.id;
        ELSE
            PERFORM results_rollup_response(OLD.id, -1);
        END IF;
        RETURN OLD;
    END IF;
    PERFORM 1 FROM results_rollup_pending WHERE response_id = OLD.id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM results_rollup_response(OLD.id, -1);
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION results_rollup_after() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM results_rollup_pending WHERE response_id = NEW.id) THEN
        PERFORM results_rollup_response(NEW.id, 1);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- The runtime role (00008) gets the table through the default privileges
-- when the migration owner creates it; grant explicitly too.
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'needsbot_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON results_rollup_pending TO needsbot_app;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'results_rollup_pending not granted to needsbot_app: see docs/privacy.en.md, "Database roles"';
END
$$;
-- +goose StatementEnd
