/* kz_globals--1.0--1.1.sql: update the SQL interface of kz_globals from 1.0 to 1.1 */

\echo Use "ALTER EXTENSION kz_globals UPDATE TO '1.1'" to load this file. \quit

/*
 * Each SQL change of 1.1 goes here and, as the finished definition, into
 * kz_globals--1.1.sql (the script of a fresh CREATE EXTENSION), so that an
 * updated and a freshly created 1.1 are the same; test/t/070_upgrade.pl
 * compares them.  A changed function is replaced with CREATE OR REPLACE
 * FUNCTION where its signature stays (DROP and CREATE where it changes,
 * re-granting what the old one had); new objects are created here as in
 * the fresh script.
 *
 * So far 1.1 changes only the C library (the same kz_globals.so serves 1.0
 * and 1.1), not the SQL objects.
 */
