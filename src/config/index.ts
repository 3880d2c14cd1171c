export {
  type AdHocOptions,
  type Config,
  ConfigError,
  type ConfigProblem,
  checkEnvironment,
  configFromArgs,
  formatProblem,
  loadConfig,
  parseConfig,
  type SourceConfig,
  type TargetConfig,
  targetSpec,
} from './load.js';
export { configSchema } from './schema.js';
