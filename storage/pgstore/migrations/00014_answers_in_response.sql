-- A response's answers live in its own row (issue 19). Until now every
-- completed interview wrote ~61 rows: one per answer in `answers` and one
-- per selected choice in `answer_choices`, each with its primary key, a
-- secondary index and a foreign-key check. Now they are five parallel
-- arrays of the response row, in the same language-neutral codes:
--
--   answer_questions[i], answer_values[i], answer_nums[i]  (one per answer;
--       answer_nums[i] is the number of an integer, decimal or range answer,
--       NULL otherwise: what answers.value_num was)
--   choice_questions[j], choices[j]  (one per selected choice of a
--       select_one or select_multiple answer: what answer_choices held)
--
-- `answers` and `answer_choices` become views with the same columns that
-- unnest the arrays, so every reader (exports, the BI views, tests, manual
-- SQL) keeps working; INSTEAD OF triggers let manual SQL change an answer
-- or a choice as before. Privacy properties hold as before, more simply:
-- the answers are part of the response row, so erasure (DELETE of the
-- response) and retention (an UPDATE of the row) cannot miss any.
--
-- The rollup job reads the arrays directly (results_rollup_of), and a row
-- stays uncompressed in the heap up to a page (toast_tuple_target), so
-- that an insert never spends CPU compressing (a 35-answer response is
-- ~1.9 KB, around the default threshold of 2 KB).

-- +goose Up

ALTER TABLE responses
    ADD COLUMN answer_questions text[] NOT NULL DEFAULT '{}',
    ADD COLUMN answer_values    text[] NOT NULL DEFAULT '{}',
    ADD COLUMN answer_nums      numeric[] NOT NULL DEFAULT '{}',
    ADD COLUMN choice_questions text[] NOT NULL DEFAULT '{}',
    ADD COLUMN choices          text[] NOT NULL DEFAULT '{}',
    ADD CONSTRAINT responses_answers_parallel CHECK (
        cardinality(answer_questions) = cardinality(answer_values)
        AND cardinality(answer_questions) = cardinality(answer_nums)
        AND cardinality(choice_questions) = cardinality(choices));
ALTER TABLE responses SET (toast_tuple_target = 8160);
COMMENT ON COLUMN responses.answer_questions IS 'question names of the answers (parallel to answer_values and answer_nums)';
COMMENT ON COLUMN responses.answer_values IS 'answers in language-neutral codes (select_multiple space-separated)';
COMMENT ON COLUMN responses.answer_nums IS 'the number of each integer, decimal or range answer, NULL for the others';
COMMENT ON COLUMN responses.choice_questions IS 'question of each selected choice (parallel to choices)';
COMMENT ON COLUMN responses.choices IS 'each selected choice of select_one and select_multiple answers';

-- Whatever was stored, in one pass (every response with choices has
-- answers: the old foreign key): answers in question order, choices in
-- (question, choice) order.
UPDATE responses r
SET answer_questions = a.qs, answer_values = a.vs, answer_nums = a.ns,
    choice_questions = coalesce(c.qs, '{}'), choices = coalesce(c.cs, '{}')
FROM (SELECT response_id, array_agg(question ORDER BY question) AS qs, array_agg(value ORDER BY question) AS vs,
             array_agg(value_num ORDER BY question) AS ns
      FROM answers GROUP BY response_id) a
LEFT JOIN (SELECT response_id, array_agg(question ORDER BY question, choice) AS qs, array_agg(choice ORDER BY question, choice) AS cs
           FROM answer_choices GROUP BY response_id) c ON c.response_id = a.response_id
WHERE a.response_id = r.id;

DROP VIEW reporting.analyst_answers;
DROP VIEW reporting.analyst_answer_choices;
DROP TABLE answer_choices;
DROP TABLE answers;

CREATE VIEW answers AS
SELECT r.id AS response_id, x.question, x.value, x.value_num
FROM responses r
CROSS JOIN LATERAL unnest(r.answer_questions, r.answer_values, r.answer_nums) AS x (question, value, value_num);
COMMENT ON VIEW answers IS 'one row per answer: the arrays of responses, unnested (migration 00014)';

CREATE VIEW answer_choices AS
SELECT r.id AS response_id, x.question, x.choice
FROM responses r
CROSS JOIN LATERAL unnest(r.choice_questions, r.choices) AS x (question, choice);
COMMENT ON VIEW answer_choices IS 'one row per selected choice: the arrays of responses, unnested (migration 00014)';

-- Manual changes through the views, with the old tables' rules: one answer
-- per question, choices only of an answer, deleting an answer deletes its
-- choices. (The rollup does not follow manual changes, as before: call
-- RebuildRollups.)
-- +goose StatementBegin
CREATE FUNCTION answers_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    i integer;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        SELECT array_position(r.answer_questions, OLD.question) INTO i FROM responses r WHERE r.id = OLD.response_id;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        IF (NEW.response_id, NEW.question) IS DISTINCT FROM (OLD.response_id, OLD.question) THEN
            RAISE EXCEPTION 'answers: a response or question cannot change' USING ERRCODE = 'feature_not_supported';
        END IF;
        UPDATE responses SET answer_values[i] = NEW.value, answer_nums[i] = NEW.value_num WHERE id = OLD.response_id;
        RETURN NEW;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE responses
        SET answer_questions = answer_questions[:i - 1] || answer_questions[i + 1:],
            answer_values = answer_values[:i - 1] || answer_values[i + 1:],
            answer_nums = answer_nums[:i - 1] || answer_nums[i + 1:],
            choice_questions = ARRAY(SELECT q FROM unnest(choice_questions) WITH ORDINALITY AS u (q, o) WHERE q <> OLD.question ORDER BY o),
            choices = ARRAY(SELECT c FROM unnest(choice_questions, choices) WITH ORDINALITY AS u (q, c, o) WHERE q <> OLD.question ORDER BY o)
        WHERE id = OLD.response_id;
        RETURN OLD;
    END IF;
    IF NEW.response_id IS NULL OR NEW.question IS NULL OR NEW.value IS NULL THEN
        RAISE EXCEPTION 'answers: response_id, question and value are required' USING ERRCODE = 'not_null_violation';
    END IF;
    UPDATE responses
    SET answer_questions = answer_questions || NEW.question, answer_values = answer_values || NEW.value,
        answer_nums = answer_nums || NEW.value_num
    WHERE id = NEW.response_id AND NOT (NEW.question = ANY (answer_questions));
    IF NOT FOUND THEN
        IF EXISTS (SELECT 1 FROM responses WHERE id = NEW.response_id) THEN
            RAISE EXCEPTION 'answers: response % already answers %', NEW.response_id, NEW.question USING ERRCODE = 'unique_violation';
        END IF;
        RAISE EXCEPTION 'answers: no response %', NEW.response_id USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION answer_choices_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE responses
        SET choice_questions = ARRAY(SELECT q FROM unnest(choice_questions, choices) WITH ORDINALITY AS u (q, c, o)
                                     WHERE (q, c) IS DISTINCT FROM (OLD.question, OLD.choice) ORDER BY o),
            choices = ARRAY(SELECT c FROM unnest(choice_questions, choices) WITH ORDINALITY AS u (q, c, o)
                            WHERE (q, c) IS DISTINCT FROM (OLD.question, OLD.choice) ORDER BY o)
        WHERE id = OLD.response_id;
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION 'answer_choices: delete and insert instead of updating' USING ERRCODE = 'feature_not_supported';
    END IF;
    IF NEW.response_id IS NULL OR NEW.question IS NULL OR NEW.choice IS NULL THEN
        RAISE EXCEPTION 'answer_choices: response_id, question and choice are required' USING ERRCODE = 'not_null_violation';
    END IF;
    UPDATE responses
    SET choice_questions = choice_questions || NEW.question, choices = choices || NEW.choice
    WHERE id = NEW.response_id AND NEW.question = ANY (answer_questions)
      AND NOT EXISTS (SELECT 1 FROM unnest(choice_questions, choices) AS u (q, c) WHERE (q, c) = (NEW.question, NEW.choice));
    IF NOT FOUND THEN
        IF EXISTS (SELECT 1 FROM responses r, unnest(r.choice_questions, r.choices) AS u (q, c)
                   WHERE r.id = NEW.response_id AND (q, c) = (NEW.question, NEW.choice)) THEN
            RAISE EXCEPTION 'answer_choices: duplicate choice' USING ERRCODE = 'unique_violation';
        END IF;
        RAISE EXCEPTION 'answer_choices: no answer % of response %', NEW.question, NEW.response_id USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER answers_change INSTEAD OF INSERT OR UPDATE OR DELETE ON answers
    FOR EACH ROW EXECUTE FUNCTION answers_change();
CREATE TRIGGER answer_choices_change INSTEAD OF INSERT OR UPDATE OR DELETE ON answer_choices
    FOR EACH ROW EXECUTE FUNCTION answer_choices_change();

-- ------------------------------------------------------------- rollup

-- The counts some responses contribute, keyed like results_rollup, read
-- from their arrays: each selected choice, and each answer as choice ''.
-- One pass, a hash aggregate over the three groupings at once. Two
-- functions with the same body, so that each keeps a plan of its own: the
-- job's (a few ids, by primary key) and a rebuild's (a period, a scan).
-- +goose StatementBegin
CREATE FUNCTION results_rollup_of(ids text[])
RETURNS TABLE (form text, dim text, dim_value text, municipality_id bigint, day date,
               question text, choice text, n bigint, k bigint)
LANGUAGE sql STABLE AS $$
    SELECT r.form,
           CASE WHEN GROUPING(r.service_id) = 0 THEN 's' WHEN GROUPING(r.language) = 0 THEN 'l' ELSE '-' END,
           CASE WHEN GROUPING(r.service_id) = 0 THEN r.service_id::text WHEN GROUPING(r.language) = 0 THEN r.language ELSE '' END,
           r.municipality_id, (r.completed_at AT TIME ZONE 'Europe/Rome')::date, r.question, r.choice, count(*),
           sum(r.rkey)::bigint
    FROM (SELECT r.form, r.service_id, r.language, r.municipality_id, r.completed_at, r.rkey,
                 unnest(r.choice_questions || r.answer_questions) AS question,
                 unnest(r.choices || array_fill(''::text, ARRAY[cardinality(r.answer_questions)])) AS choice
          FROM responses r
          WHERE r.id = ANY (ids)) AS r
    GROUP BY GROUPING SETS (
        (r.form, r.municipality_id, 5, r.question, r.choice),
        (r.form, r.service_id, r.municipality_id, 5, r.question, r.choice),
        (r.form, r.language, r.municipality_id, 5, r.question, r.choice))
    HAVING NOT (GROUPING(r.service_id) = 0 AND r.service_id IS NULL)
$$;
-- +goose StatementEnd

-- The responses completed in [since, until) (NULL: open): a rebuild goes
-- a month at a time (RebuildRollups), so that each aggregate fits in
-- memory; days are in Italian time, so months cut at Rome midnights give
-- disjoint keys.
-- +goose StatementBegin
CREATE FUNCTION results_rollup_period(since timestamptz, until timestamptz)
RETURNS TABLE (form text, dim text, dim_value text, municipality_id bigint, day date,
               question text, choice text, n bigint, k bigint)
LANGUAGE sql STABLE SET work_mem = '1GB' AS $$
    SELECT r.form,
           CASE WHEN GROUPING(r.service_id) = 0 THEN 's' WHEN GROUPING(r.language) = 0 THEN 'l' ELSE '-' END,
           CASE WHEN GROUPING(r.service_id) = 0 THEN r.service_id::text WHEN GROUPING(r.language) = 0 THEN r.language ELSE '' END,
           r.municipality_id, (r.completed_at AT TIME ZONE 'Europe/Rome')::date, r.question, r.choice, count(*),
           sum(r.rkey)::bigint
    FROM (SELECT r.form, r.service_id, r.language, r.municipality_id, r.completed_at, r.rkey,
                 unnest(r.choice_questions || r.answer_questions) AS question,
                 unnest(r.choices || array_fill(''::text, ARRAY[cardinality(r.answer_questions)])) AS choice
          FROM responses r
          WHERE (since IS NULL OR r.completed_at >= since) AND (until IS NULL OR r.completed_at < until)) AS r
    GROUP BY GROUPING SETS (
        (r.form, r.municipality_id, 5, r.question, r.choice),
        (r.form, r.service_id, r.municipality_id, 5, r.question, r.choice),
        (r.form, r.language, r.municipality_id, 5, r.question, r.choice))
    HAVING NOT (GROUPING(r.service_id) = 0 AND r.service_id IS NULL)
$$;
-- +goose StatementEnd

-- Adds (sign 1) or removes (sign -1) the counts of some stored responses.
-- Rows are locked in key order, so concurrent writers never deadlock.
-- +goose StatementBegin
CREATE FUNCTION results_rollup_add(ids text[], sign integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    i record;
    left_n bigint;
BEGIN
    IF ids IS NULL OR cardinality(ids) = 0 THEN
        RETURN;
    END IF;
    IF sign > 0 THEN
        INSERT INTO results_rollup AS t (form, dim, dim_value, municipality_id, day, question, choice, n, k)
        SELECT x.form, x.dim, x.dim_value, x.municipality_id, x.day, x.question, x.choice, x.n, x.k
        FROM results_rollup_of(ids) x
        ORDER BY 1, 2, 3, 4, 5, 6, 7
        ON CONFLICT (form, dim, dim_value, municipality_id, day, question, choice)
        DO UPDATE SET n = t.n + EXCLUDED.n, k = t.k + EXCLUDED.k;
        RETURN;
    END IF;
    FOR i IN SELECT * FROM results_rollup_of(ids) x ORDER BY 1, 2, 3, 4, 5, 6, 7 LOOP
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

-- The functions of 00004, 00007 and 00011 over the arrays.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION results_rollup_response(id text, sign integer) RETURNS void
LANGUAGE sql AS $$
    SELECT results_rollup_add(ARRAY[id], sign)
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION results_rollup_all()
RETURNS TABLE (form text, dim text, dim_value text, municipality_id bigint, day date,
               question text, choice text, n bigint, k bigint)
LANGUAGE sql STABLE AS $$
    SELECT * FROM results_rollup_period(NULL, NULL)
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION results_rollup_catch_up(lim integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    ids text[];
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
    PERFORM results_rollup_add(ids, 1);
    RETURN cardinality(ids);
END
$$;
-- +goose StatementEnd

-- Each cost an index insert per completed interview. responses_language
-- duplicates responses_results (form, municipality_id, completed_at,
-- which includes the language) for every query /results runs;
-- responses_scope served only the view of one service and one language,
-- which 00015 gives an index of its own.
DROP INDEX responses_scope;
DROP INDEX responses_language;

-- ------------------------------------------------------------- reporting

-- The analysts' row-level views of 00007, unchanged in their columns and
-- rows, over the arrays.
CREATE VIEW reporting.analyst_answers WITH (security_barrier) AS
SELECT r.ref AS response_ref, r.form, a.question, coalesce(g.grp, a.value) AS value, a.value_num
FROM responses r
CROSS JOIN LATERAL unnest(r.answer_questions, r.answer_values, r.answer_nums) AS a (question, value, value_num)
LEFT JOIN reporting.choice_groups g ON (g.form, g.question, g.choice) = (r.form, a.question, a.value)
WHERE (r.completed_at AT TIME ZONE 'Europe/Rome')::date < reporting.today()
  AND r.municipality_id IN (SELECT id FROM reporting.my_municipalities)
  AND (a.value_num IS NOT NULL OR a.question = ANY (r.choice_questions))
  -- a grouped question never shows its ungrouped choices
  AND (g.grp IS NOT NULL OR NOT EXISTS (SELECT 1 FROM reporting.choice_groups x WHERE (x.form, x.question) = (r.form, a.question)));

CREATE VIEW reporting.analyst_answer_choices WITH (security_barrier) AS
SELECT DISTINCT r.ref AS response_ref, r.form, c.question, coalesce(g.grp, c.choice) AS choice,
       CASE WHEN g.grp IS NULL THEN it.label END AS label_it, CASE WHEN g.grp IS NULL THEN en.label END AS label_en
FROM responses r
CROSS JOIN LATERAL unnest(r.choice_questions, r.choices) AS c (question, choice)
LEFT JOIN reporting.choice_groups g ON (g.form, g.question, g.choice) = (r.form, c.question, c.choice)
LEFT JOIN reporting.labels it ON (it.form, it.question, it.choice, it.lang) = (r.form, c.question, c.choice, 'it')
LEFT JOIN reporting.labels en ON (en.form, en.question, en.choice, en.lang) = (r.form, c.question, c.choice, 'en')
WHERE (r.completed_at AT TIME ZONE 'Europe/Rome')::date < reporting.today()
  AND r.municipality_id IN (SELECT id FROM reporting.my_municipalities)
  AND (g.grp IS NOT NULL OR NOT EXISTS (SELECT 1 FROM reporting.choice_groups x WHERE (x.form, x.question) = (r.form, c.question)));

-- Grants as in 00007 and 00011 (guarded: see docs/bi.md).
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'needsbot_analyst') THEN
        GRANT SELECT ON reporting.analyst_answers, reporting.analyst_answer_choices TO needsbot_analyst;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'needsbot_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON answers, answer_choices TO needsbot_app;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'views of 00014 not granted: see docs/bi.md and docs/privacy.en.md, "Database roles"';
END
$$;
-- +goose StatementEnd

-- +goose Down

-- Back to one row per answer and per choice (and the functions of 00011
-- that read them, which still exist under their names: the views go, the
-- tables come back with the same names).
DROP VIEW reporting.analyst_answers;
DROP VIEW reporting.analyst_answer_choices;
DROP VIEW answer_choices;
DROP VIEW answers;
DROP FUNCTION answers_change();
DROP FUNCTION answer_choices_change();

CREATE TABLE answers (
    response_id  text NOT NULL REFERENCES responses (id) ON DELETE CASCADE ON UPDATE CASCADE,
    question     text NOT NULL,
    value        text NOT NULL,
    value_num    numeric,
    PRIMARY KEY (response_id, question)
);
CREATE INDEX answers_question_value ON answers (question, value);
CREATE TABLE answer_choices (
    response_id  text NOT NULL,
    question     text NOT NULL,
    choice       text NOT NULL,
    PRIMARY KEY (response_id, question, choice),
    FOREIGN KEY (response_id, question) REFERENCES answers (response_id, question) ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX answer_choices_question_choice ON answer_choices (question, choice);
INSERT INTO answers (response_id, question, value, value_num)
SELECT r.id, x.q, x.v, x.n FROM responses r, unnest(r.answer_questions, r.answer_values, r.answer_nums) AS x (q, v, n);
INSERT INTO answer_choices (response_id, question, choice)
SELECT r.id, x.q, x.c FROM responses r, unnest(r.choice_questions, r.choices) AS x (q, c);

CREATE INDEX responses_scope ON responses (form, municipality_id, service_id, completed_at);
CREATE INDEX responses_language ON responses (form, language, completed_at);

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION results_rollup_response(id text, sign integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    rids text[];
    qs text[];
    cs text[];
BEGIN
    SELECT array_agg(c.response_id), array_agg(c.question), array_agg(c.choice) INTO rids, qs, cs
    FROM answer_choices c WHERE c.response_id = id;
    PERFORM results_rollup_apply(rids, qs, cs, sign);
    SELECT array_agg(a.response_id), array_agg(a.question) INTO rids, qs
    FROM answers a WHERE a.response_id = id;
    PERFORM results_rollup_apply(rids, qs, NULL, sign);
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION results_rollup_all()
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
CREATE OR REPLACE FUNCTION results_rollup_catch_up(lim integer) RETURNS integer
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

DROP FUNCTION results_rollup_add(text[], integer);
DROP FUNCTION results_rollup_of(text[]);
DROP FUNCTION results_rollup_period(timestamptz, timestamptz);

CREATE VIEW reporting.analyst_answers WITH (security_barrier) AS
SELECT r.ref AS response_ref, r.form, a.question, coalesce(g.grp, a.value) AS value, a.value_num
FROM answers a
JOIN responses r ON r.id = a.response_id
LEFT JOIN reporting.choice_groups g ON (g.form, g.question, g.choice) = (r.form, a.question, a.value)
WHERE (r.completed_at AT TIME ZONE 'Europe/Rome')::date < reporting.today()
  AND r.municipality_id IN (SELECT id FROM reporting.my_municipalities)
  AND (a.value_num IS NOT NULL
       OR EXISTS (SELECT 1 FROM answer_choices c WHERE c.response_id = a.response_id AND c.question = a.question))
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
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'needsbot_analyst') THEN
        GRANT SELECT ON reporting.analyst_answers, reporting.analyst_answer_choices TO needsbot_analyst;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'needsbot_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON answers, answer_choices TO needsbot_app;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'tables of 00014 Down not granted';
END
$$;
-- +goose StatementEnd

ALTER TABLE responses RESET (toast_tuple_target);
ALTER TABLE responses
    DROP CONSTRAINT responses_answers_parallel,
    DROP COLUMN choices, DROP COLUMN choice_questions,
    DROP COLUMN answer_nums, DROP COLUMN answer_values, DROP COLUMN answer_questions;
