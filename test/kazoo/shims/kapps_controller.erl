%% kapps_controller.erl - the one function of Kazoo's kapps_controller that
%% kz_nodes calls: no Kazoo applications run beside kazoo_globals here.
%% Part of kz_globals' interop test harness (not Kazoo code).
-module(kapps_controller).
-export([list_apps/0]).

list_apps() -> [].
