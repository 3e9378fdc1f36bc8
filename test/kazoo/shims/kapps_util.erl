%% kapps_util.erl - the one function of Kazoo's kapps_util that
%% kz_amqp_worker calls (for its log lines).  Part of kz_globals' interop
%% test harness (not Kazoo code).
-module(kapps_util).
-export([get_application/0]).

get_application() -> 'kazoo_globals'.
