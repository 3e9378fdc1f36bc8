%% kzt_node.erl - boot Kazoo's kazoo_globals (kz_globals, kz_nodes) and
%% kazoo_amqp without the rest of Kazoo, and drive it from a test through
%% JSON lines on stdin/stdout.  Part of kz_globals' interop test harness;
%% the Kazoo modules it starts are compiled from a Kazoo checkout by
%% test/kazoo/build.sh.
%%
%% Started by test/kazoo/kazoo_node.sh:
%%   erl -sname kzA@localhost ... -s kzt_node main <amqp uri> <log file>
%%
%% Once kz_globals consumes, prints {"ready":true,"node":...,"queue":...}.
%% Then reads one JSON object per line, {"cmd":NAME, ...}, and answers each
%% with one line {"ok":true,"result":...} or {"ok":false,"error":...}.
%% Names and messages are JSON strings, used as Erlang binaries (what a
%% PostgreSQL server's text names and messages are on the wire).
%%
%% Commands:
%%   register  name          spawn an owner process and register it:
%%                           "yes" | "no" (kz_globals:register_name/2)
%%   register_many names     claim all the names at once: {name: "yes"|"no"}
%%   unregister name         kz_globals:unregister_name/1 -> "ok"
%%   exit      name reason   the owner of name (started by register) exits
%%                           with reason (a string, made an atom)
%%   whereis   name          kz_globals:whereis_name/1: null or the row
%%                           {"name","node","state","server","timestamp","pid"}
%%   row       name          the local ETS row only (no AMQP): null or as above
%%   send      name message  kz_globals:send/2 -> "sent" (error if badarg)
%%   call      name message [timeout]
%%                           gen_server:call({via,kz_globals,Name}, Msg):
%%                           the reply (binary) or an error
%%   inbox     name          what the owner received: [{"kind":"send"|"call",
%%                           "message":...}], cleared
%%   registered              kz_globals:registered/0
%%   table                   every ETS row
%%   nodes                   the nodes kz_nodes knows
%%   eval      expr          evaluate an Erlang expression (debugging)
%%   quit                    stop the VM
-module(kzt_node).

-export([main/1, owner_init/1]).

-define(TABLE, kazoo_global_names).

main([Uri, LogFile]) ->
    try
        boot(atom_to_binary(Uri, utf8), atom_to_list(LogFile)),
        loop()
    catch
        C:R:S ->
            emit(#{ready => false, error => fmt("~p:~p ~p", [C, R, S])}),
            erlang:halt(1)
    end.

%% ------------------------------------------------------------------ boot

boot(Uri, LogFile) ->
    ok = logger:set_primary_config(level, debug),
    ok = logger:add_handler(kzt_file, logger_std_h,
                            #{config => #{file => LogFile},
                              level => debug,
                              formatter => {logger_formatter,
                                            #{single_line => true,
                                              template => [time, " ", pid, " ", level, ": ", msg, "\n"]}}}),
    %% Nothing on the terminal: stdout carries our protocol.
    _ = logger:remove_handler(default),
    {ok, _} = application:ensure_all_started(amqp_client),
    ok = application:load(poolboy),
    %% kz_nodes puts the version of the application kazoo in its heartbeat.
    ok = application:load({application, kazoo,
                           [{description, "Kazoo (kazoo_globals only)"},
                            {vsn, kazoo_version()}, {modules, []},
                            {registered, []}, {applications, [kernel, stdlib]}]}),
    Settings = [{<<"amqp">>, [{<<"uri">>, Uri}, {<<"use_federation">>, <<"false">>}]}],
    ok = application:set_env(kazoo_config, kz_config, Settings),
    ok = application:set_env(kazoo_config, zone, local),
    {ok, _} = kazoo_bindings_sup:start_link(),
    {ok, _} = kz_amqp_sup:start_link(),
    PoolArgs = [{worker_module, kz_amqp_worker},
                {name, {local, kz_amqp_sup:pool_name()}},
                {size, 10},
                {max_overflow, 50},
                {strategy, fifo},
                {neg_resp_threshold, 5},
                {amqp_server_confirms, false}],
    {ok, _} = poolboy:start_link(PoolArgs, PoolArgs),
    %% kazoo_globals_sup's start returns only once kz_globals is ready
    %% (kazoo_globals_init waits for it).
    {ok, _} = kazoo_globals_sup:start_link(),
    wait_ready(600),
    emit(#{ready => true, node => node(),
           queue => gen_listener:queue_name(kz_globals),
           otp_release => list_to_binary(erlang:system_info(otp_release))}).

%% The checkout's VERSION, saved by build.sh beside the ebin directory.
kazoo_version() ->
    File = filename:join(filename:dirname(filename:dirname(code:which(?MODULE))), "kazoo_version"),
    case file:read_file(File) of
        {ok, V} -> string:trim(binary_to_list(V));
        _ -> "unknown"
    end.

wait_ready(0) -> error(kz_globals_not_ready);
wait_ready(N) ->
    case kz_globals:is_ready() of
        true -> ok;
        _ -> timer:sleep(100), wait_ready(N - 1)
    end.

%% ------------------------------------------------------------------ protocol

loop() ->
    case io:get_line(standard_io, "") of
        eof -> erlang:halt(0);
        {error, _} -> erlang:halt(0);
        Line ->
            Reply = try
                        Cmd = jiffy:decode(Line, [return_maps]),
                        {ok, run(maps:get(<<"cmd">>, Cmd), Cmd)}
                    catch
                        throw:{error, E} -> {error, E};
                        C:R:S -> {error, fmt("~p:~p ~p", [C, R, S])}
                    end,
            case Reply of
                {ok, Res} -> emit(#{ok => true, result => Res});
                {error, Err} -> emit(#{ok => false, error => json_term(Err)})
            end,
            loop()
    end.

emit(Map) ->
    io:put_chars(standard_io, [jiffy:encode(Map), "\n"]).

fmt(F, A) -> iolist_to_binary(io_lib:format(F, A)).

%% Binaries that are text go out as JSON strings, anything else as its ~p.
json_term(B) when is_binary(B) ->
    case unicode:characters_to_binary(B) of
        B -> B;
        _ -> #{term => fmt("~p", [B])}
    end;
json_term(T) -> #{term => fmt("~p", [T])}.

name(Cmd) -> maps:get(<<"name">>, Cmd).

run(<<"ping">>, _) -> <<"pong">>;
run(<<"register">>, Cmd) ->
    Name = name(Cmd),
    claim(Name);
run(<<"register_many">>, Cmd) ->
    %% One claim per name, all at once (each from its own process).
    Self = self(),
    Names = maps:get(<<"names">>, Cmd),
    [spawn(fun() -> Self ! {claimed, N, claim(N), get({owner, N})} end) || N <- Names],
    maps:from_list([receive
                        {claimed, N, R, Pid} ->
                            Pid =/= undefined andalso put({owner, N}, Pid),
                            {N, R}
                    end || N <- Names]);
run(<<"unregister">>, Cmd) ->
    ok = kz_globals:unregister_name(name(Cmd)),
    <<"ok">>;
run(<<"exit">>, Cmd) ->
    Name = name(Cmd),
    Reason = binary_to_atom(maps:get(<<"reason">>, Cmd, <<"normal">>), utf8),
    case get({owner, Name}) of
        undefined -> throw({error, <<"no owner started here">>});
        Pid ->
            Ref = monitor(process, Pid),
            Pid ! {stop, Reason},
            receive {'DOWN', Ref, _, _, _} -> ok after 5000 -> ok end,
            erase({owner, Name}),
            <<"exited">>
    end;
run(<<"whereis">>, Cmd) ->
    Name = name(Cmd),
    case kz_globals:whereis_name(Name) of
        undefined -> null;
        Pid -> where(Name, Pid)
    end;
run(<<"row">>, Cmd) ->
    Name = name(Cmd),
    case ets:lookup(?TABLE, Name) of
        [] -> null;
        [G] -> row_json(G)
    end;
run(<<"send">>, Cmd) ->
    try kz_globals:send(name(Cmd), maps:get(<<"message">>, Cmd)) of
        _ -> <<"sent">>
    catch
        exit:{badarg, _} -> throw({error, <<"badarg">>})
    end;
run(<<"call">>, Cmd) ->
    Timeout = maps:get(<<"timeout">>, Cmd, 5000),
    try gen_server:call({via, kz_globals, name(Cmd)}, maps:get(<<"message">>, Cmd), Timeout) of
        Reply -> json_term(Reply)
    catch
        exit:{Reason, _} -> throw({error, Reason})
    end;
run(<<"inbox">>, Cmd) ->
    case get({owner, name(Cmd)}) of
        undefined -> throw({error, <<"no owner started here">>});
        Pid ->
            Pid ! {inbox, self()},
            receive {inbox, Pid, Msgs} -> Msgs after 5000 -> throw({error, timeout}) end
    end;
run(<<"registered">>, _) ->
    [json_term(N) || N <- kz_globals:registered()];
run(<<"table">>, _) ->
    [row_json(G) || G <- ets:tab2list(?TABLE)];
run(<<"nodes">>, _) ->
    %% #kz_node{} rows: the node is their first field.
    lists:sort([atom_to_binary(element(2, N), utf8) || N <- ets:tab2list(kz_nodes)]);
run(<<"eval">>, Cmd) ->
    {ok, Tokens, _} = erl_scan:string(binary_to_list(maps:get(<<"expr">>, Cmd))),
    {ok, Exprs} = erl_parse:parse_exprs(Tokens),
    {value, V, _} = erl_eval:exprs(Exprs, erl_eval:new_bindings()),
    fmt("~p", [V]);
run(<<"quit">>, _) ->
    emit(#{ok => true, result => <<"bye">>}),
    erlang:halt(0);
run(Other, _) ->
    throw({error, <<"unknown command ", Other/binary>>}).

%% Runs in the command loop or in a process of register_many: the owners are
%% kept in the loop's dictionary, so register_many's are told to it.
claim(Name) ->
    Pid = proc_lib:spawn(?MODULE, owner_init, [Name]),
    case kz_globals:register_name(Name, Pid) of
        yes -> put({owner, Name}, Pid), <<"yes">>;
        no -> exit(Pid, kill), <<"no">>
    end.

where(Name, Pid) ->
    case ets:lookup(?TABLE, Name) of
        [G] -> (row_json(G))#{pid => fmt("~p", [Pid])};
        [] -> #{pid => fmt("~p", [Pid])}
    end.

%% kz_global:global() accessors, so that we need not know the record.
row_json(G) ->
    #{name => json_term(kz_global:name(G)),
      node => kz_global:node(G),
      state => kz_global:state(G),
      server => json_term(kz_global:server(G)),
      timestamp => kz_global:timestamp(G),
      pid => fmt("~p", [kz_global:pid(G)])}.

%% ------------------------------------------------------------------ owners

%% An owner: answers gen_server calls with <<"re:", Msg>> and keeps what it
%% received for the inbox command.
owner_init(Name) ->
    owner_loop(Name, []).

owner_loop(Name, Inbox) ->
    receive
        {stop, Reason} -> exit(Reason);
        {inbox, From} ->
            From ! {inbox, self(), lists:reverse(Inbox)},
            owner_loop(Name, []);
        {'$gen_call', From, Msg} ->
            gen_server:reply(From, reply_to(Msg)),
            owner_loop(Name, [#{kind => call, message => json_term(Msg)} | Inbox]);
        Msg ->
            owner_loop(Name, [#{kind => send, message => json_term(Msg)} | Inbox])
    end.

reply_to(Msg) when is_binary(Msg) -> <<"re:", Msg/binary>>;
reply_to(Msg) -> {re, Msg}.
