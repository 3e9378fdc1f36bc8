# kz_globals: PGXS build, tests and the two user-facing commands.
#
#   make demo     install what is missing, build, install, run the demo cluster
#   make test     the same set-up, then every test suite (see test/run.sh)
#   make bench    the same set-up, then the benchmark table (bench/run.sh)
#
# The plain PGXS targets (all, install, installcheck, clean) work as usual;
# installcheck needs an unprivileged user because it runs initdb.

EXTENSION = kz_globals
EXTVERSION = 1.0
MODULE_big = kz_globals

OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
DATA = $(wildcard sql/kz_globals--*.sql)

PKG_CONFIG ?= pkg-config
PG_CPPFLAGS = -Isrc $(shell $(PKG_CONFIG) --cflags librabbitmq 2>/dev/null)
SHLIB_LINK = $(shell $(PKG_CONFIG) --libs librabbitmq openssl 2>/dev/null || echo -lrabbitmq -lssl -lcrypto)

# Warnings are errors.  Override PG_CFLAGS to add e.g. -fsanitize=address.
WARNFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter
PG_CFLAGS ?=
override PG_CFLAGS += $(WARNFLAGS)

# pg_regress: SQL surface, single server, no broker (test/kz_globals.conf).
TESTS = $(sort $(wildcard test/sql/*.sql))
REGRESS = $(patsubst test/sql/%.sql,%,$(TESTS))
REGRESS_OPTS = --inputdir=test --temp-instance=./tmp_check_regress \
	--temp-config=test/kz_globals.conf --load-extension=kz_globals

# TAP: multi-process and multi-node behaviour (PostgreSQL::Test::Cluster).
TAP_TESTS = 1
PROVE_TESTS ?= test/t/*.pl

EXTRA_CLEAN = tmp_check_regress test/unit/*_test results regression.diffs regression.out

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies (unless PostgreSQL was configured with
# --enable-depend): rebuild every object when any of our headers changes,
# so that a changed struct layout never meets a stale object.
KZ_HEADERS = $(wildcard src/*.h)
$(OBJS): $(KZ_HEADERS)
$(OBJS:.o=.bc): $(KZ_HEADERS)

# Our TAP helpers live in test/perl (set after PGXS, which resets PROVE_FLAGS).
PROVE_FLAGS += -I ./test/perl

# The TAP suites alone (make installcheck runs pg_regress, then these).
tapcheck:
	$(prove_installcheck)

# Unit tests of the pure code (term codec, protocol, conflict rule), built as
# frontend programs against libpgcommon; no server needed.
UNIT_SRCS = $(sort $(wildcard test/unit/test_*.c))
UNIT_BINS = $(UNIT_SRCS:.c=_test)
UNIT_CFLAGS = -DFRONTEND -Isrc -I$(includedir_server) -I$(includedir_internal) \
	-Wdeclaration-after-statement -Wmissing-prototypes \
	$(WARNFLAGS) -g -O1
UNIT_LIBS = -L$(pkglibdir) -lpgcommon -lpgport -lm

test/unit/test_etf_test: test/unit/test_etf.c src/etf.c src/etf.h test/unit/unit.h
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_etf.c src/etf.c $(UNIT_LIBS)

test/unit/test_protocol_test: test/unit/test_protocol.c src/protocol.c src/protocol.h \
		src/etf.c src/etf.h src/conflict.c src/conflict.h test/unit/unit.h
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_protocol.c src/protocol.c src/etf.c \
		src/conflict.c $(UNIT_LIBS)

test/unit/test_kazoo_fixtures_test: test/unit/test_kazoo_fixtures.c src/wire.c src/wire.h \
		src/protocol.c src/protocol.h src/etf.c src/etf.h test/unit/unit.h
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_kazoo_fixtures.c src/wire.c src/protocol.c \
		src/etf.c $(UNIT_LIBS)

unitcheck: $(UNIT_BINS)
	@rc=0; for t in $(UNIT_BINS); do echo "== $$t"; ./$$t || rc=1; done; exit $$rc

test:
	bash test/run.sh

demo:
	bash demo/run.sh

bench:
	bash bench/run.sh

# The unit tests, then a server (postmaster, backends, worker) under
# Valgrind memcheck in a two-server cluster; not part of make test (slow).
valgrindcheck: $(UNIT_BINS)
	@rc=0; for t in $(UNIT_BINS); do valgrind -q --error-exitcode=1 ./$$t >/dev/null || rc=1; done; \
		[ $$rc = 0 ] && echo "unit tests: valgrind clean"; exit $$rc
	bash test/valgrind/run.sh

.PHONY: unitcheck tapcheck test demo bench valgrindcheck
