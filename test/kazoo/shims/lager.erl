%% lager.erl - the part of lager's API that Kazoo's kz_globals, kz_nodes and
%% kazoo_amqp call, written to OTP's logger.  Kazoo is compiled here without
%% lager's parse transform, so its ?LOG_* macros become plain calls to these
%% functions.  Part of kz_globals' interop test harness (not Kazoo code).
-module(lager).

-export([debug/1, debug/2, info/1, info/2, notice/1, notice/2,
         warning/1, warning/2, error/1, error/2, critical/1, critical/2,
         alert/1, alert/2, emergency/1, emergency/2, error_unsafe/2,
         md/0, md/1, pr/2, get_loglevel/1, set_loglevel/2]).

debug(F) -> log(debug, F, []).
debug(F, A) -> log(debug, F, A).
info(F) -> log(info, F, []).
info(F, A) -> log(info, F, A).
notice(F) -> log(notice, F, []).
notice(F, A) -> log(notice, F, A).
warning(F) -> log(warning, F, []).
warning(F, A) -> log(warning, F, A).
error(F) -> log(error, F, []).
error(F, A) -> log(error, F, A).
critical(F) -> log(critical, F, []).
critical(F, A) -> log(critical, F, A).
alert(F) -> log(alert, F, []).
alert(F, A) -> log(alert, F, A).
emergency(F) -> log(emergency, F, []).
emergency(F, A) -> log(emergency, F, A).
error_unsafe(F, A) -> log(error, F, A).

%% Metadata (Kazoo keeps its call id there): in the process dictionary.
md() -> case get(lager_md) of undefined -> []; M -> M end.
md(M) when is_list(M) -> put(lager_md, M), ok.

pr(Record, _Module) -> Record.

get_loglevel(_) -> maps:get(level, logger:get_primary_config()).
set_loglevel(_, Level) -> logger:set_primary_config(level, Level).

log(Level, F, A) ->
    %% A format that does not match its arguments must not kill the caller.
    Text = try io_lib:format(F, A) catch _:_ -> io_lib:format("~p ~p", [F, A]) end,
    logger:log(Level, "~ts", [Text]),
    ok.
