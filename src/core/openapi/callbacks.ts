/**
 * The old callback management API (protocol §12.2), for apps using the register_call_back style, and
 * the failed-events list (§9.3). Reading the failed list deletes the batch read by the previous call,
 * so each page is handed to `onPage` and awaited (the caller stores it) before the next is asked for.
 */
import { OpenApiError, type OpenApiClient } from './client';

export type CallbackAction = 'get' | 'register' | 'update' | 'delete' | 'failed';
export const CALLBACK_ACTIONS: readonly CallbackAction[] = ['get', 'register', 'update', 'delete', 'failed'];

export interface Registration {
  url: string;
  tags: string[];
  token: string;
  aesKey: string;
}

type Json = Record<string, unknown>;

/** The registration as DingTalk reports it, without the secrets it echoes back. */
export async function getCallback(client: OpenApiClient): Promise<Json> {
  const result = await client.call({ family: 'oapi', method: 'GET', path: '/call_back/get_call_back' });
  const { token: _token, aes_key: _aesKey, ...rest } = result;
  return rest;
}

export function registerCallback(client: OpenApiClient, r: Registration, update = false): Promise<Json> {
  return client.call({
    family: 'oapi',
    method: 'POST',
    path: update ? '/call_back/update_call_back' : '/call_back/register_call_back',
    body: { call_back_tag: r.tags, token: r.token, aes_key: r.aesKey, url: r.url },
  });
}

export function deleteCallback(client: OpenApiClient): Promise<Json> {
  return client.call({ family: 'oapi', method: 'GET', path: '/call_back/delete_call_back' });
}

/**
 * Reads every page of the failed-events list. `onPage` must make the page durable before it resolves;
 * only then is the next page requested (which makes DingTalk delete this one). Returns the page count.
 */
export async function readFailedEvents(client: OpenApiClient, onPage: (entries: Json[]) => Promise<void>, maxPages = 1000): Promise<number> {
  let pages = 0;
  for (;;) {
    const result = await client.call({ family: 'oapi', method: 'GET', path: '/call_back/get_call_back_failed_result' });
    const list = Array.isArray(result.failed_list) ? (result.failed_list as unknown[]) : [];
    const entries = list.filter((e): e is Json => e !== null && typeof e === 'object' && !Array.isArray(e));
    pages += 1;
    await onPage(entries);
    if (result.has_more !== true || entries.length === 0) return pages;
    if (pages >= maxPages) throw new OpenApiError('too-many-pages', `stopped after ${maxPages} pages of failed events`);
  }
}
