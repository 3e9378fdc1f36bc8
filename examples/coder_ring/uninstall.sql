-- examples/coder_ring/uninstall.sql: removes what coder_ring.sql installed,
-- codes and memos included.  Stop the ring processes first (a running
-- coder_ring.serve() holds its ring's name until its session ends):
--
--   SELECT pg_terminate_backend(pid) FROM pg_stat_activity
--    WHERE application_name LIKE 'coder_ring %';

DROP FUNCTION IF EXISTS public.coder_ring_next(text, integer);
DROP SCHEMA IF EXISTS coder_ring CASCADE;
