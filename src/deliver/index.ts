export { defaultRetry, postJson, type RetryPolicy, retryDelayMs, runCommand, Sink } from './deliver.js';
export {
  type AlertNote,
  alertText,
  alertTitle,
  dingtalkSign,
  feishuSign,
  SIGNED_FORMATS,
  serviceRefusal,
  WEBHOOK_FORMATS,
  type WebhookFormat,
  type WebhookRequest,
  webhookRequest,
} from './formats.js';
export {
  dotStuff,
  encodeHeader,
  formatMail,
  type Mail,
  readCaFile,
  type SmtpServer,
  sendMail,
} from './smtp.js';
