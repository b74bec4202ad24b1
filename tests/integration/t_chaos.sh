# The short chaos test: tests/soak/chaos.sh with an SFT run only, at least 5
# worker SIGKILLs and 1 migrd SIGKILL (while an apply is leased when one is
# caught, which the soak requires and this short run does not): the same
# final checkpoint as without faults, no task completed twice, no store
# object left over, no run stuck.
CHAOS_GRPO=0 CHAOS_WORKER_KILLS=5 CHAOS_MIGRD_KILLS=1 CHAOS_APPLY_KILLS=0 CHAOS_STEPS=80 CHAOS_SEED=3 \
    exec sh "$(dirname "$0")/../soak/chaos.sh"
