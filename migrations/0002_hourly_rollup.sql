-- vigil's PostgreSQL schema, version 2: an hourly rollup of the samples (docs/postgres.md).
-- The datamanager adds to it in the transaction that inserts the samples, from the rows
-- actually inserted, so it is exact: min, max and count over (hour_end - 1 hour, hour_end],
-- left-open as the query language's windows. Queries of min, max or count per whole
-- hours read it instead of the samples.

CREATE TABLE samples_hourly (
  series_id bigint NOT NULL,
  hour_end timestamptz NOT NULL,
  min_value double precision,  -- NULL when every value in the hour was NaN
  max_value double precision,
  count bigint NOT NULL,
  CONSTRAINT samples_hourly_pkey PRIMARY KEY (series_id, hour_end)
) WITH (fillfactor = 70);  -- room for the updates of the current hour to stay on their page

INSERT INTO samples_hourly
  SELECT series_id,
         date_bin('1 hour', t - interval '1 microsecond', timestamptz 'epoch') + interval '1 hour',
         min(value) FILTER (WHERE value <> 'NaN'),
         max(value) FILTER (WHERE value <> 'NaN'),
         count(*)
  FROM samples GROUP BY 1, 2;

-- Retention, as in version 1, now also for the rollup. The hour ending exactly at a
-- dropped partition's end holds one instant of the next partition: it goes with the
-- dropped day.
CREATE OR REPLACE FUNCTION vigil_drop_partitions(before timestamptz)
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  part text;
  last_end timestamptz;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('vigil_partitions'));
  FOR part, last_end IN
      SELECT p.name, p.to_t FROM vigil_partitions p WHERE p.to_t <= before ORDER BY p.from_t LOOP
    EXECUTE format('DROP TABLE IF EXISTS %I', part);
    DELETE FROM vigil_partitions p WHERE p.name = part;
    RETURN NEXT part;
  END LOOP;
  IF last_end IS NOT NULL THEN
    DELETE FROM samples_hourly h WHERE h.hour_end <= last_end;
    DELETE FROM series s WHERE NOT EXISTS (SELECT 1 FROM samples x WHERE x.series_id = s.id);
    PERFORM nextval('vigil_retention_epoch');
  END IF;
END $$;
