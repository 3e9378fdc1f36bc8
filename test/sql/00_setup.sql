-- Shared helpers for the other tests (they run in this order, in one database).

-- Runs a statement and shows the error it raises: SQLSTATE, message, detail
-- and hint, so that expected outputs pin down every error code.
CREATE FUNCTION public.err(stmt text,
	OUT code text, OUT message text, OUT detail text, OUT hint text)
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE stmt;
	code := 'none';
EXCEPTION WHEN OTHERS OR query_canceled THEN
	GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
		detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
	-- mask real PIDs and other run-dependent numbers
	message := regexp_replace(message, 'PID [0-9]{3,}', 'PID N', 'g');
	message := regexp_replace(message, '[0-9]{5,}', 'N', 'g');
	detail := nullif(detail, '');
	hint := nullif(hint, '');
END $$;

SELECT * FROM err('SELECT 1');
SELECT * FROM err('SELECT 1/0');
-- the extension's functions (those behind the views are shown by \d of the views)
SELECT p.proname, pg_get_function_identity_arguments(p.oid) AS args,
       pg_get_function_result(p.oid) AS result, p.provolatile, p.proisstrict, p.proparallel
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'kz_globals' AND p.proname NOT LIKE '%\_data' ORDER BY 1, 2;
