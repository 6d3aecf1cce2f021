-- A signed-in browser of the console or portal. `id` is the SHA-256 of the cookie's random
-- token, so a copy of the table signs nobody in. The session holds only while the user's
-- token version and the token-key generation are those it was opened with (so every API
-- revocation ends it too), 30 min after `last_seen_at` and 12 h after `created_at`.
CREATE TABLE browser_sessions (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id),
    csrf_token TEXT NOT NULL,
    token_version INTEGER NOT NULL,
    token_generation BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE INDEX browser_sessions_user ON browser_sessions(user_id);
