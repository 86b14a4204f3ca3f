-- Keys of this installation (issue 19): `person` keys the hash that stands for a natural
-- person in the credit file (subject::PersonKey), so the subject key reveals nothing of the
-- ID number without it. Made once by the first instance that needs it, shared by the others.
CREATE TABLE install_keys (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
