-- one renewal of the lease whose token bench.sh passes (-D tok=...)
SELECT kz_globals.renew_lease('bench-renew', :tok, 60000);
