-- The pilot municipalities of the methodology and the services where their
-- respondents are typically met. Further ones are added by admins.

-- +goose Up
INSERT INTO municipalities (istat_code, name) VALUES
    ('058091', 'Roma'),
    ('015146', 'Milano'),
    ('100005', 'Prato');

INSERT INTO services (municipality_id, code, name)
SELECT m.id, s.code, s.name
FROM municipalities m
CROSS JOIN (VALUES
    ('sportello_immigrati', 'Sportello immigrati'),
    ('anagrafe',            'Anagrafe'),
    ('servizi_sociali',     'Servizi sociali'),
    ('corso_italiano',      'Corso di italiano'),
    ('centro_impiego',      'Centro per l''impiego')
) AS s (code, name)
WHERE m.istat_code IN ('058091', '015146', '100005')
ORDER BY m.id, s.code;
