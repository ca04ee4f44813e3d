-- vigil's PostgreSQL schema, version 1 (docs/postgres.md). Applied by `vigil migrate` and
-- at datamanager start, in one transaction under an advisory lock.

-- One row per series: the metric name and the whole label set (the name included, as
-- `__name__`), unique, so that a label set always maps to one id.
CREATE TABLE series (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  metric text NOT NULL,
  labels jsonb NOT NULL,
  CONSTRAINT series_labels_key UNIQUE (labels)
);
CREATE INDEX series_labels_gin ON series USING gin (labels jsonb_path_ops);
CREATE INDEX series_metric ON series (metric);

-- The samples, partitioned by time (one partition per day by default). The primary key
-- makes a redelivered sample a conflict, not a duplicate row, and with `value` included
-- it answers reads of one series from the index alone.
CREATE TABLE samples (
  series_id bigint NOT NULL,
  t timestamptz NOT NULL,
  value double precision NOT NULL,
  CONSTRAINT samples_pkey PRIMARY KEY (series_id, t) INCLUDE (value)
) PARTITION BY RANGE (t);

-- The partitions vigil made, with their bounds, for retention.
CREATE TABLE vigil_partitions (
  name text PRIMARY KEY,
  from_t timestamptz NOT NULL,
  to_t timestamptz NOT NULL
);

-- Creates the partition of samples for [from_t, to_t) unless it exists. Several
-- datamanagers may call it at once: the advisory lock makes them take turns.
CREATE FUNCTION vigil_ensure_partition(from_t timestamptz, to_t timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  part text := 'samples_' || to_char(from_t AT TIME ZONE 'UTC', 'YYYYMMDD');
BEGIN
  IF EXISTS (SELECT 1 FROM vigil_partitions p WHERE p.name = part) THEN
    RETURN;
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext('vigil_partitions'));
  IF EXISTS (SELECT 1 FROM vigil_partitions p WHERE p.name = part) THEN
    RETURN;
  END IF;
  EXECUTE format('CREATE TABLE %I PARTITION OF samples FOR VALUES FROM (%L) TO (%L)',
                 part, from_t, to_t);
  INSERT INTO vigil_partitions VALUES (part, from_t, to_t);
END $$;

-- Counts the retention runs that dropped something, so that every datamanager can tell
-- that series ids it holds in memory may be gone.
CREATE SEQUENCE vigil_retention_epoch;

-- Drops every partition that ends at or before `before` (retention), then the series
-- left without samples. Returns the names of the dropped partitions.
CREATE FUNCTION vigil_drop_partitions(before timestamptz)
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  part text;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('vigil_partitions'));
  FOR part IN SELECT p.name FROM vigil_partitions p WHERE p.to_t <= before ORDER BY p.from_t LOOP
    EXECUTE format('DROP TABLE IF EXISTS %I', part);
    DELETE FROM vigil_partitions p WHERE p.name = part;
    RETURN NEXT part;
  END LOOP;
  IF FOUND THEN
    DELETE FROM series s WHERE NOT EXISTS (SELECT 1 FROM samples x WHERE x.series_id = s.id);
    PERFORM nextval('vigil_retention_epoch');
  END IF;
END $$;

-- Samples with their series, for plain SQL:
--   SELECT t, value FROM vigil_samples
--   WHERE metric = 'boiler_pressure_out' AND labels @> '{"agent": "plant-1"}'
--   AND t > now() - interval '1 hour' ORDER BY t;
CREATE VIEW vigil_samples AS
  SELECT s.metric, s.labels, x.t, x.value
  FROM samples x JOIN series s ON s.id = x.series_id;
