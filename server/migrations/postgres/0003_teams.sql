-- The teams each agent belongs to (`[[teams]]` ids of the config), as
-- SQLite's 0007. An agent in no team, with `[[teams]]` configured, serves
-- no app.
CREATE TABLE agent_teams (
    agent_id  TEXT NOT NULL REFERENCES agents (id),
    team_id   TEXT NOT NULL,
    PRIMARY KEY (agent_id, team_id)
);
CREATE INDEX agent_teams_team ON agent_teams (team_id);
