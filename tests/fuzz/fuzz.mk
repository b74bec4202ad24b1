# tests/fuzz/fuzz.mk -- libFuzzer harnesses for every parser of outside input
# (included by the top Makefile).
#
#   make fuzz [FUZZ_SECONDS=60]   each harness for FUZZ_SECONDS in turn, on a
#                                 scratch copy of its corpus; non-zero if any
#                                 finds a crash, leak, UB, timeout or OOM (the
#                                 input is left in build/fuzz/crashes/)
#   make fuzz-replay              each harness over its committed corpus once
#                                 (seconds; for CI)
#   make fuzz-build               only build build/fuzz/bin/fuzz_*
#   FUZZ_NAMES="cron csv"         any of them on some harnesses only
#
# One harness per parser, tests/fuzz/fuzz_NAME.c, its seeds in
# tests/fuzz/corpus/NAME/.  The project's library sources (and the
# coordinator objects a harness needs) are built again with clang and
# -fsanitize=fuzzer-no-link,address,undefined into build/fuzz/obj/; the
# harnesses link with -fsanitize=fuzzer.  Needs clang with libFuzzer
# (Debian's clang-14 has it).

FUZZ_ALL     := wire csv annotations runconfig synth_yaml cron ckpt features http
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_NAMES   ?= $(FUZZ_ALL)

FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS   = $(CFLAGS_BASE) -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link $(FUZZ_SAN)
FUZZ_LDFLAGS := -fsanitize=fuzzer $(FUZZ_SAN)

# Coordinator objects beyond LIB_SRC, per harness (http.c and migrd's request
# handler reach all of migrd but its main).
FUZZ_COORD        := $(filter-out coordinator/main.c,$(MIGRD_SRC))
FUZZ_EXTRA_cron   := coordinator/cron.c
FUZZ_EXTRA_http   := $(FUZZ_COORD)
FUZZ_EXTRA_annotations := $(FUZZ_COORD)

FUZZ_BINS := $(patsubst %,build/fuzz/bin/fuzz_%,$(FUZZ_NAMES))

build/fuzz/obj/gen/%.o: build/gen/%.c | $(DEPS_OK) $(TEST_DEPS_OK)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@
build/fuzz/obj/%.o: %.c build/gen/migr.pb-c.h | $(DEPS_OK) $(TEST_DEPS_OK)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@
build/fuzz/obj/ml/layers.o: CFLAGS_BASE += -ffp-contract=fast

build/fuzz/libmigr.a: $(call obj,fuzz,$(LIB_SRC))
	@rm -f $@
	ar rcs $@ $^

define fuzz_harness
build/fuzz/bin/fuzz_$(1): build/fuzz/obj/tests/fuzz/fuzz_$(1).o $(call obj,fuzz,$(FUZZ_EXTRA_$(1))) \
                          build/fuzz/libmigr.a
	@mkdir -p $$(dir $$@)
	$$(FUZZ_CC) $$(FUZZ_LDFLAGS) -o $$@ $$^ $$(LDLIBS_BASE)
endef
$(foreach n,$(FUZZ_ALL),$(eval $(call fuzz_harness,$(n))))

.PHONY: fuzz fuzz-replay fuzz-build
fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	@sh tests/fuzz/run.sh fuzz $(FUZZ_SECONDS) $(FUZZ_NAMES)

fuzz-replay: fuzz-build
	@sh tests/fuzz/run.sh replay 0 $(FUZZ_NAMES)
