# vouch — build, run and test.  See README.md.
#
#   make run     install the missing Debian packages it needs, build, start the demo instance
#   make test    install, build, run every test (unit, sanitizer, fuzz, integration)
#   make         build bin files into build/
#   make SANITIZE=address,undefined   the same into build-asan/
#   make install [PREFIX=/usr/local] [DESTDIR=]   programs, man pages, bash completion

CC       ?= cc
PKGS     := openssl libmicrohttpd jansson sqlite3 libpq libcurl p11-kit-1 libargon2 gnutls libgfshare libcares libsystemd libseccomp
SANITIZE ?=
ifeq ($(SANITIZE),)
BUILD    ?= build
OPT      := -O2
else
BUILD    ?= build-asan
OPT      := -O1 -fno-omit-frame-pointer -fsanitize=$(SANITIZE) -fno-sanitize-recover=all
endif

WARN     := -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes -Werror
CPPFLAGS += -Isrc -D_GNU_SOURCE -DOPENSSL_API_COMPAT=30000 -DOPENSSL_NO_DEPRECATED
CFLAGS   += -std=c11 -g $(OPT) $(WARN) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -ldl
LDFLAGS  += $(if $(SANITIZE),-fsanitize=$(SANITIZE))

# Modules: one directory each under src/.  A module's objects go into its own archive.
MODULES  := lib keys store audit core svc http api daemon cli acme est scep
define module_vars
$(1)_SRC := $$(wildcard src/$(1)/*.c)
$(1)_OBJ := $$(patsubst src/%.c,$(BUILD)/obj/%.o,$$($(1)_SRC))
$(1)_LIB := $(BUILD)/lib/lib$(1).a
endef
$(foreach m,$(MODULES),$(eval $(call module_vars,$(m))))

# Which modules a program or unit test links (most dependent first).
SERVER_MODS := daemon api http acme est scep svc core audit store keys lib
CLI_MODS    := cli svc core audit store keys lib
DEPS_lib    := lib
DEPS_keys   := keys lib
DEPS_store  := audit store keys lib
DEPS_audit  := audit store keys lib
DEPS_core   := core lib
DEPS_http   := http lib
DEPS_api    := $(SERVER_MODS)
DEPS_svc    := svc core audit store keys lib
DEPS_cli    := cli svc core audit store keys lib
DEPS_acme   := acme svc core audit store keys lib
DEPS_est    := est lib
DEPS_scep   := scep lib

UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
unit_mod   = $(word 2,$(subst _, ,$(notdir $(1))))
libs_of    = $(foreach m,$(1),$($(m)_LIB))

.DELETE_ON_ERROR:
.PHONY: all bins man completion install deb package-test fuzz-long FORCE deps-run unit unit-bins fuzz-bins unit-pg test check run deps asan p11-failover-loop fuzz fuzz-smoke integration integration-asan integration-hsm integration-pg integration-cluster cluster cluster-stop format format-check clean bench bench-acme check-first check-suites $(CHECK_FIRST) $(CHECK_SUITES) bench-est bench-scep
all: bins
bins: $(BUILD)/vouchd $(BUILD)/vouch

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

# The web console's files (src/console) compiled into the api module as a table
# (scripts/dev/gen-console.py; api/console_assets.h): vouchd needs no path of its own for them.
CONSOLE_SRC := $(wildcard src/console/*)
api_OBJ += $(BUILD)/obj/gen/console_assets.o
$(BUILD)/gen/console_assets.c: $(CONSOLE_SRC) src/console scripts/dev/gen-console.py
	@mkdir -p $(dir $@)
	/usr/bin/python3 scripts/dev/gen-console.py src/console $@
$(BUILD)/obj/gen/console_assets.o: $(BUILD)/gen/console_assets.c src/api/console_assets.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(foreach m,$(MODULES),$(eval $($(m)_LIB): $($(m)_OBJ) ; @mkdir -p $$(dir $$@); rm -f $$@; $$(AR) rcs $$@ $$^))

# The version: VERSION, and the commit the tree was built from (its short hash; "unknown" outside
# a git work tree of its own, e.g. an unpacked tarball; a packager may set VOUCH_COMMIT).
# version.h is rewritten only when one of them changed, so a new commit relinks the programs
# and an unchanged tree rebuilds nothing.  The temporary file is the process's own: suites
# running side by side each make bins, so two makes may write it at once.
VOUCH_VERSION := $(shell cat VERSION)
VOUCH_COMMIT  ?= $(shell [ "$$(git -C $(CURDIR) rev-parse --show-toplevel 2>/dev/null)" = "$(CURDIR)" ] \
	&& git -C $(CURDIR) rev-parse --short HEAD 2>/dev/null || echo unknown)
$(BUILD)/gen/version.h: FORCE
	@mkdir -p $(dir $@)
	@t=$@.tmp.$$$$; printf '#define VOUCH_VERSION "%s"\n#define VOUCH_COMMIT "%s"\n' \
	    '$(VOUCH_VERSION)' '$(VOUCH_COMMIT)' >$$t; \
	    if cmp -s $$t $@; then rm -f $$t; else mv -f $$t $@; fi
FORCE:

$(BUILD)/vouchd: src/cmd/vouchd.c $(BUILD)/gen/version.h $(call libs_of,$(SERVER_MODS))
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -I$(BUILD)/gen $(CFLAGS) $(LDFLAGS) -o $@ $< $(call libs_of,$(SERVER_MODS)) $(LDLIBS)

$(BUILD)/vouch: src/cmd/vouch.c $(BUILD)/gen/version.h $(call libs_of,$(CLI_MODS))
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -I$(BUILD)/gen $(CFLAGS) $(LDFLAGS) -o $@ $< $(call libs_of,$(CLI_MODS)) $(LDLIBS)

# Man pages, an example configuration and the bash completion, generated from the programs' own
# tables (`vouch --commands-json`, `vouchd --settings-json`) and the prose in docs/man/*.in.
MAN_DATE  ?= $(shell git -C $(CURDIR) log -1 --format=%cs 2>/dev/null || date -u +%F)
MAN_PAGES := $(BUILD)/man/vouch.1 $(BUILD)/man/vouchd.8 $(BUILD)/man/vouchd.conf.5
man: $(MAN_PAGES)
$(MAN_PAGES) $(BUILD)/man/vouchd.conf.example &: $(BUILD)/vouch $(BUILD)/vouchd \
	    scripts/dev/gen-man.py $(wildcard docs/man/*.in)
	/usr/bin/python3 scripts/dev/gen-man.py --vouch $(BUILD)/vouch --vouchd $(BUILD)/vouchd \
	    --version $(VOUCH_VERSION) --date $(MAN_DATE) --templates docs/man --out $(BUILD)/man
completion: $(BUILD)/completion/vouch
$(BUILD)/completion/vouch: $(BUILD)/vouch scripts/dev/gen-completion.py
	@mkdir -p $(dir $@)
	/usr/bin/python3 scripts/dev/gen-completion.py $(BUILD)/vouch $@

# make install [PREFIX=/usr/local] [DESTDIR=]: the programs, the man pages, the bash completion
# and the example configuration (a configuration of its own is the operator's: none is installed).
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
MANDIR     ?= $(PREFIX)/share/man
DOCDIR     ?= $(PREFIX)/share/doc/vouch
COMPLETION_DIR ?= $(PREFIX)/share/bash-completion/completions
UNIT_DIR   ?= $(PREFIX)/lib/systemd/system
# A Debian package of the tree (scripts/dev/make-deb.sh): build/vouch_<version>_<arch>.deb.
deb: bins man completion
	scripts/dev/make-deb.sh $(BUILD)

# That package installed on this machine (dpkg -i: as root), its systemd unit verified, the
# service started as the unit starts it, then purged (tests/package/test_package.py).  It
# changes the machine while it runs, so check runs it alone, after the suites.
package-test: deb
	cd tests/package && VOUCH_BUILD=$(CURDIR)/$(BUILD) $(PYTEST) .

install: bins man completion
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DOCDIR) \
	    $(DESTDIR)$(COMPLETION_DIR) $(DESTDIR)$(UNIT_DIR)
	install -m 755 $(BUILD)/vouch $(DESTDIR)$(BINDIR)/vouch
	install -m 755 $(BUILD)/vouchd $(DESTDIR)$(SBINDIR)/vouchd
	install -m 644 $(BUILD)/man/vouch.1 $(DESTDIR)$(MANDIR)/man1/vouch.1
	install -m 644 $(BUILD)/man/vouchd.conf.5 $(DESTDIR)$(MANDIR)/man5/vouchd.conf.5
	install -m 644 $(BUILD)/man/vouchd.8 $(DESTDIR)$(MANDIR)/man8/vouchd.8
	install -m 644 $(BUILD)/completion/vouch $(DESTDIR)$(COMPLETION_DIR)/vouch
	sed 's#/usr/sbin/vouchd#$(SBINDIR)/vouchd#g' deploy/vouchd.service > $(DESTDIR)$(UNIT_DIR)/vouchd.service
	chmod 644 $(DESTDIR)$(UNIT_DIR)/vouchd.service
	install -m 644 $(BUILD)/man/vouchd.conf.example README.md docs/operations.md $(DESTDIR)$(DOCDIR)

.SECONDEXPANSION:
$(BUILD)/tests/test_%: tests/unit/test_%.c $$(call libs_of,$$(DEPS_$$(call unit_mod,test_$$*)))
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/unit $(CFLAGS) $(LDFLAGS) -o $@ $< \
	    $(call libs_of,$(DEPS_$(call unit_mod,test_$*))) $(LDLIBS) -lcmocka

unit-bins: $(UNIT_BIN)
unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

# The PKCS#11 failover tests of test_keys_p11 (a primary token failing and healing under load,
# and before any signature), P11_LOOPS times in a row; the first failure stops the loop and
# shows its log.  Not part of check: 200 runs take about 13 minutes on 2 busy cores.
P11_LOOPS ?= 200
p11-failover-loop: $(BUILD)/tests/test_keys_p11
	@set -e; for i in $$(seq $(P11_LOOPS)); do \
	    if ! VOUCH_TEST_FILTER='signing_moves_to_the_backup*' $(BUILD)/tests/test_keys_p11 \
	        > $(BUILD)/p11-failover-loop.log 2>&1; then \
	        cat $(BUILD)/p11-failover-loop.log; echo "failed in run $$i of $(P11_LOOPS)"; exit 1; fi; \
	done; echo "p11-failover-loop: $(P11_LOOPS) runs passed"

# What building and every test need (make test), or building and running only (make run).
deps:
	./scripts/install-deps.sh
deps-run:
	./scripts/install-deps.sh --run

# The two commands of the README.
run: deps-run
	$(MAKE) bins
	./scripts/run-demo.sh

test: deps
	$(MAKE) check

# Compiling runs on every core (make test is called without -j).  Then the suites run side by
# side, CHECK_JOBS at a time, each one's output printed whole when it ends (-O): they share no
# port (a vouchd's ports are held by its test; other servers' are picked below the ephemeral
# range), no directory (pytest's base directory is per suite, PYTEST_BASE) and no database
# (each PostgreSQL suite starts a server of its own), and they mostly wait (a suite used ~25% of
# one core when run alone), so on 2 cores they end about when the longest would alone.  The
# longest start first.  CHECK_JOBS=1 runs them one after another.  The cluster's failure tests
# (HAProxy, a PostgreSQL pair, three nodes killed under load) run last, alone.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CHECK_JOBS ?= 3
# The unit tests and the fuzz smoke run first, side by side (short, and some start servers of
# their own with tight start-up waits), then the integration suites.
CHECK_FIRST  := check-unit check-unit-asan check-fuzz-smoke
CHECK_SUITES := check-integration-asan check-integration-pg check-integration-hsm \
	check-integration check-unit-pg check-unit-pg-asan
check:
	$(MAKE) -j$(JOBS) bins unit-bins man completion
	$(MAKE) -j$(JOBS) SANITIZE=address,undefined bins unit-bins man completion
	$(MAKE) -j$(JOBS) fuzz-bins
	$(MAKE) -j$(CHECK_JOBS) -Otarget --no-print-directory check-first
	$(MAKE) -j$(CHECK_JOBS) -Otarget --no-print-directory check-suites
	$(MAKE) integration-cluster
	$(MAKE) package-test
check-first: $(CHECK_FIRST)
check-suites: $(CHECK_SUITES)
check-unit:
	$(MAKE) unit
check-unit-asan:
	$(MAKE) SANITIZE=address,undefined unit
check-fuzz-smoke:
	$(MAKE) fuzz-smoke
check-integration:
	$(MAKE) integration
check-integration-hsm:
	$(MAKE) integration-hsm
check-integration-asan:
	$(MAKE) integration-asan
check-integration-pg:
	$(MAKE) integration-pg
check-unit-pg:
	$(MAKE) unit-pg
check-unit-pg-asan:
	$(MAKE) SANITIZE=address,undefined unit-pg

# pytest as every target below runs it: skip reasons printed (-rs); VOUCH_TEST_TARGET names the
# target, under which a skip is an error unless the test is marked runs_in(...) with why it
# cannot run there (tests/integration/conftest.py).
PYTEST_BASE = /tmp/vouch-pytest-$(shell printf %s '$(CURDIR)' | md5sum | cut -c1-8)
PYTEST = VOUCH_TEST_TARGET=$@ /usr/bin/python3 -m pytest -q -rs -p no:cacheprovider \
	--basetemp=$(PYTEST_BASE)-$@

integration: bins
	cd tests/integration && VOUCH_BUILD=$(CURDIR)/$(BUILD) $(PYTEST) .

# The storage unit tests and the integration suite again, against a PostgreSQL server of
# their own (tests/pg/pg.sh: Debian's postgresql in a temporary directory on loopback, stopped
# by PID at the end, also when the tests fail).
PGRUN = d=$$(mktemp -d /tmp/vouch-pg-XXXXXX) && $(CURDIR)/tests/pg/pg.sh start $$d && \
	trap '$(CURDIR)/tests/pg/pg.sh stop '$$d EXIT && set -a && . $$d/env && set +a
unit-pg: $(BUILD)/tests/test_store $(BUILD)/tests/test_svc_faults
	$(PGRUN) && export VOUCH_TEST_STORE_URL=$$VOUCH_TEST_PG/vouch_unit \
	    VOUCH_TEST_STORE_ADMIN_URL=$${VOUCH_TEST_PG_ADMIN%/*}/vouch_unit && \
	    $(BUILD)/tests/test_store && $(BUILD)/tests/test_svc_faults

integration-pg: bins
	$(PGRUN) && cd tests/integration && VOUCH_BUILD=$(CURDIR)/$(BUILD) $(PYTEST) .

# A local cluster (deploy/cluster.sh): three vouchd nodes behind HAProxy on a PostgreSQL
# primary + standby with pg_auto_failover, on loopback, under ./var/cluster.
cluster: bins
	deploy/cluster.sh start $(CURDIR)/var/cluster
cluster-stop:
	deploy/cluster.sh stop $(CURDIR)/var/cluster

# Failure tests on such a cluster of their own (a temporary directory, stopped by PID at the
# end, also when a test fails): a vouchd node and the database primary killed under load.
integration-cluster: bins
	cd tests/cluster && VOUCH_BUILD=$(CURDIR)/$(BUILD) $(PYTEST) .

# The whole integration suite with every instance's keys in two SoftHSM2 tokens: what the
# software store run proves, proven again with the keys where production keeps them (part of
# check: 2 to 2.5 minutes on 2 cores, about as long as the software store run).
integration-hsm: bins
	cd tests/integration && VOUCH_TEST_KEYSTORE=pkcs11 VOUCH_BUILD=$(CURDIR)/$(BUILD) $(PYTEST) .

# The integration suite again, against vouchd and vouch built with ASan + UBSan:
# any sanitizer report (written to build-asan/sanitizer-logs) fails the run.
SANLOGS := $(CURDIR)/build-asan/sanitizer-logs
integration-asan:
	$(MAKE) SANITIZE=address,undefined bins
	rm -rf $(SANLOGS) && mkdir -p $(SANLOGS)
	cd tests/integration && ASAN_OPTIONS=detect_leaks=1:log_path=$(SANLOGS)/asan \
	    UBSAN_OPTIONS=print_stacktrace=1:log_path=$(SANLOGS)/ubsan \
	    VOUCH_BUILD=$(CURDIR)/build-asan $(PYTEST) .
	@if [ -n "$$(ls $(SANLOGS))" ]; then cat $(SANLOGS)/*; echo "sanitizer reports above"; exit 1; fi

# libFuzzer targets, built with clang; fuzz-smoke runs each briefly over its corpus.
FUZZ_SRC  := $(wildcard fuzz/fuzz_*.c)
# The ACME module without its server (which needs svc): JWS, JWK, validation.
ACME_PROTOCOL_SRC := $(filter-out src/acme/server%.c,$(acme_SRC))
FUZZ_SRCS_csr     := $(core_SRC) $(lib_SRC)
FUZZ_SRCS_profile := $(core_SRC) $(lib_SRC)
FUZZ_SRCS_acme_dns := $(ACME_PROTOCOL_SRC) $(lib_SRC)
FUZZ_SRCS_wire    := src/keys/wire.c $(lib_SRC)
FUZZ_SRCS_tbs     := src/keys/tbs.c
FUZZ_SRCS_ocsp    := $(core_SRC) $(lib_SRC)
FUZZ_SRCS_tsq     := $(core_SRC) $(lib_SRC)
FUZZ_SRCS_route   := $(foreach m,api http acme est scep svc core audit store keys lib,$($(m)_SRC)) \
	$(BUILD)/gen/console_assets.c
build-fuzz/fuzz_route: $(BUILD)/gen/console_assets.c
FUZZ_SRCS_bundle  := $(foreach m,svc core audit store keys lib,$($(m)_SRC))
FUZZ_SRCS_forwarded := src/http/http_forwarded.c $(lib_SRC)
FUZZ_SRCS_jws     := $(ACME_PROTOCOL_SRC) $(lib_SRC)
FUZZ_SRCS_est     := $(est_SRC) $(lib_SRC)
FUZZ_SRCS_scep    := $(scep_SRC) $(lib_SRC)
FUZZ_SRCS_scep_content := $(scep_SRC) $(lib_SRC)
FUZZ_SRCS_cmp     := $(core_SRC) $(lib_SRC)
FUZZ_BIN  := $(patsubst fuzz/%.c,build-fuzz/%,$(FUZZ_SRC))
build-fuzz/fuzz_%: fuzz/fuzz_%.c $(wildcard src/*/*.c src/*/*.h)
	@mkdir -p build-fuzz
	clang -g -O1 -fsanitize=fuzzer,address,undefined $(CPPFLAGS) -Wall -Wextra -Werror \
	    $(shell pkg-config --cflags $(PKGS)) -o $@ $< $(FUZZ_SRCS_$*) $(shell pkg-config --libs $(PKGS)) -lpthread
fuzz: $(FUZZ_BIN)
fuzz-bins: $(FUZZ_BIN)
FUZZ_SECONDS ?= 8
fuzz-smoke: $(FUZZ_BIN)
	@set -e; for f in $(FUZZ_BIN); do n=$${f#build-fuzz/fuzz_}; mkdir -p build-fuzz/corpus-$$n; \
	    echo "== $$f"; if ! $$f -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 build-fuzz/corpus-$$n \
	    fuzz/corpus/$$n > build-fuzz/$$n.log 2>&1; then tail -60 build-fuzz/$$n.log; exit 1; fi; \
	    tail -1 build-fuzz/$$n.log; done

# The long campaign (issue 22): every target FUZZ_LONG_RUNS executions (10 million by default)
# under ASan and UBSan (libFuzzer's build has both), FUZZ_JOBS targets at a time, each from its
# kept corpus; what grew is merged back into fuzz/corpus/<target> (libFuzzer's -merge keeps
# only inputs that add coverage), and each target's executions, coverage and time are
# appended to build-fuzz/fuzz-long.txt for docs/fuzzing.md.  Hours on 2 cores: not part of check.
FUZZ_LONG_RUNS ?= 10000000
FUZZ_JOBS ?= 2
fuzz-long: $(FUZZ_BIN)
	@rm -f build-fuzz/fuzz-long.txt; printf '%s\n' $(FUZZ_BIN) | xargs -P $(FUZZ_JOBS) -I{} sh -c \
	    'f={}; n=$${f#build-fuzz/fuzz_}; d=build-fuzz/long-$$n; mkdir -p $$d; \
	    start=$$(date +%s); \
	    if ! $$f -runs=$(FUZZ_LONG_RUNS) -rss_limit_mb=2048 -print_final_stats=1 $$d fuzz/corpus/$$n \
	        > build-fuzz/long-$$n.log 2>&1; then tail -80 build-fuzz/long-$$n.log; exit 255; fi; \
	    $$f -merge=1 fuzz/corpus/$$n $$d > /dev/null 2>&1; \
	    cov=$$(grep -o "cov: [0-9]*" build-fuzz/long-$$n.log | tail -1); \
	    execs=$$(sed -n "s/^stat::number_of_executed_units: *//p" build-fuzz/long-$$n.log); \
	    echo "$$n: $$execs executions, $$cov, $$(( $$(date +%s) - start )) s" \
	        | tee -a build-fuzz/fuzz-long.txt'

bench: bins $(BUILD)/bench/sign_rate $(BUILD)/bench/acme_load $(BUILD)/bench/est_load $(BUILD)/bench/cmp_load $(BUILD)/bench/scep_load
	./scripts/install-deps.sh --bench
	./bench/issue.sh
	./bench/ocsp.sh
	./bench/crl.sh
	./bench/tsa.sh
	./bench/hsm.sh
	./bench/acme.sh
	./bench/est.sh
	./bench/scep.sh
	./bench/cmp.sh
	./bench/cluster.sh

# The ACME benchmark alone (vouchd beside pebble; lego and bench/acme_load).
bench-acme: bins $(BUILD)/bench/acme_load
	./bench/acme.sh

# The signer's raw signing rate (bench/hsm.sh).
$(BUILD)/bench/sign_rate: bench/sign_rate.c $(call libs_of,keys lib)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(call libs_of,keys lib) $(LDLIBS)

# The ACME load generator (bench/acme.sh): libcurl, OpenSSL and jansson only.
$(BUILD)/bench/acme_load: bench/acme_load.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS)

# EST simpleenroll beside REST issuance (bench/est.sh) and its load generator.
bench-est: bins $(BUILD)/bench/est_load
	./bench/est.sh
$(BUILD)/bench/est_load: bench/est_load.c

# SCEP PKCSReq beside REST issuance (bench/scep.sh) and its load generator.
bench-scep: bins $(BUILD)/bench/scep_load
	./bench/scep.sh
$(BUILD)/bench/scep_load: bench/scep_load.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS)

# The CMP load generator (bench/cmp.sh): OpenSSL's CMP client in threads.
$(BUILD)/bench/cmp_load: bench/cmp_load.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')
format-check:
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
