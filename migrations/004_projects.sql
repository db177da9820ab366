-- Projects: one PostgreSQL holds many teams' projects. Suites and targets
-- belong to a project (their names are unique within it), so baselines,
-- history, alerts and the dashboard never mix projects. Everything stored
-- before projects belongs to the project "default".

CREATE TABLE projects (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO projects (name) VALUES ('default');

ALTER TABLE suites ADD COLUMN project_id bigint REFERENCES projects (id) ON DELETE CASCADE;
UPDATE suites SET project_id = (SELECT id FROM projects WHERE name = 'default');
ALTER TABLE suites ALTER COLUMN project_id SET NOT NULL;
ALTER TABLE suites DROP CONSTRAINT suites_name_key;
ALTER TABLE suites ADD CONSTRAINT suites_project_name_key UNIQUE (project_id, name);

ALTER TABLE targets ADD COLUMN project_id bigint REFERENCES projects (id) ON DELETE CASCADE;
UPDATE targets SET project_id = (SELECT id FROM projects WHERE name = 'default');
ALTER TABLE targets ALTER COLUMN project_id SET NOT NULL;
ALTER TABLE targets DROP CONSTRAINT targets_name_key;
ALTER TABLE targets ADD CONSTRAINT targets_project_name_key UNIQUE (project_id, name);

---- create above / drop below ----

ALTER TABLE targets DROP CONSTRAINT targets_project_name_key;
ALTER TABLE targets ADD CONSTRAINT targets_name_key UNIQUE (name);
ALTER TABLE targets DROP COLUMN project_id;
ALTER TABLE suites DROP CONSTRAINT suites_project_name_key;
ALTER TABLE suites ADD CONSTRAINT suites_name_key UNIQUE (name);
ALTER TABLE suites DROP COLUMN project_id;
DROP TABLE projects;
