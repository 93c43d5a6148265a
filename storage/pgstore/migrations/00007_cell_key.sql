-- Statistical disclosure control by the cell-key method
-- (docs/disclosure-control.md), and the BI views split into aggregated,
-- perturbed views for the reader role and row-level views for a
-- separately granted analyst role (docs/bi.md).

-- +goose Up

-- A record key: 32 random bits from a cryptographically strong source
-- (gen_random_uuid, built in since PostgreSQL 13). Nobody reads it but the
-- counting: a cell's key is the sum of its records' keys mod 2^32.
-- +goose StatementBegin
CREATE FUNCTION needsbot_record_key() RETURNS bigint
LANGUAGE sql VOLATILE AS $$
    SELECT ('x' || substr(replace(gen_random_uuid()::text, '-', ''), 1, 8))::bit(32)::bigint
$$;
-- +goose StatementEnd

-- Every stored row gets its own random key (a volatile default is
-- evaluated per row); new rows get one from the default, so no writer
-- needs to know.
ALTER TABLE responses ADD COLUMN rkey bigint NOT NULL DEFAULT needsbot_record_key()
    CHECK (rkey >= 0 AND rkey < 4294967296);
ALTER TABLE abandoned ADD COLUMN rkey bigint NOT NULL DEFAULT needsbot_record_key()
    CHECK (rkey >= 0 AND rkey < 4294967296);

-- The counts of /results come from these indexes alone: they carry the key.
DROP INDEX responses_results;
CREATE INDEX responses_results ON responses (form, municipality_id, completed_at)
    INCLUDE (service_id, language, duration_s, rkey);
DROP INDEX abandoned_results;
CREATE INDEX abandoned_results ON abandoned (form, municipality_id, abandoned_at)
    INCLUDE (service_id, language, last_question, rkey);

-- The rollup keeps, next to each count n, the sum k of the record keys of
-- the same rows (not reduced: sums and differences stay exact; readers
-- take k mod 2^32).
ALTER TABLE results_rollup ADD COLUMN k bigint NOT NULL DEFAULT 0;

DROP FUNCTION results_rollup_items(text[], text[], text[]);
DROP FUNCTION results_rollup_all();

-- +goose StatementBegin
CREATE FUNCTION results_rollup_items(rids text[], qs text[], cs text[])
RETURNS TABLE (form text, dim text, dim_value text, municipality_id bigint, day date,
               question text, choice text, n bigint, k bigint)
LANGUAGE sql STABLE AS $$
    SELECT r.form,
           CASE WHEN GROUPING(r.service_id) = 0 THEN 's' WHEN GROUPING(r.language) = 0 THEN 'l' ELSE '-' END,
           CASE WHEN GROUPING(r.service_id) = 0 THEN r.service_id::text WHEN GROUPING(r.language) = 0 THEN r.language ELSE '' END,
           r.municipality_id, (r.completed_at AT TIME ZONE 'Europe/Rome')::date, x.question, x.choice, count(*),
           sum(r.rkey)::bigint
    FROM unnest(rids, qs, coalesce(cs, array_fill(''::text, ARRAY[cardinality(rids)]))) AS x (response_id, question, choice)
    JOIN responses r ON r.id = x.response_id
    GROUP BY GROUPING SETS (
        (r.form, r.municipality_id, 5, x.question, x.choice),
        (r.form, r.service_id, r.municipality_id, 5, x.question, x.choice),
        (r.form, r.language, r.municipality_id, 5, x.question, x.choice))
    HAVING NOT (GROUPING(r.service_id) = 0 AND r.service_id IS NULL)
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION results_rollup_all()
RETURNS TABLE (form text, dim text, dim_value text, municipality_id bigint, day date,
               question text, choice text, n bigint, k bigint)
LANGUAGE sql STABLE SET work_mem = '1GB' AS $$
    SELECT r.form,
           CASE WHEN GROUPING(r.service_id) = 0 THEN 's' WHEN GROUPING(r.language) = 0 THEN 'l' ELSE '-' END,
           CASE WHEN GROUPING(r.service_id) = 0 THEN r.service_id::text WHEN GROUPING(r.language) = 0 THEN r.language ELSE '' END,
           r.municipality_id, (r.completed_at AT TIME ZONE 'Europe/Rome')::date, x.question, x.choice, count(*),
           sum(r.rkey)::bigint
    FROM (SELECT c.response_id, c.question, c.choice FROM answer_choices c
          UNION ALL
          SELECT a.response_id, a.question, '' FROM answers a) AS x
    JOIN responses r ON r.id = x.response_id
    GROUP BY GROUPING SETS (
        (r.form, r.municipality_id, 5, x.question, x.choice),
        (r.form, r.service_id, r.municipality_id, 5, x.question, x.choice),
        (r.form, r.language, r.municipality_id, 5, x.question, x.choice))
    HAVING NOT (GROUPING(r.service_id) = 0 AND r.service_id IS NULL)
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION results_rollup_apply(rids text[], qs text[], cs text[], sign integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    i record;
    left_n bigint;
BEGIN
    IF rids IS NULL OR cardinality(rids) = 0 THEN
        RETURN;
    END IF;
    IF sign > 0 THEN
        INSERT INTO results_rollup AS t (form, dim, dim_value, municipality_id, day, question, choice, n, k)
        SELECT x.form, x.dim, x.dim_value, x.municipality_id, x.day, x.question, x.choice, x.n, x.k
        FROM results_rollup_items(rids, qs, cs) x
        ORDER BY 1, 2, 3, 4, 5, 6, 7
        ON CONFLICT (form, dim, dim_value, municipality_id, day, question, choice)
        DO UPDATE SET n = t.n + EXCLUDED.n, k = t.k + EXCLUDED.k;
        RETURN;
    END IF;
    FOR i IN SELECT * FROM results_rollup_items(rids, qs, cs) x ORDER BY 1, 2, 3, 4, 5, 6, 7 LOOP
        UPDATE results_rollup t SET n = t.n - i.n, k = t.k - i.k
        WHERE (t.form, t.dim, t.dim_value, t.municipality_id, t.day, t.question, t.choice)
            = (i.form, i.dim, i.dim_value, i.municipality_id, i.day, i.question, i.choice)
        RETURNING t.n INTO left_n;
        IF left_n IS NOT NULL AND left_n <= 0 THEN
            DELETE FROM results_rollup t
            WHERE (t.form, t.dim, t.dim_value, t.municipality_id, t.day, t.question, t.choice)
                = (i.form, i.dim, i.dim_value, i.municipality_id, i.day, i.question, i.choice);
        END IF;
    END LOOP;
END
$$;
-- +goose StatementEnd

-- A record key that changes moves the key sums like a change of scope.
DROP TRIGGER results_rollup_update_before ON responses;
DROP TRIGGER results_rollup_update_after ON responses;
CREATE TRIGGER results_rollup_update_before
    BEFORE UPDATE OF form, municipality_id, service_id, language, completed_at, rkey ON responses
    FOR EACH ROW
    WHEN ((OLD.form, OLD.municipality_id, OLD.service_id, OLD.language, OLD.completed_at, OLD.rkey)
          IS DISTINCT FROM (NEW.form, NEW.municipality_id, NEW.service_id, NEW.language, NEW.completed_at, NEW.rkey))
    EXECUTE FUNCTION results_rollup_before();
CREATE TRIGGER results_rollup_update_after
    AFTER UPDATE OF form, municipality_id, service_id, language, completed_at, rkey ON responses
    FOR EACH ROW
    WHEN ((OLD.form, OLD.municipality_id, OLD.service_id, OLD.language, OLD.completed_at, OLD.rkey)
          IS DISTINCT FROM (NEW.form, NEW.municipality_id, NEW.service_id, NEW.language, NEW.completed_at, NEW.rkey))
    EXECUTE FUNCTION results_rollup_after();

TRUNCATE results_rollup;
INSERT INTO results_rollup (form, dim, dim_value, municipality_id, day, question, choice, n, k)
SELECT * FROM results_rollup_all();
