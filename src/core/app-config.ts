/**
 * A DingTalk app's callback settings (the `dingtalk-app` config node) turned into a ready cipher,
 * or into the reason it cannot be used. Pure: the config node only passes its fields in.
 */
import { aesKeyProblem, DingTalkCipher, SUITE_PLACEHOLDER_RECEIVE_ID, tokenProblem } from './cipher';

export type CallbackStyle = 'event-subscription' | 'register-call-back' | 'isv';
export const CALLBACK_STYLES: readonly CallbackStyle[] = ['event-subscription', 'register-call-back', 'isv'];

export interface AppSettings {
  appKey?: string;
  corpId?: string;
  callbackStyle?: string;
  token?: string;
  aesKey?: string;
}

/** A message key (under `dingtalk-app.`) and its parameters, translated by the caller. */
export interface Problem {
  key: string;
  params?: Record<string, string>;
}

export interface CallbackCrypto {
  cipher: DingTalkCipher;
  /** Receive ids a push may carry: the configured one, plus the ISV placeholder for suite URL checks. */
  acceptedIds: readonly string[];
}

export function normaliseStyle(style: unknown): CallbackStyle {
  return CALLBACK_STYLES.includes(style as CallbackStyle) ? (style as CallbackStyle) : 'event-subscription';
}

/** protocol §4: appKey (console push), corpId (legacy register_call_back), suiteKey kept in appKey (ISV). */
export function receiveIdFor(settings: AppSettings): { receiveId: string; field: 'appKey' | 'corpId' } {
  const style = normaliseStyle(settings.callbackStyle);
  if (style === 'register-call-back') return { receiveId: (settings.corpId ?? '').trim(), field: 'corpId' };
  return { receiveId: (settings.appKey ?? '').trim(), field: 'appKey' };
}

export function callbackCryptoFor(settings: AppSettings): { ok: true; value: CallbackCrypto } | { ok: false; problem: Problem } {
  if (!settings.token) return { ok: false, problem: { key: 'errors.no-token' } };
  const tokenIssue = tokenProblem(settings.token);
  if (tokenIssue) return { ok: false, problem: { key: 'errors.bad-token', params: { reason: tokenIssue } } };
  if (!settings.aesKey) return { ok: false, problem: { key: 'errors.no-aes-key' } };
  const keyIssue = aesKeyProblem(settings.aesKey);
  if (keyIssue) return { ok: false, problem: { key: 'errors.bad-aes-key', params: { reason: keyIssue } } };

  const { receiveId, field } = receiveIdFor(settings);
  const isv = normaliseStyle(settings.callbackStyle) === 'isv';
  // An ISV suite that has no key yet still has to pass DingTalk's check_create_suite_url.
  if (!receiveId && !isv) return { ok: false, problem: { key: 'errors.no-receive-id', params: { field } } };
  const acceptedIds = isv ? [receiveId, SUITE_PLACEHOLDER_RECEIVE_ID].filter((id) => id.length > 0) : [receiveId];
  const cipher = new DingTalkCipher({ token: settings.token, aesKey: settings.aesKey, receiveId: acceptedIds[0] });
  return { ok: true, value: { cipher, acceptedIds } };
}
