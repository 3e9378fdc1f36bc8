# kz_globals: PGXS build, tests and the two user-facing commands.
#
#   make demo     install what is missing, build, install, run the demo cluster
#   make test     the same set-up, then every test suite (see test/run.sh)
#   make bench    the same set-up, then the benchmark table (bench/run.sh)
#   make bench-scale  the growth curves: servers, names, message sizes
#
# The plain PGXS targets (all, install, installcheck, clean) work as usual;
# installcheck (pg_regress, then the TAP tests) and prove_installcheck (the
# TAP tests alone) need an unprivileged user because they run initdb.

EXTENSION = kz_globals
# The one version number: kz_globals.control (default_version), META.json and
# debian/changelog must say the same; test/suites/versions.sh checks it.
EXTVERSION = 1.1
MODULE_big = kz_globals

# One folder per layer (src/README.md): the entry point, then sql, backend,
# worker, shared, rules, wire, conn and common, each calling only downhill.
KZ_SRC_DIRS = sql backend worker shared rules wire conn common
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c $(addprefix src/,$(addsuffix /*.c,$(KZ_SRC_DIRS))))))
DATA = $(wildcard sql/kz_globals--*.sql)

PKG_CONFIG ?= pkg-config
RABBITMQ_CFLAGS := $(shell $(PKG_CONFIG) --cflags librabbitmq 2>/dev/null)
# rabbitmq-c 0.12 and later: <rabbitmq-c/amqp.h> (see src/rabbitmq_c.h).
RABBITMQ_DIR := $(shell printf '\043include <rabbitmq-c/amqp.h>\n' | \
	$(CC) $(RABBITMQ_CFLAGS) -E -x c - >/dev/null 2>&1 && echo -DKZ_RABBITMQ_C_DIR)
KZ_INCLUDES = $(addprefix -Isrc/,$(KZ_SRC_DIRS))
PG_CPPFLAGS = $(KZ_INCLUDES) $(RABBITMQ_CFLAGS) $(RABBITMQ_DIR)
SHLIB_LINK = $(shell $(PKG_CONFIG) --libs librabbitmq openssl 2>/dev/null || echo -lrabbitmq -lssl -lcrypto)

# Warnings on; the test, demo and CI targets also make them errors (they run
# make with WERROR=-Werror), a plain `make` does not: packagers build with
# their own compilers and flags.  Override PG_CFLAGS to add e.g.
# -fsanitize=address.
WERROR ?=
WARNFLAGS = -Wall -Wextra -Wno-unused-parameter $(WERROR)
PG_CFLAGS ?=
override PG_CFLAGS += $(WARNFLAGS)

# pg_regress: SQL surface, single server, no broker.  The server needs
# kz_globals in shared_preload_libraries (test/kz_globals.conf), which a
# running server does not usually have: pg_regress starts its own from the
# installed PostgreSQL, with the installed kz_globals.  Tests in test/sql,
# their expected output in test/expected.
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
KZ_HEADERS = $(wildcard $(addprefix src/,$(addsuffix /*.h,$(KZ_SRC_DIRS))))
$(OBJS): $(KZ_HEADERS)
$(OBJS:.o=.bc): $(KZ_HEADERS)

# pg_regress takes expected files from --expecteddir (PostgreSQL 16 and
# later; its default is ".") or, up to 15, from --outputdir ("."), and
# falls back to --inputdir in both: name test/ where the option exists
# (MAJORVERSION comes from PGXS).
ifeq ($(filter 9 10 11 12 13 14 15,$(MAJORVERSION)),)
REGRESS_OPTS += --expecteddir=test
endif

# Our TAP helpers live in test/perl (set after PGXS, which resets PROVE_FLAGS).
PROVE_FLAGS += -I ./test/perl

# The TAP tests alone, as contrib's and pgvector's Makefiles name it (make
# installcheck runs pg_regress, then these).  The tests that need RabbitMQ
# run only when PG_TEST_EXTRA contains amqp and are skipped otherwise.
prove_installcheck:
	$(prove_installcheck)

# The name the TAP target had before.
tapcheck: prove_installcheck

# The release's files agree on EXTVERSION (also a suite of make test).
versioncheck:
	@bash test/suites/versions.sh

# A PGXN release archive of the committed tree.
dist:
	git archive --format zip --prefix=$(EXTENSION)-$(EXTVERSION)/ \
		-o $(EXTENSION)-$(EXTVERSION).zip HEAD
.PHONY: versioncheck dist sanitizecheck

# Unit tests of the pure code (term codec, protocol, conflict rule), built as
# frontend programs against libpgcommon; no server needed.
UNIT_SRCS = $(sort $(wildcard test/unit/test_*.c))
UNIT_BINS = $(UNIT_SRCS:.c=_test)
# USE_PRIVATE_ENCODING_FUNCS: newer libpgcommon.a builds export the
# encoding functions as pg_..._private (libpq keeps the plain names); the
# headers that know this map the names when it is defined, older ones
# ignore it.
UNIT_CFLAGS = -DFRONTEND -DUSE_PRIVATE_ENCODING_FUNCS \
	$(KZ_INCLUDES) -I$(includedir_server) -I$(includedir_internal) \
	-Wdeclaration-after-statement -Wmissing-prototypes \
	$(WARNFLAGS) -g -O1 $(UNIT_SANITIZE)
UNIT_LIBS = -L$(pkglibdir) -lpgcommon -lpgport -lm

test/unit/test_etf_test: test/unit/test_etf.c src/wire/etf.c src/wire/etf.h test/unit/unit.h
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_etf.c src/wire/etf.c $(UNIT_LIBS)

# The message codec, one file per concern (src/wire/protocol.h).
PROTO_SRCS = src/wire/protocol.c src/wire/json.c src/wire/decode.c src/wire/encode.c \
	src/wire/routing.c src/wire/etf.c
PROTO_HDRS = src/wire/protocol.h src/wire/json.h src/wire/decode.h src/wire/encode.h \
	src/wire/routing.h src/wire/etf.h src/common/kz_types.h src/common/compat.h

test/unit/test_protocol_test: test/unit/test_protocol.c $(PROTO_SRCS) $(PROTO_HDRS) test/unit/unit_b64.h \
		src/rules/conflict.c src/rules/conflict.h test/unit/unit.h
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_protocol.c $(PROTO_SRCS) src/rules/conflict.c $(UNIT_LIBS)

test/unit/test_encode_test: test/unit/test_encode.c $(PROTO_SRCS) $(PROTO_HDRS) test/unit/unit.h test/unit/unit_b64.h
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_encode.c $(PROTO_SRCS) $(UNIT_LIBS)

test/unit/test_rules_test: test/unit/test_rules.c src/rules/rules.c src/rules/rules.h src/rules/conflict.c \
		src/rules/conflict.h src/rules/row.h src/wire/protocol.h test/unit/unit.h
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_rules.c src/rules/rules.c src/rules/conflict.c $(UNIT_LIBS)

test/unit/test_broker_uri_test: test/unit/test_broker_uri.c src/wire/broker_uri.c src/wire/broker_uri.h \
		test/unit/unit.h
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_broker_uri.c src/wire/broker_uri.c $(UNIT_LIBS)

test/unit/test_kazoo_fixtures_test: test/unit/test_kazoo_fixtures.c $(PROTO_SRCS) $(PROTO_HDRS) \
		test/unit/unit.h
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_kazoo_fixtures.c $(PROTO_SRCS) $(UNIT_LIBS)

test/unit/test_bus_auth_test: test/unit/test_bus_auth.c src/wire/bus_auth.c src/wire/bus_auth.h test/unit/unit.h
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_bus_auth.c src/wire/bus_auth.c $(UNIT_LIBS) -lcrypto

test/unit/test_reply_tag_test: test/unit/test_reply_tag.c src/wire/reply_tag.c src/wire/reply_tag.h \
		test/unit/unit.h
	$(CC) $(UNIT_CFLAGS) -o $@ test/unit/test_reply_tag.c src/wire/reply_tag.c $(UNIT_LIBS)

# The message codec's cost per message (bench/codec_cost.c, make bench):
# the unit tests' flags, optimised as the extension is.
bench/codec_cost: bench/codec_cost.c $(PROTO_SRCS) $(PROTO_HDRS)
	$(CC) $(filter-out -O1 $(UNIT_SANITIZE),$(UNIT_CFLAGS)) -O2 -o $@ bench/codec_cost.c \
		$(PROTO_SRCS) $(UNIT_LIBS)
EXTRA_CLEAN += bench/codec_cost

# The registry rules as a shared library for the model test's oracle
# (test/py/rules_oracle.c, loaded by test/py/model_test.py with ctypes;
# test/suites/model.sh builds it): the unit-test flags, position
# independent, every symbol resolved at link time.
test/py/librules_oracle.so: test/py/rules_oracle.c src/rules/rules.c src/rules/rules.h \
		src/rules/conflict.c src/rules/conflict.h src/rules/row.h src/wire/protocol.h
	$(CC) $(UNIT_CFLAGS) -fPIC -shared -Wl,-z,defs -o $@ test/py/rules_oracle.c src/rules/rules.c \
		src/rules/conflict.c
EXTRA_CLEAN += test/py/librules_oracle.so

unitcheck: $(UNIT_BINS)
	@rc=0; for t in $(UNIT_BINS); do echo "== $$t"; ./$$t || rc=1; done; exit $$rc

# The unit tests, fuzz loops included, built with AddressSanitizer and
# UndefinedBehaviorSanitizer (any finding stops the program and fails);
# KZ_FUZZ_ITERATIONS=N for a longer fuzz run.  The sanitized programs are
# removed afterwards.  A suite of make test (test/suites/sanitize.sh).
SANITIZE_FLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
sanitizecheck:
	@rm -f $(UNIT_BINS)
	@rc=0; $(MAKE) --no-print-directory UNIT_SANITIZE="$(SANITIZE_FLAGS)" $(UNIT_BINS) || rc=1; \
	for t in $(UNIT_BINS); do echo "== $$t (ASan, UBSan)"; \
		ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 ./$$t || rc=1; \
	done; rm -f $(UNIT_BINS); exit $$rc

test:
	bash test/run.sh

demo:
	bash demo/run.sh

bench:
	bash bench/run.sh

# the growth curves: 3, 5 and 9 servers, 10k to 1M names, 100 B to 64 KB
# messages; tables and plots in bench/results/ (up to 20 minutes)
bench-scale:
	bash bench/run.sh scale

# make test on fresh Debian 12, 13 and unstable root filesystems (debootstrap,
# cached), one table of results; needs root.  See test/matrix/run.sh.
matrix:
	bash test/matrix/run.sh

# The unit tests, then a server (postmaster, backends, worker) under
# Valgrind memcheck in a two-server cluster; not part of make test (slow).
valgrindcheck: $(UNIT_BINS)
	@rc=0; for t in $(UNIT_BINS); do valgrind -q --error-exitcode=1 ./$$t >/dev/null || rc=1; done; \
		[ $$rc = 0 ] && echo "unit tests: valgrind clean"; exit $$rc
	bash test/valgrind/run.sh

.PHONY: unitcheck prove_installcheck tapcheck test demo bench bench-scale matrix valgrindcheck
