#include "migrations.h"

/* Version 1: call log in crm_comms_log, customer matching, dead letters. */
static const char v1[] =
    "CREATE TABLE IF NOT EXISTS crm_customers (\n"
    "  id bigserial PRIMARY KEY,\n"
    "  name text NOT NULL,\n"
    "  phone_e164 text,\n"
    "  created_at timestamptz NOT NULL DEFAULT now()\n"
    ");\n"
    "CREATE INDEX IF NOT EXISTS crm_customers_phone_e164 ON crm_customers (phone_e164);\n"
    "CREATE TABLE IF NOT EXISTS crm_comms_log (\n"
    "  id bigserial PRIMARY KEY,\n"
    "  customer_id bigint,\n"
    "  type text NOT NULL,\n"
    "  direction text NOT NULL,\n"
    "  body text NOT NULL,\n"
    "  ext_message_id text,\n"
    "  occurred_at timestamptz NOT NULL\n"
    ");\n"
    /* An existing CRM table: the columns pbxbus writes must be there and usable. */
    "DO $$\n"
    "DECLARE\n"
    "  need text[][] := ARRAY[['id','integer,bigint'],['customer_id','integer,bigint'],\n"
    "    ['type','text,character varying'],['direction','text,character varying'],\n"
    "    ['body','text,character varying'],['ext_message_id','text,character varying'],\n"
    "    ['occurred_at','timestamp with time zone,timestamp without time zone']];\n"
    "  col_type text;\n"
    "BEGIN\n"
    "  FOR i IN 1..array_length(need, 1) LOOP\n"
    "    SELECT data_type INTO col_type FROM information_schema.columns\n"
    "     WHERE table_schema = current_schema() AND table_name = 'crm_comms_log' AND column_name = need[i][1];\n"
    "    IF col_type IS NULL THEN\n"
    "      RAISE EXCEPTION 'crm_comms_log has no column %', need[i][1]\n"
    "        USING HINT = 'see README, \"An existing crm_comms_log\", for the ALTER TABLE to run';\n"
    "    END IF;\n"
    "    IF NOT col_type = ANY (string_to_array(need[i][2], ',')) THEN\n"
    "      RAISE EXCEPTION 'crm_comms_log.% is %, pbxbus needs one of: %', need[i][1], col_type, need[i][2]\n"
    "        USING HINT = 'see README, \"An existing crm_comms_log\"';\n"
    "    END IF;\n"
    "  END LOOP;\n"
    "END $$;\n"
    "ALTER TABLE crm_comms_log\n"
    "  ADD COLUMN IF NOT EXISTS external_number text,\n"
    "  ADD COLUMN IF NOT EXISTS external_e164 text,\n"
    "  ADD COLUMN IF NOT EXISTS extension text,\n"
    "  ADD COLUMN IF NOT EXISTS did text,\n"
    "  ADD COLUMN IF NOT EXISTS duration_seconds integer,\n"
    "  ADD COLUMN IF NOT EXISTS billsec_seconds integer,\n"
    "  ADD COLUMN IF NOT EXISTS disposition text,\n"
    "  ADD COLUMN IF NOT EXISTS source text,\n"
    "  ADD COLUMN IF NOT EXISTS notes text,\n"
    "  ADD COLUMN IF NOT EXISTS raw jsonb;\n"
    /* ON CONFLICT (ext_message_id) needs a unique index on exactly that column. */
    "DO $$\n"
    "BEGIN\n"
    "  IF NOT EXISTS (\n"
    "    SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]\n"
    "     WHERE i.indrelid = 'crm_comms_log'::regclass AND i.indisunique AND i.indnatts = 1\n"
    "       AND i.indpred IS NULL AND a.attname = 'ext_message_id') THEN\n"
    "    CREATE UNIQUE INDEX crm_comms_log_ext_message_id_key ON crm_comms_log (ext_message_id);\n"
    "  END IF;\n"
    "END $$;\n"
    "CREATE INDEX IF NOT EXISTS crm_comms_log_customer_time ON crm_comms_log (customer_id, occurred_at);\n"
    /* The integrator may point these views at the CRM's own tables. */
    "DO $$\n"
    "BEGIN\n"
    "  IF to_regclass('pbxbus_customer_phones') IS NULL THEN\n"
    "    CREATE VIEW pbxbus_customer_phones AS\n"
    "      SELECT id AS customer_id, phone_e164 FROM crm_customers WHERE phone_e164 IS NOT NULL;\n"
    "  END IF;\n"
    "  IF to_regclass('pbxbus_customers') IS NULL THEN\n"
    "    CREATE VIEW pbxbus_customers AS SELECT id AS customer_id FROM crm_customers;\n"
    "  END IF;\n"
    "END $$;\n"
    /* Exact E.164 first, else a unique match on the last digits. */
    "CREATE OR REPLACE FUNCTION pbxbus_match_customer(p_e164 text, p_tail integer,\n"
    "    OUT customer_id bigint, OUT how text) LANGUAGE plpgsql STABLE AS $$\n"
    "DECLARE n integer;\n"
    "BEGIN\n"
    "  IF p_e164 IS NULL OR p_e164 = '' THEN how := 'none'; RETURN; END IF;\n"
    "  SELECT count(DISTINCT p.customer_id), min(p.customer_id) INTO n, customer_id\n"
    "    FROM pbxbus_customer_phones p WHERE p.phone_e164 = p_e164;\n"
    "  IF n = 1 THEN how := 'exact'; RETURN; END IF;\n"
    "  IF n > 1 THEN customer_id := NULL; how := 'ambiguous'; RETURN; END IF;\n"
    "  IF p_tail > 0 AND length(p_e164) > p_tail THEN\n"
    "    SELECT count(DISTINCT p.customer_id), min(p.customer_id) INTO n, customer_id\n"
    "      FROM pbxbus_customer_phones p WHERE right(p.phone_e164, p_tail) = right(p_e164, p_tail);\n"
    "    IF n = 1 THEN how := 'suffix'; RETURN; END IF;\n"
    "    IF n > 1 THEN customer_id := NULL; how := 'ambiguous'; RETURN; END IF;\n"
    "  END IF;\n"
    "  customer_id := NULL; how := 'none';\n"
    "END $$;\n"
    "CREATE TABLE IF NOT EXISTS pbxbus_dead_letters (\n"
    "  id bigserial PRIMARY KEY,\n"
    "  received_at timestamptz NOT NULL DEFAULT now(),\n"
    "  topic text,\n"
    "  payload bytea,\n"
    "  payload_size integer NOT NULL DEFAULT 0,\n"
    "  error text NOT NULL\n"
    ");\n";

/* Version 2: a dead letter keeps its payload's head and SHA-256 (not all). */
static const char v2[] = "ALTER TABLE pbxbus_dead_letters ADD COLUMN IF NOT EXISTS payload_sha256 text;\n";

/* Version 3: the console.  The call log's pages by (time, id) of calls
 * only; the customer's name in the default mapping view (a view the
 * integrator replaced is left as it is: README, "Customer matching"). */
static const char v3[] =
    "CREATE INDEX IF NOT EXISTS crm_comms_log_calls_time ON crm_comms_log (occurred_at DESC, id DESC)\n"
    "  WHERE type = 'call';\n"
    "DO $$\n"
    "BEGIN\n"
    "  IF (SELECT c.relkind FROM pg_class c WHERE c.oid = to_regclass('pbxbus_customers')) = 'v'\n"
    "     AND pg_get_viewdef('pbxbus_customers'::regclass) ~ 'crm_customers'\n"
    "     AND (SELECT array_agg(column_name::text) FROM information_schema.columns\n"
    "          WHERE table_schema = current_schema() AND table_name = 'pbxbus_customers') = ARRAY['customer_id']\n"
    "     AND to_regclass('crm_customers') IS NOT NULL THEN\n"
    "    CREATE OR REPLACE VIEW pbxbus_customers AS SELECT id AS customer_id, name FROM crm_customers;\n"
    "  END IF;\n"
    "END $$;\n";

/* Version 4: the file a recorded call is in, as the PBX names it (the
 * record's `recording`); added only where the CRM's table lacks it. */
static const char v4[] = "ALTER TABLE crm_comms_log ADD COLUMN IF NOT EXISTS recording text;\n";

/* Version 5: the console for the people at the phones.  Customers found
 * by any part of their name or number: trigram indexes on the standalone
 * crm_customers where pg_trgm can be had (a trusted extension since
 * PostgreSQL 13: the database's owner may create it), else none (the
 * search scans; docs/console.md gives an integrator's SQL).  Missed calls
 * left out once the number was answered or called back: calls by number
 * and time. */
static const char v5[] =
    "DO $$\n"
    "BEGIN\n"
    "  BEGIN\n"
    "    CREATE EXTENSION IF NOT EXISTS pg_trgm;\n"
    "  EXCEPTION WHEN OTHERS THEN\n"
    "    RAISE NOTICE 'pg_trgm is not available (%): customer search scans crm_customers', SQLERRM;\n"
    "  END;\n"
    "  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm')\n"
    "     AND (SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema()\n"
    "          AND table_name = 'crm_customers' AND column_name IN ('name', 'phone_e164')) = 2 THEN\n"
    "    CREATE INDEX IF NOT EXISTS crm_customers_name_trgm ON crm_customers USING gin (lower(name) gin_trgm_ops);\n"
    "    CREATE INDEX IF NOT EXISTS crm_customers_phone_trgm ON crm_customers USING gin (phone_e164 gin_trgm_ops);\n"
    "  END IF;\n"
    "END $$;\n"
    "CREATE INDEX IF NOT EXISTS crm_comms_log_calls_number ON crm_comms_log (external_e164, occurred_at)\n"
    "  WHERE type = 'call';\n";

const struct migration migrations[] = {
    {1, "call log, customer matching, dead letters", v1},        {2, "dead letters: payload SHA-256", v2},
    {3, "console: calls by time, customer names", v3},           {4, "call log: the recording's file name", v4},
    {5, "console: customer search, missed calls by number", v5},
};
const int migrations_count = sizeof(migrations) / sizeof(migrations[0]);
