-- /results under a second on 1,000,000 interviews (issue 19), measured on a
-- seeded database (docs/performance.md):
--
-- 1. The rollup also counts the interviews themselves: question '' and
--    choice '' is the number of completed interviews (and their key sum)
--    per day, municipality and service or language. The release batches of
--    /results (ResultsDays) read their days from it instead of counting a
--    million index entries per view.
-- 2. The reminder funnel reads reminded interviews only, from partial
--    indexes that hold them (a few per cent of the rows) instead of the
--    whole table (the flags are in no other index).
-- 3. A view of one service and one language (not in the rollup) is
--    counted from the responses: an index finds them without reading the
--    whole table (it replaces responses_scope, dropped in 00014).
-- 4. The rollup job updates today's rollup rows every minute: n and k are
--    in no index, so an update can stay on its page (a HOT update, no new
--    primary-key entry) when the page has room. A third of every new page
--    is left free for that.

-- +goose Up

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION results_rollup_of(ids text[])
RETURNS TABLE (form text, dim text, dim_value text, municipality_id bigint, day date,
               question text, choice text, n bigint, k bigint)
LANGUAGE sql STABLE AS $$
    SELECT r.form,
           CASE WHEN GROUPING(r.service_id) = 0 THEN 's' WHEN GROUPING(r.language) = 0 THEN 'l' ELSE '-' END,
           CASE WHEN GROUPING(r.service_id) = 0 THEN r.service_id::text WHEN GROUPING(r.language) = 0 THEN r.language ELSE '' END,
           r.municipality_id, (r.completed_at AT TIME ZONE 'Europe/Rome')::date, r.question, r.choice, count(*),
           sum(r.rkey)::bigint
    FROM (SELECT r.form, r.service_id, r.language, r.municipality_id, r.completed_at, r.rkey,
                 unnest(r.choice_questions || r.answer_questions || ''::text) AS question,
                 unnest(r.choices || array_fill(''::text, ARRAY[cardinality(r.answer_questions) + 1])) AS choice
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
CREATE OR REPLACE FUNCTION results_rollup_period(since timestamptz, until timestamptz)
RETURNS TABLE (form text, dim text, dim_value text, municipality_id bigint, day date,
               question text, choice text, n bigint, k bigint)
LANGUAGE sql STABLE SET work_mem = '1GB' AS $$
    SELECT r.form,
           CASE WHEN GROUPING(r.service_id) = 0 THEN 's' WHEN GROUPING(r.language) = 0 THEN 'l' ELSE '-' END,
           CASE WHEN GROUPING(r.service_id) = 0 THEN r.service_id::text WHEN GROUPING(r.language) = 0 THEN r.language ELSE '' END,
           r.municipality_id, (r.completed_at AT TIME ZONE 'Europe/Rome')::date, r.question, r.choice, count(*),
           sum(r.rkey)::bigint
    FROM (SELECT r.form, r.service_id, r.language, r.municipality_id, r.completed_at, r.rkey,
                 unnest(r.choice_questions || r.answer_questions || ''::text) AS question,
                 unnest(r.choices || array_fill(''::text, ARRAY[cardinality(r.answer_questions) + 1])) AS choice
          FROM responses r
          WHERE (since IS NULL OR r.completed_at >= since) AND (until IS NULL OR r.completed_at < until)) AS r
    GROUP BY GROUPING SETS (
        (r.form, r.municipality_id, 5, r.question, r.choice),
        (r.form, r.service_id, r.municipality_id, 5, r.question, r.choice),
        (r.form, r.language, r.municipality_id, 5, r.question, r.choice))
    HAVING NOT (GROUPING(r.service_id) = 0 AND r.service_id IS NULL)
$$;
-- +goose StatementEnd

-- The interviews counted so far (not those still pending: the job adds
-- them with the rest of their counts).
INSERT INTO results_rollup (form, dim, dim_value, municipality_id, day, question, choice, n, k)
SELECT r.form,
       CASE WHEN GROUPING(r.service_id) = 0 THEN 's' WHEN GROUPING(r.language) = 0 THEN 'l' ELSE '-' END,
       CASE WHEN GROUPING(r.service_id) = 0 THEN r.service_id::text WHEN GROUPING(r.language) = 0 THEN r.language ELSE '' END,
       r.municipality_id, (r.completed_at AT TIME ZONE 'Europe/Rome')::date, '', '', count(*), sum(r.rkey)::bigint
FROM responses r
WHERE NOT EXISTS (SELECT 1 FROM results_rollup_pending p WHERE p.response_id = r.id)
GROUP BY GROUPING SETS (
    (r.form, r.municipality_id, 5),
    (r.form, r.service_id, r.municipality_id, 5),
    (r.form, r.language, r.municipality_id, 5))
HAVING NOT (GROUPING(r.service_id) = 0 AND r.service_id IS NULL);

CREATE INDEX responses_reminded ON responses (form, municipality_id, completed_at)
    INCLUDE (service_id, language, resumed, rkey) WHERE reminded;
CREATE INDEX abandoned_reminded ON abandoned (form, municipality_id, abandoned_at)
    INCLUDE (service_id, language, resumed, rkey) WHERE reminded;

CREATE INDEX responses_service_language ON responses (form, municipality_id, service_id, language, completed_at);

ALTER TABLE results_rollup SET (fillfactor = 70);

-- +goose Down

DROP INDEX responses_service_language;
ALTER TABLE results_rollup RESET (fillfactor);
DROP INDEX abandoned_reminded;
DROP INDEX responses_reminded;
DELETE FROM results_rollup WHERE question = '';
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION results_rollup_of(ids text[])
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
CREATE OR REPLACE FUNCTION results_rollup_period(since timestamptz, until timestamptz)
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

