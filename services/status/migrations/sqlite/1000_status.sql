-- The status index: one row per card a review service published. Nothing in it is
-- personal data in clear; store.rs alone reads and writes it.
CREATE TABLE cards (
    card_id BLOB NOT NULL PRIMARY KEY,
    -- Blind index (HMAC under the index key) of "citizen id|normalised name|validity
    -- start" as printed on the card: what VerifyCard looks a card up by. One card per
    -- key: when two cards share the printed data, the one that supersedes the other is
    -- kept (store/cards.rs).
    verification_key BLOB NOT NULL UNIQUE,
    -- Blind index of the citizen id alone.
    citizen_id_index BLOB NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'reported_lost', 'invalidated')),
    -- YYYY-MM-DD, China Standard Time; NULL for a long-term card.
    validity_end TEXT,
    -- The review service (a peer name) that issued the card: found-card notices go there.
    issuer TEXT NOT NULL,
    -- The change time in ms the review service gave it; an older one is ignored.
    version INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
);
CREATE INDEX cards_citizen_id_index ON cards (citizen_id_index);

-- The found-card register.
CREATE TABLE found_cards (
    found_card_id BLOB NOT NULL PRIMARY KEY,
    -- Blind index of the citizen id printed on the card: the owner's query looks it up.
    citizen_id_index BLOB NOT NULL,
    -- Where it was found and where the owner collects it: free text, sealed (data key)
    -- and bound to the row.
    found_at_sealed BLOB NOT NULL,
    collect_at_sealed BLOB NOT NULL,
    -- The data key both are sealed under, for the re-sealer.
    data_key_id TEXT NOT NULL,
    -- The acceptance point (station) that registered it.
    station_code TEXT NOT NULL,
    -- The known card it matched, if any (its issuer was told).
    matched_card_id BLOB,
    registered_at_ms INTEGER NOT NULL
);
CREATE INDEX found_cards_citizen ON found_cards (citizen_id_index, registered_at_ms);
CREATE INDEX found_cards_data_key ON found_cards (data_key_id);

-- Every VerifyCard answer: who asked (the token subject), when, and the answer; nothing
-- of what was asked. Written in batches by a background writer (verification.rs).
CREATE TABLE verifications (
    verification_id BLOB NOT NULL PRIMARY KEY,
    verifier TEXT NOT NULL,
    answer TEXT NOT NULL CHECK (answer IN ('valid', 'reported_lost', 'invalidated', 'no_match', 'invalid_argument')),
    at_ms INTEGER NOT NULL
);
CREATE INDEX verifications_verifier ON verifications (verifier, at_ms);
