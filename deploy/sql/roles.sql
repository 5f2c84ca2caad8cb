-- Mercato on an external PostgreSQL (>= 15): run once as a superuser, e.g.
--   psql "postgresql://postgres@db.internal:5432/postgres" -v app_pw="'…'" -v owner_pw="'…'" -v worker_pw="'…'" -f deploy/sql/roles.sql
-- then set
--   MERCATO_DATABASE_URL=postgresql://mercato_app:…@db.internal:5432/mercato          (API: owns nothing, RLS applies)
--   MERCATO_DATABASE_OWNER_URL=postgresql://mercato_owner:…@db.internal:5432/mercato  (migrations)
--   MERCATO_DATABASE_WORKER_URL=postgresql://mercato_worker:…@db.internal:5432/mercato (outbox relay)
-- and run `mercato migrate`. (`mercato.platform.embedded.provision()` does the same from code.)

CREATE ROLE mercato_owner  LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD :owner_pw;
CREATE ROLE mercato_app    LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD :app_pw;
CREATE ROLE mercato_worker LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD :worker_pw;

CREATE DATABASE mercato OWNER mercato_owner ENCODING 'UTF8' TEMPLATE template0;
GRANT CONNECT ON DATABASE mercato TO mercato_app, mercato_worker;

\connect mercato
ALTER SCHEMA public OWNER TO mercato_owner;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO mercato_app, mercato_worker;
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS unaccent;
-- Under forced row-level security PostgreSQL only uses an index for a predicate whose function is
-- LEAKPROOF; these built-ins raise no data-dependent errors. Without this, product search scans.
ALTER FUNCTION ts_match_vq(tsvector, tsquery) LEAKPROOF;
ALTER FUNCTION jsonb_contains(jsonb, jsonb) LEAKPROOF;
ALTER FUNCTION arraycontains(anyarray, anyarray) LEAKPROOF;
ALTER FUNCTION word_similarity_op(text, text) LEAKPROOF;
-- Table privileges are granted by the migrations themselves, table by table:
-- tenant tables get FORCED row-level security; the audit log is INSERT/SELECT only.
