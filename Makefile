# credbroker build. Sources are found by wildcard so that adding a provider,
# database, test or fake is adding a file, never editing this Makefile.
PREFIX  ?= /usr/local
SAN     ?= 0
CC      ?= cc
PKGS    := libcurl openssl sqlite3 libpq jansson libmicrohttpd libmariadb

ifeq ($(SAN),1)
BUILD   ?= build/san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
OPT     := -O1
else
BUILD   ?= build
SANFLAGS :=
OPT     := -O2
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
INCLUDES := -Ibroker -Iproviders
CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-truncation \
           -fstack-protector-strong -D_FORTIFY_SOURCE=2 $(SANFLAGS) $(INCLUDES) $(PKG_CFLAGS) -MMD -MP
LDFLAGS += $(SANFLAGS)
LDLIBS  += $(PKG_LIBS) -largon2 -lsybdb -lpthread -lm

LIB_SRC  := $(filter-out broker/cli/main.c,$(wildcard broker/*.c broker/*/*.c)) \
            $(wildcard providers/secrets/*.c) $(wildcard providers/databases/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LIB      := $(BUILD)/libcredbroker.a
BIN      := $(BUILD)/credbroker

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRC := $(wildcard tests/tools/*.c)
TOOL_BIN := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tools/%)
FAKE_COMMON := $(wildcard tests/fakes/common/*.c)
FAKE_SRC := $(wildcard tests/fakes/*.c)
FAKE_BIN := $(FAKE_SRC:tests/fakes/%.c=$(BUILD)/fakes/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)

.SECONDARY:
.PHONY: all deps deps-check test check bench demo install deb fuzz fuzz-run lint clean
all: $(BIN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BIN): $(BUILD)/obj/broker/cli/main.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS) -lcmocka

$(BUILD)/tools/%: tests/tools/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS)

$(BUILD)/fakes/%: tests/fakes/%.c $(FAKE_COMMON) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/fakes/common -o $@ $< $(FAKE_COMMON) $(LIB) $(LDFLAGS) $(LDLIBS)

# Everything the suite runs.
check-build: $(BIN) $(UNIT_BIN) $(TOOL_BIN) $(FAKE_BIN)

deps:
	scripts/deps.sh

deps-check:
	@scripts/deps.sh --check || scripts/deps.sh

# `make test` is the one command CI runs: it installs what is missing first.
test: deps-check
	$(MAKE) check-build
	BUILD=$(BUILD) SAN=$(SAN) tests/run.sh

bench: deps-check
	$(MAKE) check-build
	BUILD=$(BUILD) tests/bench/run.sh

demo: deps-check
	$(MAKE) $(BIN)
	BUILD=$(BUILD) scripts/demo.sh

# install: the binary, systemd units, man page, completions, the example config and
# policies, and the operator scripts (not demo.sh, deps.sh, check-layers.sh). /etc files
# are only created when absent: an operator's config is never overwritten.
SYSCONFDIR ?= /etc
UNITDIR ?= $(PREFIX)/lib/systemd/system
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/site-functions
OPERATOR_SCRIPTS := lib.sh install-cron.sh emergency-rotate.sh rotate-encryption-key.sh verify-encryption-status.sh \
                    migrate-to-encrypted.sh assess-connection-security.sh start-encrypted.sh
PKG := scripts/packaging
install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/credbroker/policies/examples \
	  $(DESTDIR)$(PREFIX)/share/credbroker/scripts $(DESTDIR)$(UNITDIR) $(DESTDIR)$(PREFIX)/share/man/man1 \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions $(DESTDIR)$(ZSHCOMPDIR)
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/credbroker
	install -m 0644 policies/*.json $(DESTDIR)$(PREFIX)/share/credbroker/policies/
	install -m 0644 policies/examples/*.json $(DESTDIR)$(PREFIX)/share/credbroker/policies/examples/
	install -m 0644 $(PKG)/credbroker.json.example $(DESTDIR)$(PREFIX)/share/credbroker/credbroker.json.example
	install -m 0755 $(addprefix scripts/,$(OPERATOR_SCRIPTS)) $(DESTDIR)$(PREFIX)/share/credbroker/scripts/
	for u in credbroker.service credbroker-rotate.service; do \
	  sed 's|@BINDIR@|$(PREFIX)/bin|g' $(PKG)/$$u.in >$(DESTDIR)$(UNITDIR)/$$u && chmod 0644 $(DESTDIR)$(UNITDIR)/$$u; done
	install -m 0644 $(PKG)/credbroker-rotate.timer $(DESTDIR)$(UNITDIR)/
	install -m 0644 $(PKG)/credbroker.1 $(DESTDIR)$(PREFIX)/share/man/man1/credbroker.1
	install -m 0644 $(PKG)/credbroker.bash-completion $(DESTDIR)$(PREFIX)/share/bash-completion/completions/credbroker
	install -m 0644 $(PKG)/_credbroker $(DESTDIR)$(ZSHCOMPDIR)/_credbroker
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/credbroker/policies
	[ -e $(DESTDIR)$(SYSCONFDIR)/credbroker/credbroker.json ] || \
	  install -m 0644 $(PKG)/credbroker.json.example $(DESTDIR)$(SYSCONFDIR)/credbroker/credbroker.json
	for f in policies/*.json; do [ -e $(DESTDIR)$(SYSCONFDIR)/credbroker/$$f ] || \
	  install -m 0644 $$f $(DESTDIR)$(SYSCONFDIR)/credbroker/$$f; done

# A Debian package (debian/, debhelper): build/credbroker_VERSION_ARCH.deb (nothing is
# written outside the tree: dh_builddeb --destdir, the .buildinfo/.changes go to build/ too).
deb:
	@mkdir -p build
	DEB_BUILD_OPTIONS=noddebs dpkg-buildpackage -b -us -uc \
	  --buildinfo-option=-ubuild --buildinfo-option=-Obuild/credbroker.buildinfo \
	  --changes-option=-ubuild --changes-option=-Obuild/credbroker.changes
	@ls build/credbroker_*.deb

# libFuzzer targets: the library is rebuilt with clang and coverage.
FUZZ_BUILD := build/fuzz
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer-no-link,address,undefined $(INCLUDES) $(PKG_CFLAGS)
FUZZ_OBJ := $(LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)
$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_FLAGS) -c $< -o $@
$(FUZZ_BUILD)/%: tests/fuzz/%.c $(FUZZ_OBJ)
	@mkdir -p $(dir $@)
	clang $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJ) $(LDLIBS)
fuzz: $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
fuzz-run: fuzz
	tests/fuzz/run.sh $(FUZZ_BUILD) $${FUZZ_SECONDS:-30}

lint:
	scripts/check-layers.sh
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr \
	  --suppress=missingIncludeSystem $(INCLUDES) broker providers
	shellcheck -x scripts/*.sh tests/*.sh tests/lib/*.sh tests/integration/*.sh

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
