export { type ScheduledJob, Scheduler } from './scheduler.js';
