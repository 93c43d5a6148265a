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

-- ------------------------------------------------------------- reporting
-- The BI views split (docs/bi.md): needsbot_reader gets aggregated counts,
-- perturbed like /results (the same cell keys, so a BI cell and a /results
-- cell over the same records show the same value); row-level views, without
-- response ids, with dates as days and countries as macro-areas, are only
-- for needsbot_analyst, a role granted separately. Default-deny: a role
-- sees a municipality only when reporting.access names it (or a role it is
-- a member of) — whoever it is, superusers and the application included.

-- A random reference for the analysts' row-level views: not the response
-- id, not derived from anything, unknown outside the database.
ALTER TABLE responses ADD COLUMN ref uuid NOT NULL DEFAULT gen_random_uuid();

-- The threshold BI counts show below (NULL), as NEEDSBOT_MIN_CELL does for
-- /results: set it to the same value (docs/bi.md).
CREATE TABLE reporting.parameters (
    one       boolean PRIMARY KEY DEFAULT true CHECK (one),
    min_cell  integer NOT NULL DEFAULT 5 CHECK (min_cell >= 3)
);
INSERT INTO reporting.parameters DEFAULT VALUES;

-- results.Protect in SQL: n records whose keys sum to k, rounded to a
-- multiple of 5 (up when (k mod 2^32)/2^32 < (n mod 5)/5), NULL when below
-- the threshold (min_cell rounded up to a multiple of 5). A test checks it
-- against the Go function.
-- +goose StatementBegin
CREATE FUNCTION reporting.protect(n bigint, k bigint) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN x.p < (SELECT (min_cell + 4) / 5 * 5 FROM reporting.parameters) THEN NULL ELSE x.p END
    FROM (SELECT CASE WHEN coalesce(n, 0) <= 0 THEN 0
                      ELSE n - n % 5 + CASE WHEN ((k % 4294967296 + 4294967296) % 4294967296) * 5 < (n % 5) * 4294967296
                                            THEN 5 ELSE 0 END
                 END AS p) x
$$;
-- +goose StatementEnd

-- Which municipality and choices groups: the `macro` column of the
-- choices (countries → macro-areas), filled with the questions and labels.
CREATE TABLE reporting.choice_groups (
    form      text NOT NULL,
    question  text NOT NULL,
    choice    text NOT NULL,
    grp       text NOT NULL,
    PRIMARY KEY (form, question, choice)
);

-- The row-level views of 00004 go: readers get aggregates only.
DROP VIEW reporting.area_counts;
DROP VIEW reporting.choice_counts;
DROP VIEW reporting.responses;
DROP VIEW reporting.answers;
DROP VIEW reporting.answer_choices;
DROP VIEW reporting.abandoned;

-- Default-deny: a row naming the current user, or a role it is a member
-- of. Superusers count as members of every role, so for them only a row
-- naming them counts.
CREATE OR REPLACE VIEW reporting.my_municipalities WITH (security_barrier) AS
SELECT m.id
FROM municipalities m
WHERE EXISTS (
        SELECT 1 FROM reporting.access a JOIN pg_roles ro ON ro.rolname = a.role_name
        WHERE (a.role_name = current_user
               OR pg_has_role(current_user, ro.oid, 'MEMBER')
                  AND NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user))
          AND (a.municipality_id IS NULL OR a.municipality_id = m.id));
DROP FUNCTION reporting.is_reader();

-- Whole days before today (Rome), as /results.
-- +goose StatementBegin
CREATE FUNCTION reporting.today() RETURNS date
LANGUAGE sql STABLE AS $$ SELECT (now() AT TIME ZONE 'Europe/Rome')::date $$;
-- +goose StatementEnd

-- Readers' counts cover complete months only (before the current one): a
-- cell never changes by the interviews of one day (the release batches of
-- /results, docs/disclosure-control.md).

-- Choice counts per questionnaire, municipality, month and breakdown
-- (all, per service code, per interview language), perturbed: responses
-- that chose the choice, answered = responses that answered the question.
-- NULL: below the threshold.
CREATE VIEW reporting.choice_counts WITH (security_barrier) AS
WITH months AS (
    SELECT t.form, t.dim, t.dim_value, t.municipality_id, date_trunc('month', t.day)::date AS month,
           t.question, t.choice, sum(t.n)::bigint AS n, sum(t.k)::bigint AS k
    FROM results_rollup t
    WHERE t.day < date_trunc('month', reporting.today())::date
      AND t.municipality_id IN (SELECT id FROM reporting.my_municipalities)
    GROUP BY 1, 2, 3, 4, 5, 6, 7
)
SELECT c.form, c.municipality_id, m.istat_code, m.name AS municipality, c.month,
       CASE c.dim WHEN '-' THEN 'all' WHEN 's' THEN 'service' ELSE 'language' END AS breakdown,
       CASE c.dim WHEN 's' THEN s.code ELSE c.dim_value END AS breakdown_value,
       c.question, c.choice,
       reporting.protect(c.n, c.k) AS responses,
       reporting.protect(q.n, q.k) AS answered,
       it.label AS label_it, en.label AS label_en
FROM months c
JOIN municipalities m ON m.id = c.municipality_id
JOIN months q ON (q.form, q.dim, q.dim_value, q.municipality_id, q.month, q.question, q.choice)
               = (c.form, c.dim, c.dim_value, c.municipality_id, c.month, c.question, '')
LEFT JOIN services s ON c.dim = 's' AND s.id::text = c.dim_value
LEFT JOIN reporting.labels it ON (it.form, it.question, it.choice, it.lang) = (c.form, c.question, c.choice, 'it')
LEFT JOIN reporting.labels en ON (en.form, en.question, en.choice, en.lang) = (c.form, c.question, c.choice, 'en')
WHERE c.choice <> '';

-- The need areas (the shared `aree` list), every respondent of the month.
CREATE VIEW reporting.area_counts WITH (security_barrier) AS
SELECT c.form, c.municipality_id, c.istat_code, c.municipality, c.month,
       c.question, c.choice AS area, c.responses, c.answered, c.label_it, c.label_en
FROM reporting.choice_counts c
JOIN reporting.questions q ON (q.form, q.question) = (c.form, c.question)
WHERE q.list = 'aree' AND c.breakdown = 'all';

-- Completed and abandoned interviews per questionnaire, municipality,
-- month and breakdown, perturbed (NULL: below the threshold).
CREATE VIEW reporting.interview_counts WITH (security_barrier) AS
WITH c AS (
    SELECT r.form, r.municipality_id, date_trunc('month', (r.completed_at AT TIME ZONE 'Europe/Rome'))::date AS month,
           CASE WHEN GROUPING(s.code) = 0 THEN 'service' WHEN GROUPING(r.language) = 0 THEN 'language' ELSE 'all' END AS breakdown,
           CASE WHEN GROUPING(s.code) = 0 THEN s.code WHEN GROUPING(r.language) = 0 THEN r.language ELSE '' END AS breakdown_value,
           count(*) AS n, sum(r.rkey)::bigint AS k
    FROM responses r LEFT JOIN services s ON s.id = r.service_id
    WHERE (r.completed_at AT TIME ZONE 'Europe/Rome')::date < date_trunc('month', reporting.today())::date
      AND r.municipality_id IN (SELECT id FROM reporting.my_municipalities)
    GROUP BY GROUPING SETS ((1, 2, 3), (1, 2, 3, s.code), (1, 2, 3, r.language))
    HAVING NOT (GROUPING(s.code) = 0 AND s.code IS NULL)
), a AS (
    SELECT x.form, x.municipality_id, date_trunc('month', (x.abandoned_at AT TIME ZONE 'Europe/Rome'))::date AS month,
           CASE WHEN GROUPING(s.code) = 0 THEN 'service' WHEN GROUPING(x.language) = 0 THEN 'language' ELSE 'all' END AS breakdown,
           CASE WHEN GROUPING(s.code) = 0 THEN s.code WHEN GROUPING(x.language) = 0 THEN x.language ELSE '' END AS breakdown_value,
           count(*) AS n, sum(x.rkey)::bigint AS k
    FROM abandoned x LEFT JOIN services s ON s.id = x.service_id
    WHERE (x.abandoned_at AT TIME ZONE 'Europe/Rome')::date < date_trunc('month', reporting.today())::date
      AND x.municipality_id IN (SELECT id FROM reporting.my_municipalities)
    GROUP BY GROUPING SETS ((1, 2, 3), (1, 2, 3, s.code), (1, 2, 3, x.language))
    HAVING NOT (GROUPING(s.code) = 0 AND s.code IS NULL)
)
SELECT coalesce(c.form, a.form) AS form, coalesce(c.municipality_id, a.municipality_id) AS municipality_id,
       m.istat_code, m.name AS municipality, coalesce(c.month, a.month) AS month,
       coalesce(c.breakdown, a.breakdown) AS breakdown, coalesce(c.breakdown_value, a.breakdown_value) AS breakdown_value,
       reporting.protect(c.n, c.k) AS completed, reporting.protect(a.n, a.k) AS abandoned
FROM c FULL JOIN a USING (form, municipality_id, month, breakdown, breakdown_value)
JOIN municipalities m ON m.id = coalesce(c.municipality_id, a.municipality_id);

-- Row-level views for needsbot_analyst only: no response id (ref is a
-- random reference of its own), no pseudonym, invite or operator, days not
-- times, durations in minutes, countries as macro-areas, no free text.
CREATE VIEW reporting.analyst_responses WITH (security_barrier) AS
SELECT r.ref AS response_ref, r.form, r.form_version, r.municipality_id, m.istat_code, m.name AS municipality,
       s.code AS service, r.language, r.consent_version,
       (r.completed_at AT TIME ZONE 'Europe/Rome')::date AS completed_day,
       round(r.duration_s / 60.0)::integer AS duration_min
FROM responses r
JOIN municipalities m ON m.id = r.municipality_id
LEFT JOIN services s ON s.id = r.service_id
WHERE (r.completed_at AT TIME ZONE 'Europe/Rome')::date < reporting.today()
  AND r.municipality_id IN (SELECT id FROM reporting.my_municipalities);

CREATE VIEW reporting.analyst_answers WITH (security_barrier) AS
SELECT r.ref AS response_ref, r.form, a.question, coalesce(g.grp, a.value) AS value, a.value_num
FROM answers a
JOIN responses r ON r.id = a.response_id
LEFT JOIN reporting.choice_groups g ON (g.form, g.question, g.choice) = (r.form, a.question, a.value)
WHERE (r.completed_at AT TIME ZONE 'Europe/Rome')::date < reporting.today()
  AND r.municipality_id IN (SELECT id FROM reporting.my_municipalities)
  AND (a.value_num IS NOT NULL
       OR EXISTS (SELECT 1 FROM answer_choices c WHERE c.response_id = a.response_id AND c.question = a.question))
  -- a grouped question never shows its ungrouped choices
  AND (g.grp IS NOT NULL OR NOT EXISTS (SELECT 1 FROM reporting.choice_groups x WHERE (x.form, x.question) = (r.form, a.question)));

CREATE VIEW reporting.analyst_answer_choices WITH (security_barrier) AS
SELECT DISTINCT r.ref AS response_ref, r.form, c.question, coalesce(g.grp, c.choice) AS choice,
       CASE WHEN g.grp IS NULL THEN it.label END AS label_it, CASE WHEN g.grp IS NULL THEN en.label END AS label_en
FROM answer_choices c
JOIN responses r ON r.id = c.response_id
LEFT JOIN reporting.choice_groups g ON (g.form, g.question, g.choice) = (r.form, c.question, c.choice)
LEFT JOIN reporting.labels it ON (it.form, it.question, it.choice, it.lang) = (r.form, c.question, c.choice, 'it')
LEFT JOIN reporting.labels en ON (en.form, en.question, en.choice, en.lang) = (r.form, c.question, c.choice, 'en')
WHERE (r.completed_at AT TIME ZONE 'Europe/Rome')::date < reporting.today()
  AND r.municipality_id IN (SELECT id FROM reporting.my_municipalities)
  AND (g.grp IS NOT NULL OR NOT EXISTS (SELECT 1 FROM reporting.choice_groups x WHERE (x.form, x.question) = (r.form, c.question)));

CREATE VIEW reporting.analyst_abandoned WITH (security_barrier) AS
SELECT a.form, a.form_version, a.municipality_id, m.istat_code, m.name AS municipality,
       s.code AS service, a.language, a.last_question,
       (a.abandoned_at AT TIME ZONE 'Europe/Rome')::date AS abandoned_day
FROM abandoned a
JOIN municipalities m ON m.id = a.municipality_id
LEFT JOIN services s ON s.id = a.service_id
WHERE (a.abandoned_at AT TIME ZONE 'Europe/Rome')::date < reporting.today()
  AND a.municipality_id IN (SELECT id FROM reporting.my_municipalities);

-- Grants (guarded as in 00004: a migrating user without CREATEROLE skips
-- the roles, docs/bi.md repeats the statements).
-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'needsbot_analyst') THEN
        BEGIN
            CREATE ROLE needsbot_analyst NOLOGIN;
        EXCEPTION
            WHEN duplicate_object OR unique_violation THEN NULL;
            WHEN insufficient_privilege THEN
                RAISE NOTICE 'needsbot_analyst not created (no CREATEROLE privilege): see docs/bi.md';
        END;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'needsbot_reader') THEN
        GRANT USAGE ON SCHEMA reporting TO needsbot_reader;
        GRANT SELECT ON reporting.municipalities, reporting.services, reporting.questions, reporting.labels,
            reporting.parameters, reporting.choice_counts, reporting.area_counts, reporting.interview_counts
            TO needsbot_reader;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'needsbot_analyst') THEN
        GRANT USAGE ON SCHEMA reporting TO needsbot_analyst;
        GRANT SELECT ON reporting.municipalities, reporting.services, reporting.questions, reporting.labels,
            reporting.parameters, reporting.choice_groups, reporting.analyst_responses, reporting.analyst_answers,
            reporting.analyst_answer_choices, reporting.analyst_abandoned
            TO needsbot_analyst;
    END IF;
END
$$;
-- +goose StatementEnd
