-- Results for municipal planning: a rollup of choice counts that keeps
-- /results fast on millions of responses, and read-only views in a
-- `reporting` schema for BI tools (Metabase, Superset) with a read-only
-- role, needsbot_reader. docs/bi.md documents both.

-- +goose Up

-- Results are counted by calendar day in Italian time: "the last 7 days"
-- starts at midnight in Rome, so that the rollup's days and a direct count
-- over responses.completed_at give the same numbers.

-- results_rollup counts, per questionnaire, municipality and day, how many
-- responses chose each choice of each select question (choice <> '') and
-- how many answered each question at all (choice = ''). Each count exists
-- three times: for every response (dim '-', dim_value ''), per service
-- (dim 's', dim_value = services.id) and per interview language (dim 'l',
-- dim_value = language), so that /results, filtered by one of them or not,
-- reads a few thousand rows instead of joining millions of answers.
-- Triggers keep it exact: inserts of answers and answer_choices add,
-- deletes and scope changes of responses subtract.
-- (*DB).RebuildRollups recomputes it.
-- Its keys are ASCII codes: the "C" collation compares them bytewise,
-- which makes the upserts of the triggers several times faster.
CREATE TABLE results_rollup (
    form             text COLLATE "C" NOT NULL,
    dim              text COLLATE "C" NOT NULL CHECK (dim IN ('-', 's', 'l')),
    dim_value        text COLLATE "C" NOT NULL,
    municipality_id  bigint NOT NULL,
    day              date NOT NULL,
    question         text COLLATE "C" NOT NULL,
    choice           text COLLATE "C" NOT NULL,
    n                bigint NOT NULL,
    PRIMARY KEY (form, dim, dim_value, municipality_id, day, question, choice)
);

-- The counts that a set of rows contributes, keyed like results_rollup:
-- answer_choices rows given as three parallel arrays, or answers rows
-- (cs NULL: they count as choice ''). Their responses must be stored. One
-- pass: a hash aggregate over the three groupings at once.
-- +goose StatementBegin
CREATE FUNCTION results_rollup_items(rids text[], qs text[], cs text[])
RETURNS TABLE (form text, dim text, dim_value text, municipality_id bigint, day date,
               question text, choice text, n bigint)
LANGUAGE sql STABLE AS $$
    SELECT r.form,
           CASE WHEN GROUPING(r.service_id) = 0 THEN 's' WHEN GROUPING(r.language) = 0 THEN 'l' ELSE '-' END,
           CASE WHEN GROUPING(r.service_id) = 0 THEN r.service_id::text WHEN GROUPING(r.language) = 0 THEN r.language ELSE '' END,
           r.municipality_id, (r.completed_at AT TIME ZONE 'Europe/Rome')::date, x.question, x.choice, count(*)
    FROM unnest(rids, qs, coalesce(cs, array_fill(''::text, ARRAY[cardinality(rids)]))) AS x (response_id, question, choice)
    JOIN responses r ON r.id = x.response_id
    GROUP BY GROUPING SETS (
        (r.form, r.municipality_id, 5, x.question, x.choice),
        (r.form, r.service_id, r.municipality_id, 5, x.question, x.choice),
        (r.form, r.language, r.municipality_id, 5, x.question, x.choice))
    HAVING NOT (GROUPING(r.service_id) = 0 AND r.service_id IS NULL)
$$;
-- +goose StatementEnd

-- The same over everything stored: what results_rollup must equal. The
-- migration fills the rollup with it, (*DB).RebuildRollups refills it and
-- the tests compare.
-- +goose StatementBegin
CREATE FUNCTION results_rollup_all()
RETURNS TABLE (form text, dim text, dim_value text, municipality_id bigint, day date,
               question text, choice text, n bigint)
LANGUAGE sql STABLE SET work_mem = '1GB' AS $$
    SELECT r.form,
           CASE WHEN GROUPING(r.service_id) = 0 THEN 's' WHEN GROUPING(r.language) = 0 THEN 'l' ELSE '-' END,
           CASE WHEN GROUPING(r.service_id) = 0 THEN r.service_id::text WHEN GROUPING(r.language) = 0 THEN r.language ELSE '' END,
           r.municipality_id, (r.completed_at AT TIME ZONE 'Europe/Rome')::date, x.question, x.choice, count(*)
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

-- Adds (sign 1) or removes (sign -1) the counts of a set of rows (as for
-- results_rollup_items). Rows are locked in key order, so concurrent
-- writers never deadlock.
-- +goose StatementBegin
CREATE FUNCTION results_rollup_apply(rids text[], qs text[], cs text[], sign integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    i record;
    left_n bigint;
BEGIN
    IF rids IS NULL OR cardinality(rids) = 0 THEN
        RETURN;
    END IF;
    IF sign > 0 THEN
        INSERT INTO results_rollup AS t (form, dim, dim_value, municipality_id, day, question, choice, n)
        SELECT x.form, x.dim, x.dim_value, x.municipality_id, x.day, x.question, x.choice, x.n
        FROM results_rollup_items(rids, qs, cs) x
        ORDER BY 1, 2, 3, 4, 5, 6, 7
        ON CONFLICT (form, dim, dim_value, municipality_id, day, question, choice)
        DO UPDATE SET n = t.n + EXCLUDED.n;
        RETURN;
    END IF;
    FOR i IN SELECT * FROM results_rollup_items(rids, qs, cs) x ORDER BY 1, 2, 3, 4, 5, 6, 7 LOOP
        UPDATE results_rollup t SET n = t.n - i.n
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

-- New answers and choices (a completed response, a bulk COPY): add their
-- counts, once per statement. Their responses are visible: SaveResponse
-- inserts them in the same statement, a COPY earlier in the same
-- transaction. A transaction that sets needsbot.rollup to 'off' (a bulk
-- load that calls RebuildRollups after) skips this.
-- +goose StatementBegin
CREATE FUNCTION results_rollup_on_choices() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    rids text[];
    qs text[];
    cs text[];
BEGIN
    IF current_setting('needsbot.rollup', true) = 'off' THEN
        RETURN NULL;
    END IF;
    SELECT array_agg(response_id), array_agg(question), array_agg(choice) INTO rids, qs, cs FROM new_rows;
    PERFORM results_rollup_apply(rids, qs, cs, 1);
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION results_rollup_on_answers() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    rids text[];
    qs text[];
BEGIN
    IF current_setting('needsbot.rollup', true) = 'off' THEN
        RETURN NULL;
    END IF;
    SELECT array_agg(response_id), array_agg(question) INTO rids, qs FROM new_rows;
    PERFORM results_rollup_apply(rids, qs, NULL, 1);
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER results_rollup_choices
    AFTER INSERT ON answer_choices
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION results_rollup_on_choices();
CREATE TRIGGER results_rollup_answers
    AFTER INSERT ON answers
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION results_rollup_on_answers();

-- The counts of one stored response, added or removed.
-- +goose StatementBegin
CREATE FUNCTION results_rollup_response(id text, sign integer) RETURNS void
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

-- A deleted response (erasure) takes its counts with it, BEFORE, while its
-- answers still exist; a response whose scope changes moves them (removed
-- before the update, added after).
-- +goose StatementBegin
CREATE FUNCTION results_rollup_before() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM results_rollup_response(OLD.id, -1);
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION results_rollup_after() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM results_rollup_response(NEW.id, 1);
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER results_rollup_delete
    BEFORE DELETE ON responses
    FOR EACH ROW EXECUTE FUNCTION results_rollup_before();
CREATE TRIGGER results_rollup_update_before
    BEFORE UPDATE OF form, municipality_id, service_id, language, completed_at ON responses
    FOR EACH ROW
    WHEN ((OLD.form, OLD.municipality_id, OLD.service_id, OLD.language, OLD.completed_at)
          IS DISTINCT FROM (NEW.form, NEW.municipality_id, NEW.service_id, NEW.language, NEW.completed_at))
    EXECUTE FUNCTION results_rollup_before();
CREATE TRIGGER results_rollup_update_after
    AFTER UPDATE OF form, municipality_id, service_id, language, completed_at ON responses
    FOR EACH ROW
    WHEN ((OLD.form, OLD.municipality_id, OLD.service_id, OLD.language, OLD.completed_at)
          IS DISTINCT FROM (NEW.form, NEW.municipality_id, NEW.service_id, NEW.language, NEW.completed_at))
    EXECUTE FUNCTION results_rollup_after();

-- Whatever was stored before this migration.
INSERT INTO results_rollup (form, dim, dim_value, municipality_id, day, question, choice, n)
SELECT * FROM results_rollup_all();

-- /results counts responses, their languages and median duration from an
-- index alone; exports read them in municipality and time order.
CREATE INDEX responses_results ON responses (form, municipality_id, completed_at)
    INCLUDE (service_id, language, duration_s);
-- The funnel groups abandoned interviews by the last question reached.
CREATE INDEX abandoned_results ON abandoned (form, municipality_id, abandoned_at)
    INCLUDE (service_id, language, last_question);

-- ------------------------------------------------------------- reporting

CREATE SCHEMA reporting;
COMMENT ON SCHEMA reporting IS
    'Read-only views of needsbot results for BI tools (docs/bi.md). No respondent pseudonyms, no invite tokens, no free text.';

-- Which login roles may see which municipalities through the views: a row
-- with municipality_id NULL sees every municipality. Roles that are not
-- members of needsbot_reader (the application, administrators) see all.
CREATE TABLE reporting.access (
    role_name        text NOT NULL,
    municipality_id  bigint REFERENCES municipalities (id)
);
CREATE UNIQUE INDEX reporting_access_unique ON reporting.access (role_name, coalesce(municipality_id, 0));

-- Questions of every questionnaire version, and the labels of questions
-- and choices in the staff languages: filled from the questionnaires and
-- locales/ each time needsbot starts (labels live in the message files, not
-- in the database). choice = '' is the question's own label.
CREATE TABLE reporting.questions (
    form      text NOT NULL,
    question  text NOT NULL,
    position  integer NOT NULL,
    type      text NOT NULL,
    list      text NOT NULL DEFAULT '',
    section   text NOT NULL DEFAULT '',
    PRIMARY KEY (form, question)
);
CREATE TABLE reporting.labels (
    form      text NOT NULL,
    question  text NOT NULL,
    choice    text NOT NULL,
    lang      text NOT NULL,
    label     text NOT NULL,
    PRIMARY KEY (form, question, choice, lang)
);

-- True when the current user reaches the tables through needsbot_reader
-- (and so sees only the municipalities granted in reporting.access).
-- +goose StatementBegin
CREATE FUNCTION reporting.is_reader() RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'needsbot_reader') THEN
        RETURN false;
    END IF;
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        RETURN false;
    END IF;
    RETURN pg_has_role(current_user, 'needsbot_reader', 'MEMBER');
END
$$;
-- +goose StatementEnd

-- The municipalities the current user may see.
CREATE VIEW reporting.my_municipalities WITH (security_barrier) AS
SELECT m.id
FROM municipalities m
WHERE NOT reporting.is_reader()
   OR EXISTS (
        SELECT 1 FROM reporting.access a JOIN pg_roles ro ON ro.rolname = a.role_name
        WHERE pg_has_role(current_user, ro.oid, 'MEMBER')
          AND (a.municipality_id IS NULL OR a.municipality_id = m.id));

CREATE VIEW reporting.municipalities WITH (security_barrier) AS
SELECT m.id AS municipality_id, m.istat_code, m.name
FROM municipalities m
WHERE m.id IN (SELECT id FROM reporting.my_municipalities);

CREATE VIEW reporting.services WITH (security_barrier) AS
SELECT s.id AS service_id, s.municipality_id, s.code, s.name
FROM services s
WHERE s.municipality_id IN (SELECT id FROM reporting.my_municipalities);

-- One row per completed interview; no pseudonym, operator or invite token.
CREATE VIEW reporting.responses WITH (security_barrier) AS
SELECT r.id AS response_id, r.form, r.form_version,
       r.municipality_id, m.istat_code, m.name AS municipality,
       r.service_id, s.code AS service,
       r.language, r.languages, r.consent_version,
       r.started_at, r.completed_at, r.duration_s,
       (r.completed_at AT TIME ZONE 'Europe/Rome')::date AS completed_day
FROM responses r
JOIN municipalities m ON m.id = r.municipality_id
LEFT JOIN services s ON s.id = r.service_id
WHERE r.municipality_id IN (SELECT id FROM reporting.my_municipalities);

-- Answers in language-neutral codes, without free text: only numbers and
-- answers made of choices (free text can hold anything a respondent typed).
CREATE VIEW reporting.answers WITH (security_barrier) AS
SELECT a.response_id, r.form, a.question, a.value, a.value_num
FROM answers a
JOIN responses r ON r.id = a.response_id
WHERE r.municipality_id IN (SELECT id FROM reporting.my_municipalities)
  AND (a.value_num IS NOT NULL
       OR EXISTS (SELECT 1 FROM answer_choices c WHERE c.response_id = a.response_id AND c.question = a.question));

-- One row per selected choice, with its Italian and English labels.
CREATE VIEW reporting.answer_choices WITH (security_barrier) AS
SELECT c.response_id, r.form, c.question, c.choice,
       it.label AS label_it, en.label AS label_en
FROM answer_choices c
JOIN responses r ON r.id = c.response_id
LEFT JOIN reporting.labels it ON (it.form, it.question, it.choice, it.lang) = (r.form, c.question, c.choice, 'it')
LEFT JOIN reporting.labels en ON (en.form, en.question, en.choice, en.lang) = (r.form, c.question, c.choice, 'en')
WHERE r.municipality_id IN (SELECT id FROM reporting.my_municipalities);

-- Counts per questionnaire, municipality, day, question and choice (from
-- the rollup: fast), with how many answered the question that day.
CREATE VIEW reporting.choice_counts WITH (security_barrier) AS
SELECT t.form, t.municipality_id, m.istat_code, m.name AS municipality, t.day,
       t.question, t.choice, t.n AS responses, q.n AS answered,
       it.label AS label_it, en.label AS label_en
FROM results_rollup t
JOIN municipalities m ON m.id = t.municipality_id
JOIN results_rollup q ON (q.form, q.dim, q.dim_value, q.municipality_id, q.day, q.question, q.choice)
                       = (t.form, t.dim, t.dim_value, t.municipality_id, t.day, t.question, '')
LEFT JOIN reporting.labels it ON (it.form, it.question, it.choice, it.lang) = (t.form, t.question, t.choice, 'it')
LEFT JOIN reporting.labels en ON (en.form, en.question, en.choice, en.lang) = (t.form, t.question, t.choice, 'en')
WHERE t.dim = '-' AND t.choice <> ''
  AND t.municipality_id IN (SELECT id FROM reporting.my_municipalities);

-- The need areas (the shared `aree` list): immigrants' priorities next to
-- what operators see requested and cannot meet, per municipality and day.
CREATE VIEW reporting.area_counts WITH (security_barrier) AS
SELECT c.form, c.municipality_id, c.istat_code, c.municipality, c.day,
       c.question, c.choice AS area, c.responses, c.answered, c.label_it, c.label_en
FROM reporting.choice_counts c
JOIN reporting.questions q ON (q.form, q.question) = (c.form, c.question)
WHERE q.list = 'aree';

-- Where interviews were abandoned (never what was answered).
CREATE VIEW reporting.abandoned WITH (security_barrier) AS
SELECT a.form, a.form_version, a.municipality_id, m.istat_code, m.name AS municipality,
       a.service_id, s.code AS service, a.language, a.last_question,
       a.started_at, a.abandoned_at, (a.abandoned_at AT TIME ZONE 'Europe/Rome')::date AS abandoned_day
FROM abandoned a
JOIN municipalities m ON m.id = a.municipality_id
LEFT JOIN services s ON s.id = a.service_id
WHERE a.municipality_id IN (SELECT id FROM reporting.my_municipalities);

-- The read-only role. Roles are shared by every database of the server, so
-- it may exist already (another needsbot database, a concurrent migration);
-- a migrating user without CREATEROLE skips it and docs/bi.md says how an
-- administrator creates it later (the GRANTs below are then repeated there).
-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'needsbot_reader') THEN
        BEGIN
            CREATE ROLE needsbot_reader NOLOGIN;
        EXCEPTION
            WHEN duplicate_object OR unique_violation THEN NULL;
            WHEN insufficient_privilege THEN
                RAISE NOTICE 'needsbot_reader not created (no CREATEROLE privilege): see docs/bi.md';
        END;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'needsbot_reader') THEN
        GRANT USAGE ON SCHEMA reporting TO needsbot_reader;
        GRANT SELECT ON reporting.municipalities, reporting.services, reporting.responses,
            reporting.answers, reporting.answer_choices, reporting.choice_counts,
            reporting.area_counts, reporting.abandoned, reporting.questions, reporting.labels
            TO needsbot_reader;
    END IF;
END
$$;
-- +goose StatementEnd
