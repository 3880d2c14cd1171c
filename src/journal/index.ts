export { JOURNAL_FILE, Journal, type PendingRow, type TargetRow, type TransferRow } from './journal.js';
export { LOCK_FILE, lockStateDir, StateLockedError } from './lock.js';
