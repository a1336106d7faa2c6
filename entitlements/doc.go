// Package entitlements keeps the live state of every tenant (SPEC §6) and
// answers "may this tenant do X now?".
//
// The state is a fold of the stored events — what the sink wrote to
// ClickHouse exactly once, so duplicates, conflicts and invalid events are
// already gone — applied in stream order, so every replica that folds the
// same stored prefix holds the same state and takes the same decisions
// (docs/adr/0002-live-tenant-state.md). A replica boots from the store
// (every subscription, seat, pack, flag, cap and enrolment event, and the
// AI credits summed between the cuts rating sums them between) and then
// follows what is stored after its position.
//
// Answers are computed by the rating package's own functions (the
// subscription timeline, seat counting, the AI allowance and the packs),
// so the live state agrees with what the monthly close bills. Reads wait
// for the read-your-writes barrier of SPEC §5 and then for the fold to
// reach the position the barrier settled.
package entitlements
