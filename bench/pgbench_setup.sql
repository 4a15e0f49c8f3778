-- Random (incompressible) bytes of a given length, standing in for AES-GCM sealed values.
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE OR REPLACE FUNCTION bench_bytes(n integer) RETURNS bytea LANGUAGE sql VOLATILE AS $$
    SELECT coalesce(string_agg(gen_random_bytes(least(1024, n - g)), ''::bytea), ''::bytea)
    FROM generate_series(0, n - 1, 1024) AS g
$$;
