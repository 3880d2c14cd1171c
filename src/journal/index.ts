export {
  AUDIT_SAMPLE,
  type AuditRow,
  JOURNAL_FILE,
  Journal,
  JournalReader,
  type PendingRow,
  type TargetRow,
  type TransferRow,
} from './journal.js';
export { LOCK_FILE, lockStateDir, StateLockedError } from './lock.js';
export { prepareStateDir, SSH_DIR, StateDirError, stateDirProblem } from './state-dir.js';
export { catchUpText, type StorageTrouble, storageTrouble, storageTroubleMessage } from './trouble.js';
