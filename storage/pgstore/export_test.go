package pgstore

// RollupLockID is the rollup job's advisory lock, for the tests.
const RollupLockID = rollupLockID
