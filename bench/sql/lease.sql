-- a lease taken and given back in one transaction (against advisory.sql)
SELECT kz_globals.acquire_lease('bench-lease-' || :client_id, 10000) AS tok \gset
SELECT kz_globals.release_lease('bench-lease-' || :client_id, :tok);
