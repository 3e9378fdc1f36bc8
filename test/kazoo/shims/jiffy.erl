%% jiffy.erl - the part of jiffy's API that Kazoo's kz_json uses, in plain
%% Erlang.  Kazoo builds against 2600Hz's fork of jiffy, whose encoder
%% takes the option error_on_undefined; Debian's jiffy 1.1 refuses it
%% (badarg), so Kazoo could not publish anything with it.  Terms as jiffy
%% has them: objects {[{Key, Value}]} (or maps, and maps back with
%% return_maps), arrays as lists, strings as binaries, true/false/null.
%% Part of kz_globals' interop test harness (not Kazoo or jiffy code).
-module(jiffy).

-export([encode/1, encode/2, decode/1, decode/2]).

%% ------------------------------------------------------------------ encode

encode(Term) -> encode(Term, []).

encode(Term, Opts) ->
    iolist_to_binary(enc(Term, lists:member(error_on_undefined, Opts))).

enc(true, _) -> <<"true">>;
enc(false, _) -> <<"false">>;
enc(null, _) -> <<"null">>;
enc(undefined, true) -> error(badarg);
enc(A, _) when is_atom(A) -> enc_string(atom_to_binary(A, utf8));
enc(B, _) when is_binary(B) -> enc_string(B);
enc(I, _) when is_integer(I) -> integer_to_binary(I);
enc(F, _) when is_float(F) -> float_to_binary(F, [short]);
enc({json, IoData}, _) -> IoData;
enc({Props}, U) when is_list(Props) -> enc_object(Props, U);
enc(M, U) when is_map(M) -> enc_object(maps:to_list(M), U);
enc(L, U) when is_list(L) -> [$[, join([enc(E, U) || E <- L]), $]];
enc(_, _) -> error(badarg).

enc_object(Props, U) ->
    [${, join([[enc_key(K), $:, enc(V, U)] || {K, V} <- Props]), $}].

enc_key(K) when is_binary(K) -> enc_string(K);
enc_key(K) when is_atom(K) -> enc_string(atom_to_binary(K, utf8));
enc_key(K) when is_list(K) -> enc_string(unicode:characters_to_binary(K));
enc_key(K) when is_integer(K) -> enc_string(integer_to_binary(K));
enc_key(_) -> error(badarg).

join([]) -> [];
join([H | T]) -> [H | [[$, | E] || E <- T]].

enc_string(B) -> [$", esc(B, <<>>), $"].

esc(<<>>, Acc) -> Acc;
esc(<<$", R/binary>>, Acc) -> esc(R, <<Acc/binary, "\\\"">>);
esc(<<$\\, R/binary>>, Acc) -> esc(R, <<Acc/binary, "\\\\">>);
esc(<<$\n, R/binary>>, Acc) -> esc(R, <<Acc/binary, "\\n">>);
esc(<<$\r, R/binary>>, Acc) -> esc(R, <<Acc/binary, "\\r">>);
esc(<<$\t, R/binary>>, Acc) -> esc(R, <<Acc/binary, "\\t">>);
esc(<<C, R/binary>>, Acc) when C < 16#20 ->
    Hex = list_to_binary(io_lib:format("\\u~4.16.0b", [C])),
    esc(R, <<Acc/binary, Hex/binary>>);
esc(<<C, R/binary>>, Acc) -> esc(R, <<Acc/binary, C>>).

%% ------------------------------------------------------------------ decode

decode(Data) -> decode(Data, []).

decode(Data, Opts) ->
    Maps = lists:member(return_maps, Opts),
    try
        {V, Rest} = value(ws(iolist_to_binary(Data)), Maps),
        <<>> = ws(Rest),
        V
    catch
        error:_ -> throw({error, {0, invalid_json}})
    end.

ws(<<C, R/binary>>) when C =:= $\s; C =:= $\t; C =:= $\n; C =:= $\r -> ws(R);
ws(B) -> B.

value(<<${, R/binary>>, M) -> object(ws(R), M, []);
value(<<$[, R/binary>>, M) -> array(ws(R), M, []);
value(<<$", R/binary>>, _) -> string(R, <<>>);
value(<<"true", R/binary>>, _) -> {true, R};
value(<<"false", R/binary>>, _) -> {false, R};
value(<<"null", R/binary>>, _) -> {null, R};
value(B, _) -> number(B).

object(<<$}, R/binary>>, M, []) -> {make_object([], M), R};
object(<<$", R/binary>>, M, Acc) ->
    {K, R1} = string(R, <<>>),
    <<$:, R2/binary>> = ws(R1),
    {V, R3} = value(ws(R2), M),
    case ws(R3) of
        <<$,, R4/binary>> -> object(ws(R4), M, [{K, V} | Acc]);
        <<$}, R4/binary>> -> {make_object(lists:reverse([{K, V} | Acc]), M), R4}
    end.

make_object(Props, true) -> maps:from_list(Props);
make_object(Props, false) -> {Props}.

array(<<$], R/binary>>, _, []) -> {[], R};
array(B, M, Acc) ->
    {V, R} = value(B, M),
    case ws(R) of
        <<$,, R1/binary>> -> array(ws(R1), M, [V | Acc]);
        <<$], R1/binary>> -> {lists:reverse([V | Acc]), R1}
    end.

string(<<$", R/binary>>, Acc) -> {Acc, R};
string(<<$\\, E, R/binary>>, Acc) ->
    case E of
        $" -> string(R, <<Acc/binary, $">>);
        $\\ -> string(R, <<Acc/binary, $\\>>);
        $/ -> string(R, <<Acc/binary, $/>>);
        $b -> string(R, <<Acc/binary, $\b>>);
        $f -> string(R, <<Acc/binary, $\f>>);
        $n -> string(R, <<Acc/binary, $\n>>);
        $r -> string(R, <<Acc/binary, $\r>>);
        $t -> string(R, <<Acc/binary, $\t>>);
        $u -> unicode_escape(R, Acc)
    end;
string(<<C, R/binary>>, Acc) -> string(R, <<Acc/binary, C>>).

unicode_escape(<<H:4/binary, "\\u", L:4/binary, R/binary>>, Acc) ->
    Hi = binary_to_integer(H, 16),
    Lo = binary_to_integer(L, 16),
    if
        Hi >= 16#D800, Hi =< 16#DBFF, Lo >= 16#DC00, Lo =< 16#DFFF ->
            C = 16#10000 + ((Hi - 16#D800) bsl 10) + (Lo - 16#DC00),
            string(R, <<Acc/binary, C/utf8>>);
        true ->
            string(<<"\\u", L/binary, R/binary>>, <<Acc/binary, Hi/utf8>>)
    end;
unicode_escape(<<H:4/binary, R/binary>>, Acc) ->
    C = binary_to_integer(H, 16),
    string(R, <<Acc/binary, C/utf8>>).

number(B) ->
    {Num, R} = take_number(B, <<>>),
    V = case binary:match(Num, [<<".">>, <<"e">>, <<"E">>]) of
            nomatch -> binary_to_integer(Num);
            _ -> to_float(Num)
        end,
    {V, R}.

take_number(<<C, R/binary>>, Acc)
  when (C >= $0 andalso C =< $9); C =:= $-; C =:= $+; C =:= $.; C =:= $e; C =:= $E ->
    take_number(R, <<Acc/binary, C>>);
take_number(R, Acc) when Acc =/= <<>> -> {Acc, R}.

%% binary_to_float wants a fraction: "1e5" and "2E-3" are valid JSON.
to_float(Num) ->
    case binary:match(Num, <<".">>) of
        nomatch ->
            [M, E] = binary:split(string:lowercase(Num), <<"e">>),
            binary_to_float(<<M/binary, ".0e", E/binary>>);
        _ -> binary_to_float(Num)
    end.
