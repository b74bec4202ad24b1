# migr: build, test and demo.  See README.md.
#
#   make            build build/bin/{migr,migrd,migr-worker}
#   make test       unit + integration tests under ASan/UBSan, and the fuzz corpora replayed
#   make fuzz       every libFuzzer harness for FUZZ_SECONDS (tests/fuzz/)
#   make demo       run the main job on synthetic data
#   make bench      benchmarks in bench/
#   make deploy-test the Slurm recipe under a real single-host Slurm, the k8s
#                   manifests against the API schemas (each installs what it needs)

CC      ?= cc
# migrd links common/, spec/ and its own libraries only; the worker and the CLI
# add media/ and ml/, and with them FFmpeg and OpenBLAS (t_layering.sh checks).
MIGRD_PKGS := libzmq libprotobuf-c sqlite3 yaml-0.1 libmicrohttpd jansson libsodium \
              icu-i18n icu-uc
MODEL_PKGS := openblas libavformat libavcodec libswscale libswresample libavutil
PKGS    := $(MIGRD_PKGS) $(MODEL_PKGS)
DEPS_OK := build/.deps-ok

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wno-missing-field-initializers
CFLAGS_BASE = -std=c11 -D_GNU_SOURCE -g $(WARN) -Ibuild/gen -I. \
              $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS_BASE = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -lpthread
LDLIBS_MIGRD = $(shell pkg-config --libs $(MIGRD_PKGS) 2>/dev/null) -lm -lpthread

# Two flavours share one source tree: release (build/) and sanitized (build/san/).
OPT_release  := -O2
OPT_san      := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all

# The layer kernels' AVX2 clones fuse multiplies and adds (see ml/layers.c).
build/release/obj/ml/layers.o build/san/obj/ml/layers.o: CFLAGS_BASE += -ffp-contract=fast

PROTO_C   := build/gen/migr.pb-c.c
SCHEMA_C  := build/gen/schema.c
DASH_C    := build/gen/dashboard.c
DASH_SRC  := $(sort $(wildcard coordinator/dashboard/*.html coordinator/dashboard/*.js coordinator/dashboard/*.css))
# The library, one archive per folder: common/ (with the wire's generated
# code), spec/ (what migrd and the workers both need to agree on: run configs,
# synthetic plans, metrics, formats), media/ (FFmpeg) and ml/ (the model).
SRC_common:= $(wildcard common/*.c) $(PROTO_C)
SRC_spec  := $(wildcard spec/*.c)
SRC_media := $(wildcard media/*.c)
SRC_ml    := $(wildcard ml/*.c ml/rewards/*.c)
LIB_SRC   := $(SRC_common) $(SRC_spec) $(SRC_media) $(SRC_ml)
MIGRD_SRC := $(wildcard coordinator/*.c) $(SCHEMA_C) $(DASH_C)
WORKER_SRC:= $(wildcard worker/*.c)
CLI_SRC   := $(wildcard cli/*.c)
UNIT_SRC  := $(wildcard tests/unit/*.c)

obj = $(patsubst %.c,build/$(1)/obj/%.o,$(patsubst build/gen/%,gen/%,$(2)))
# Archives of flavour $(1) in link order (each after those that use it).
MIGRD_LIBS := spec common
ALL_LIBS   := ml media spec common
libs = $(patsubst %,build/$(1)/libmigr-%.a,$(2))

.PHONY: all deps test unit integration demo bench bench-quality clean san fuzz fuzz-replay deploy-test
all: build/bin/migr build/bin/migrd build/bin/migr-worker

deps: $(DEPS_OK)
$(DEPS_OK): deploy/install-deps.sh
	@sh deploy/install-deps.sh
	@mkdir -p build && touch $@
TEST_DEPS_OK := build/.test-deps-ok
$(TEST_DEPS_OK): deploy/install-deps.sh
	@sh deploy/install-deps.sh --test
	@mkdir -p build && touch $@

build/gen/migr.pb-c.c build/gen/migr.pb-c.h: proto/migr.proto | $(DEPS_OK)
	@mkdir -p build/gen
	protoc-c --proto_path=proto --c_out=build/gen proto/migr.proto

# The directories too: removing a file changes no remaining prerequisite.
$(SCHEMA_C): $(sort $(wildcard schema/*.sql)) schema/embed.sh schema
	@mkdir -p build/gen
	sh schema/embed.sh $(sort $(wildcard schema/*.sql)) > $@

$(DASH_C): $(DASH_SRC) coordinator/dashboard/embed.sh coordinator/dashboard
	@mkdir -p build/gen
	sh coordinator/dashboard/embed.sh $(DASH_SRC) > $@

# Object rules for both flavours.
define flavour
build/$(1)/obj/gen/%.o: build/gen/%.c | $(DEPS_OK)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS_BASE) $$(OPT_$(1)) -MMD -MP -c $$< -o $$@
build/$(1)/obj/%.o: %.c build/gen/migr.pb-c.h | $(DEPS_OK)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS_BASE) $$(OPT_$(1)) -MMD -MP -c $$< -o $$@
endef
$(eval $(call flavour,release))
$(eval $(call flavour,san))

define archive
build/$(1)/libmigr-$(2).a: $(call obj,$(1),$(SRC_$(2)))
	@rm -f $$@
	ar rcs $$@ $$^
endef
$(foreach f,release san,$(foreach a,$(ALL_LIBS),$(eval $(call archive,$(f),$(a)))))

BIN_release := build/bin
BIN_san     := build/san/bin
define binaries
$(BIN_$(1))/migrd: $(call obj,$(1),$(MIGRD_SRC)) $(call libs,$(1),$(MIGRD_LIBS))
	@mkdir -p $$(dir $$@)
	$$(CC) $$(OPT_$(1)) -o $$@ $$^ $$(LDLIBS_MIGRD)
$(BIN_$(1))/migr-worker: $(call obj,$(1),$(WORKER_SRC)) $(call libs,$(1),$(ALL_LIBS))
	@mkdir -p $$(dir $$@)
	$$(CC) $$(OPT_$(1)) -o $$@ $$^ $$(LDLIBS_BASE)
$(BIN_$(1))/migr: $(call obj,$(1),$(CLI_SRC)) $(call libs,$(1),$(ALL_LIBS))
	@mkdir -p $$(dir $$@)
	$$(CC) $$(OPT_$(1)) -o $$@ $$^ $$(LDLIBS_BASE)
endef
$(eval $(call binaries,release))
$(eval $(call binaries,san))

UNIT_LINK := $(UNIT_SRC) $(filter-out %/main.c,$(MIGRD_SRC) $(WORKER_SRC) $(CLI_SRC))
build/san/bin/unit-tests: $(call obj,san,$(UNIT_LINK)) $(call libs,san,$(ALL_LIBS))
	@mkdir -p $(dir $@)
	$(CC) $(OPT_san) -o $@ $^ $(LDLIBS_BASE)

build/san/bin/poke: $(call obj,san,tests/tools/poke.c) $(call libs,san,$(ALL_LIBS))
	@mkdir -p $(dir $@)
	$(CC) $(OPT_san) -o $@ $^ $(LDLIBS_BASE)

san: build/san/bin/migr build/san/bin/migrd build/san/bin/migr-worker build/san/bin/unit-tests \
     build/san/bin/poke

unit: build/san/bin/unit-tests
	ASAN_OPTIONS=detect_leaks=1 build/san/bin/unit-tests

integration: san $(TEST_DEPS_OK)
	MIGR_BIN=$(CURDIR)/build/san/bin sh tests/integration/run.sh

test: unit integration fuzz-replay

demo: all
	./build/bin/migr demo

bench: all
	sh bench/featurize.sh

deploy-test: all
	bash tests/slurm/run.sh
	sh tests/k8s/validate.sh

bench-quality: all
	sh bench/sft_quality.sh

clean:
	rm -rf build

include tests/fuzz/fuzz.mk
-include $(shell find build -name '*.d' 2>/dev/null)
