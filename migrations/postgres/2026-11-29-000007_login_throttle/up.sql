-- Login throttle per normalised e-mail, known account or not, so an unknown address is
-- answered exactly like a known one and instances sharing the database share the count.
-- `key_hash` is an HMAC of the normalised e-mail under a key derived from the token secret:
-- no plain address is stored, and the table alone does not confirm a guessed one.
-- `failures` counts attempts reserved before the password is verified (a success deletes
-- the row); rows untouched for a day are forgotten (see `updated_at`).
CREATE TABLE login_throttle (
    key_hash TEXT PRIMARY KEY NOT NULL,
    failures INTEGER NOT NULL,
    locked_until BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX login_throttle_updated_at ON login_throttle(updated_at);
