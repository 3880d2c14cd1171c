export {
  type AdHocOptions,
  type AlertsConfig,
  type CanaryConfig,
  type Config,
  ConfigError,
  type ConfigProblem,
  checkEnvironment,
  configFromArgs,
  formatProblem,
  type HookConfig,
  isLoopback,
  type ListenAddress,
  loadConfig,
  parseConfig,
  parseListen,
  rootIgnore,
  type SourceConfig,
  type TargetConfig,
  targetSpec,
} from './load.js';
export { API_DEFAULTS, configSchema } from './schema.js';
export { type UntrustedLink, untrustedLinkProblem, untrustedTargetLink } from './symlinked-target.js';
