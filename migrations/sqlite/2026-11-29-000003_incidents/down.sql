DROP TABLE incident_updates;
DROP TABLE incidents;
DROP TABLE security_actions;
DROP TABLE settings;
