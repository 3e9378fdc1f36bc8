-- one claim per transaction; names stay registered until the client exits
SELECT kz_globals.register_name(:node || '-' || :client_id || '-' || :scale || '-' || random());
